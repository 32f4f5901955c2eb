"""The one firewall backend interface: rulesets *and* dynamic elements (bans, registered accepts).

Shape of the CrowdSec firewall bouncer's backends: ``init`` preflight, ``commit`` of a whole
ruleset, ``add``/``delete`` of single elements, plus ``verify``, ``remove`` and ``counters``.
Every backend is one class in its own module (``nft.NftBackend``, ``ipt.IptBackend``,
``dryrun.DryRunBackend``), chosen by name in :mod:`fsguard.firewall.registry` only.

Dynamic sets live beside the ruleset and survive every reload (a commit never empties them):

* ``ban4`` / ``ban6``: fail2ban's bans, one address each (a hash set, never an interval set:
  see ``bans.py`` for why);
* ``ban6net``: escalated IPv6 bans, one /64 each;
* ``reg4`` / ``reg6``: addresses with a live registration, accepted ahead of the feed and
  country drops (kept current by ``fsguard service``, see :mod:`fsguard.firewall.accept`).

An element is an address or a network (``ban6net`` only). ``seconds`` None = no timeout.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard.firewall import FirewallError

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.firewall.ruleset import Ruleset

Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
Element = ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv6Network

# logical dynamic set -> (family, holds networks)
DYNAMIC_SETS: dict[str, tuple[int, bool]] = {
    "ban4": (4, False), "ban6": (6, False), "ban6net": (6, True), "reg4": (4, False), "reg6": (6, False),
}
BAN_PREFIX6 = 64  # the prefix an IPv6 ban escalates to (ban6net's keys)


def ban_set(elem: Element) -> str:
    if isinstance(elem, ipaddress.IPv6Network):
        return "ban6net"
    return f"ban{elem.version}"


def reg_set(addr: Addr) -> str:
    return f"reg{addr.version}"


class Backend:
    """Base class: subclasses implement the kernel side; the names are the registry's."""

    name = "base"
    tools: tuple[str, ...] = ()
    kernel = True  # False: touches no kernel (no conntrack cleanup, no rollback, nothing to verify)

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    # -- the ruleset -----------------------------------------------------------------------------
    def init(self, netns: str | None) -> None:
        missing = [t for t in self.tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
        if missing:
            raise FirewallError(f"{self.name} backend: missing {', '.join(missing)}")

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        raise NotImplementedError

    def render(self, rs: Ruleset) -> str:
        """What ``commit`` would load, as text for a person (``fsguard firewall render``)."""
        raise NotImplementedError

    def verify(self, netns: str | None) -> bool:
        return True

    def remove(self, netns: str | None) -> bool:
        raise NotImplementedError

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return []

    # -- dynamic elements ------------------------------------------------------------------------
    def add(self, set_name: str, elem: Element, seconds: int | None, netns: str | None,
            *, create: bool = True) -> bool:
        """Add or refresh ``elem`` (a present element gets the new timeout). ``create``: make the
        dynamic sets when missing (a ban is never lost); otherwise return False when they are."""
        raise NotImplementedError

    def delete(self, set_name: str, elem: Element, netns: str | None) -> None:
        """Remove ``elem``; absent (or no such set) is not an error."""
        raise NotImplementedError

    def test(self, set_name: str, elem: Element, netns: str | None) -> bool:
        raise NotImplementedError

    def elements(self, set_name: str, netns: str | None) -> dict[str, int | None] | None:
        """Element text -> seconds left (None: no timeout); None when the set does not exist."""
        raise NotImplementedError

    # -- convenience: fail2ban's bans (what ``bans.add_ban`` & co. call) --------------------------
    def ban(self, elem: Element, seconds: int | None, netns: str | None) -> None:
        self.add(ban_set(elem), elem, seconds, netns)

    def unban(self, elem: Element, netns: str | None) -> None:
        self.delete(ban_set(elem), elem, netns)

    def is_banned(self, elem: Element, netns: str | None) -> bool:
        return self.test(ban_set(elem), elem, netns)


def write_state(path: Path, text: str) -> None:
    """Write a rendered file atomically (for the operator to read; never loaded back)."""
    from fsguard import safefs

    safefs.write_text(path, text, 0o644, create_dirs=True)
