"""Keep the ignore list of fsguard's running jails equal to the wanted one (``fsguard service``).

The wanted list is the base list (``[fail2ban] ignoreip``), every registered address whose
registration has not expired (from the monitor's snapshot; while FreeSWITCH is down the last
snapshot stays in force until each entry's own expiry), and the admin whitelist/carriers from
``whitelist.json``. Differences go to the running server with ``set <jail> addignoreip/delignoreip``
(fail2ban's ignoreip is a hash set: ~1 µs per failure, no fork as an ``ignorecommand`` would).
Addresses that became whitelisted while banned are unbanned. The list is also written to
``jail.d/fsguard.whitelist.local`` so a restarted fail2ban starts with it.

Comparison happens in fail2ban's own representation (``fail2ban.server.ipdns.IPAddr.ntoa``): a
single address prints bare, a network as ``net/plen``, but a ``/0`` network prints without its
prefix (``0.0.0.0/0`` is reported as ``0.0.0.0``) and must be deleted as ``0.0.0.0/0``, since
``delignoreip 0.0.0.0`` means the single address and fails with ``list.remove(x): x not in list``.
fail2ban 1.0.2's ``delignoreip`` reads only its first argument: one command per address. Every
address and every jail is tried on its own: one refusal never stops the others (it is reported).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs_python import eventline, whitelist
from fsguard import safefs
from fsguard.cluster import hooks as cluster_hooks
from fsguard.f2b.client import Client, Fail2banError

if TYPE_CHECKING:
    from fs_python.config import Config

log = logging.getLogger("fsguard.service")


@dataclass
class SyncResult:
    added: int = 0
    removed: int = 0
    unbanned: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _load_json(path: Path) -> Any:
    try:
        return whitelist.read_json(path)  # no symlink followed, size-capped
    except FileNotFoundError:
        return {}


def canon(text: object) -> str | None:
    """fsguard's canonical spelling: a bare address for one host, ``net/plen`` otherwise."""
    try:
        net = ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        return None
    if net.num_addresses == 1:
        return str(net.network_address)
    return str(net)


def f2b_repr(entry: str) -> str:
    """How fail2ban reports ``entry`` (canonical) in ``get <jail> ignoreip``: ``/0`` loses its
    prefix, and an IPv4-mapped IPv6 address is reported as the IPv4 address."""
    if entry.endswith("/0"):
        return entry[:-2]
    if ":" in entry and "/" not in entry:
        try:
            mapped = ipaddress.IPv6Address(entry).ipv4_mapped
        except ValueError:
            return entry
        if mapped is not None:
            return str(mapped)
    return entry


def delete_candidates(reported: str) -> list[str]:
    """What to send to ``delignoreip`` for an entry fail2ban reported as ``reported``."""
    if reported in ("0.0.0.0", "::"):
        return [reported + "/0", reported]  # the /0 network is by far the likelier one
    return [reported]


