"""Registered customers are accepted ahead of feed and country drops (issue 11).

The kernel sets ``reg4``/``reg6`` (see :mod:`fsguard.firewall.backend`) hold every address with a
live registration; the ruleset accepts them after the fail2ban bans, the whitelist and the admin
blacklist (an explicit deny entry still wins) and before the feeds and the country filter.

``fsguard service`` calls :meth:`AcceptSync.sync` every tick (5 s) with the rows of the monitor's
``registrations.json`` it has just read: a diff against what the kernel holds, element adds and
deletes only (netlink / ``ipset``), never a ruleset reload. Each element carries a kernel timeout
of the registration's expiry as the snapshot gives it (FreeSWITCH's expiry plus the monitor's own
grace), so an expired registration leaves the set on its own even when the service is down; an
address whose registration disappeared (unregister) is deleted once it has been gone for
``[firewall] registration_grace`` (default 60 s). The sets
exist only while fsguard's ruleset is loaded: before the first ``fsguard firewall apply`` the sync
does nothing (and creates nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fs_python.whitelist import parse_ip
from fsguard.firewall import registry
from fsguard.firewall.backend import Addr, reg_set

if TYPE_CHECKING:
    from fs_python.config import Config

REFRESH = 30  # a kernel timeout this much shorter than wanted is refreshed (re-registration)
RECHECK = 30  # while nothing changes, the kernel is read back this often (a re-apply, a remove)


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refreshed: int = 0
    loaded: bool = False  # False: no accept sets in the kernel (ruleset not applied)
    skipped: bool = False  # nothing changed since the last read-back: the kernel was not asked


def grace(cfg: Config) -> int:
    from fsguard import settings

    return max(0, settings.FIREWALL_REGISTRATION_GRACE.get(cfg))


def wanted(rows: Iterable[Mapping[str, object]], now: float) -> dict[Addr, float]:
    """Address -> until (latest snapshot expiry) of every registration still live at ``now``."""
    out: dict[Addr, float] = {}
    for row in rows:
        try:
            addr = parse_ip(str(row.get("ip", "")))
            until = float(row.get("expires", 0) or 0)  # type: ignore[arg-type]
        except (ValueError, TypeError, OverflowError):
            continue
        if until > now and until > out.get(addr, 0):
            out[addr] = until
    return out


class AcceptSync:
    """Keeps the kernel accept sets equal to the live registrations; one per service."""

    def __init__(self, cfg: Config, *, netns: str | None = None) -> None:
        self.cfg = cfg
        self.netns = netns
        self._gone: dict[str, float] = {}  # in the kernel, no longer registered: since when
        self._last: tuple[dict[Addr, float], float, bool] | None = None  # (wanted, read at, loaded)

    def sync(self, rows: Iterable[Mapping[str, object]], now: float) -> SyncResult:
        res = SyncResult()
        from fsguard import settings

        if not settings.FIREWALL_REGISTERED_ACCEPT.get(self.cfg):
            return res
        backend = registry.get(self.cfg)
        g = grace(self.cfg)
        want = wanted(rows, now)
        if self._last is not None and not self._gone and want == self._last[0] and (
                0 <= now - self._last[1] < RECHECK):
            # the steady state costs no process per tick (the service's slowest tick stays short)
            res.skipped, res.loaded = True, self._last[2]
            return res
        for fam in (4, 6):
            name = f"reg{fam}"
            have = backend.elements(name, self.netns)
            if have is None:
                continue
            res.loaded = True
            mine = {str(a): (a, until) for a, until in want.items() if a.version == fam}
            for text, (addr, until) in mine.items():
                self._gone.pop(text, None)
                left = int(until - now) + 1
                if text not in have:
                    if backend.add(reg_set(addr), addr, left, self.netns, create=False):
                        res.added.append(text)
                elif have[text] is not None and left - (have[text] or 0) > REFRESH:
                    backend.add(reg_set(addr), addr, left, self.netns, create=False)
                    res.refreshed += 1
            for text in set(have) - set(mine):
                since = self._gone.setdefault(text, now)
                if now >= since + g:
                    backend.delete(name, parse_ip(text), self.netns)
                    self._gone.pop(text, None)
                    res.removed.append(text)
        self._last = (want, now, res.loaded)
        return res