class IgnoreSync:
    def __init__(self, cfg: Config, client: Client, jails: list[str] | tuple[str, ...], base: set[str],
                 jail_dir: Path | None) -> None:
        self.cfg = cfg
        self.client = client
        self.jails = list(jails)
        self.base = base
        self.jail_dir = jail_dir
        self._regs: list[dict[str, Any]] = []
        self._nets: set[str] = set()
        self._written: frozenset[str] | None = None
        # registered addresses whose registration shield is suspended (fsguard.shield): not ignored
        self.exclude: Callable[[float], set[str]] | None = None

    @property
    def registrations(self) -> list[dict[str, Any]]:
        """The registrations snapshot rows read by the last :meth:`wanted` (the last good ones)."""
        return self._regs

    def wanted(self, now: float) -> set[str]:
        state = self.cfg.state_dir
        try:  # a malformed snapshot keeps the last good one in force (whitelists win)
            # FreeSWITCH's file (untrusted): no symlink, size cap; each row's address validated below
            data = _load_json(self.cfg.fs_dir / whitelist.REGISTRATIONS_FILE)
            rows = data.get("registrations", []) if isinstance(data, dict) else []
            self._regs = [r for r in rows if isinstance(r, dict)]
        except (OSError, ValueError) as exc:
            log.warning("registrations snapshot unreadable, keeping the last one: %s", exc)
        try:
            data = _load_json(state / "whitelist.json")
            rows = data.get("entries", []) if isinstance(data, dict) else []
            self._nets = {c for c in (canon(r.get("cidr")) for r in rows if isinstance(r, dict)) if c}
            broad = {c for c in self._nets
                     if "/" in c and int(c.rsplit("/", 1)[1]) < whitelist.FLOOR[6 if ":" in c else 4]}
            if broad:  # re-validated like fresh input: 0.0.0.0/0 in the file never unbans everyone
                log.warning("whitelist snapshot: refused %s (broader than the allow floor)", ", ".join(sorted(broad)))
                self._nets -= broad
        except (OSError, ValueError) as exc:
            log.warning("whitelist snapshot unreadable, keeping the last one: %s", exc)
        want = set(self.base) | self._nets | cluster_hooks.service_ignore(self.cfg, now)  # cluster
        excluded = self.exclude(now) if self.exclude is not None else set()
        for reg in self._regs:
            try:
                expires = float(reg.get("expires", 0))
            except (TypeError, ValueError):
                continue
            ip = eventline.normalize_ip(reg.get("ip"))
            if ip and expires > now and ip not in excluded:
                want.add(ip)
        return want

    def sync(self, now: float) -> SyncResult:
        res = SyncResult()
        want = self.wanted(now)
        try:
            self._write_whitelist_file(want)
        except OSError as exc:
            res.errors.append(f"ignore sync: cannot write fsguard.whitelist.local: {exc}")
        running = set(self.client.jails())  # unreachable server: raised, the caller reports it
        for jail in self.jails:
            if jail in running:
                try:
                    self._sync_jail(jail, want, res)
                except Fail2banError as exc:
                    res.errors.append(f"ignore sync {jail}: {exc}")
        return res

    def _sync_jail(self, jail: str, want: set[str], res: SyncResult) -> None:
        # read back every tick: a restarted fail2ban has lost what was added at runtime
        reported = self.client.ignore_list(jail)
        have = set(reported)
        wanted_repr = {f2b_repr(w): w for w in want}
        add = sorted(w for r, w in wanted_repr.items() if r not in have)
        # only addresses/networks are ours to remove: a host name on the list is left alone
        drop = sorted(r for r in have if r not in wanted_repr and canon(r) is not None)
        if add:
            try:
                self.client.add_ignore(jail, add)
                res.added += len(add)
            except Fail2banError:
                for ip in add:  # one bad entry must not keep the others out
                    try:
                        self.client.add_ignore(jail, [ip])
                        res.added += 1
                    except Fail2banError as exc:
                        res.errors.append(f"ignore sync {jail}: addignoreip {ip}: {exc}")
        for entry in drop:
            if self._delete(jail, entry, res):
                res.removed += 1
        # whitelisted while banned: lift the ban (fail2ban calls fsguard's action -> kernel set)
        nets = [ipaddress.ip_network(w) for w in want if "/" in w]
        for ip in self.client.banned(jail):
            c = canon(ip)
            if c is None or "/" in c:
                continue
            addr = ipaddress.ip_address(c)
            if c in want or any(addr.version == n.version and addr in n for n in nets):
                try:
                    if self.client.unban(jail, c):
                        res.unbanned.append(c)
                except Fail2banError as exc:
                    res.errors.append(f"ignore sync {jail}: unban {c}: {exc}")

    def _delete(self, jail: str, reported: str, res: SyncResult) -> bool:
        # fail2ban raises when the spelling is not the one it holds: try the next candidate
        last: Exception | None = None
        for cand in delete_candidates(reported):
            try:
                self.client.del_ignore(jail, [cand])
                return True
            except Fail2banError as exc:
                last = exc
        res.errors.append(f"ignore sync {jail}: delignoreip {reported}: {last}")
        return False

    def _write_whitelist_file(self, want: set[str]) -> None:
        if self.jail_dir is None or not self.jail_dir.is_dir():
            return
        key = frozenset(want)
        if key == self._written:
            return
        entries = " ".join(sorted(want))
        text = "# Written by `fsguard service`: fsguard's jails' ignore list at the last sync.\n"
        for jail in self.jails:
            text += f"\n[{jail}]\nignoreip = {entries}\n"
        safefs.write_text(self.jail_dir / "fsguard.whitelist.local", text, 0o644)
        self._written = key
