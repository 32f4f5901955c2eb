"""Dynamic bans (contract 4): what fail2ban's fsguard action calls.

The kernel side is the configured backend's (:mod:`fsguard.firewall.registry`): nftables sets
``ban4``/``ban6`` (plus ``ban6net`` for escalated /64s) in table ``inet fsguard``, ipsets
``fsguard-ban4``/``fsguard-ban6``/``fsguard-ban6net``, or the dry-run backend's record. The ban
sets are plain hash sets (no interval flag) and the big feed data never sits in a large interval
set (see ARCHITECTURE.md "Perimeter"), so one ban stays a few milliseconds even with 200k feed
entries loaded (nftables goes over netlink, :mod:`fsguard.firewall.nftnl`).

If fsguard's ruleset is not loaded yet, the ban sets are created on their own (idempotently) so a
ban is never lost; ``fsguard firewall apply`` keeps the ban sets' contents when it reloads.

A ban also deletes the address's conntrack entries (in the background, see below), so no stale
flow state of a scanner survives it (NAT mappings, other tables' "established" accepts).
"""

from __future__ import annotations

import ipaddress
import subprocess
import threading
from typing import TYPE_CHECKING

from fsguard.firewall import FirewallError, netns_prefix, registry

if TYPE_CHECKING:
    from fs_python.config import Config

MAX_SECONDS = 10 * 365 * 86400


def parse_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """One host address; IPv4-mapped IPv6 becomes IPv4. Raises FirewallError on anything else."""
    try:
        addr = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        raise FirewallError(f"not an IP address: {str(ip)[:60]!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified or addr.is_loopback or addr.is_multicast:
        raise FirewallError(f"refusing to ban {addr}: unspecified, loopback or multicast address")
    return addr


def kernel_seconds(cfg: Config, seconds: int | None) -> int | None:
    """Kernel lifetime of a ban: ``seconds`` plus ``[firewall] ban_grace`` (30 s). fail2ban stays
    the authority and lifts the ban with del_ban on its own unban cycle, which can run seconds
    after the nominal end; without the grace the kernel would let an address through while
    fail2ban still counts it as banned ("already banned": no new ban for new failures)."""
    if seconds is None or seconds <= 0:
        return None  # permanent
    from fsguard import settings

    grace = max(0, settings.FIREWALL_BAN_GRACE.get(cfg))
    return min(int(seconds) + grace, MAX_SECONDS)


# -- conntrack -----------------------------------------------------------------------------------
# Deleting an address's conntrack entries means a kernel dump that walks the whole (global)
# conntrack hash table: ~12 ms whatever the table holds (measured with conntrack-tools 1.4.7).
# The ban itself does not depend on it -- fsguard's drop rules match every packet from a banned
# source, tracked or not, and run before any "established" accept -- so the deletion runs as a
# child process in the background and a ban is in force in ~2 ms. ``wait_conntrack()`` waits for
# the pending deletions (tests; a caller that needs the table clean right now).
_pending: list[subprocess.Popen[bytes]] = []
_pending_lock = threading.Lock()


def _conntrack_delete(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, netns: str | None) -> None:
    fam = "ipv4" if addr.version == 4 else "ipv6"
    try:
        proc = subprocess.Popen(netns_prefix(netns) + ["conntrack", "-D", "-f", fam, "-s", str(addr)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return  # conntrack tool missing: the ban still holds for every packet
    with _pending_lock:
        _pending[:] = [p for p in _pending if p.poll() is None]
        _pending.append(proc)
    # reap it from a thread so a long-lived caller (fail2ban-server) collects no zombies
    threading.Thread(target=proc.wait, name="fsguard-conntrack", daemon=True).start()


def wait_conntrack(timeout: float = 10.0) -> None:
    """Wait until the background conntrack deletions started by add_ban have finished."""
    with _pending_lock:
        procs = list(_pending)
        _pending.clear()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()


# -- the contract --------------------------------------------------------------------------------
def add_ban(cfg: Config, ip: str, seconds: int | None, *, netns: str | None = None, conntrack: bool = True) -> None:
    """Ban ``ip`` for ``seconds`` (None or <= 0: until removed) and drop its conntrack entries
    (``conntrack=False``: the caller does that later with :func:`drop_conntrack`)."""
    addr = parse_ip(ip)
    backend = registry.get(cfg)
    backend.ban(addr, kernel_seconds(cfg, seconds), netns)
    if backend.kernel and conntrack:
        _conntrack_delete(addr, netns)


def drop_conntrack(cfg: Config, ip: str, *, netns: str | None = None) -> None:
    """Delete ``ip``'s conntrack entries: what add_ban does after the kernel add, for a caller that
    applies a burst of bans (the cluster listener) and puts every kernel add first."""
    if registry.get(cfg).kernel:
        _conntrack_delete(parse_ip(ip), netns)


def del_ban(cfg: Config, ip: str, *, netns: str | None = None) -> None:
    """Lift a ban; lifting one that is not there is not an error."""
    registry.get(cfg).unban(parse_ip(ip), netns)


def is_banned(cfg: Config, ip: str, *, netns: str | None = None) -> bool:
    return registry.get(cfg).is_banned(parse_ip(ip), netns)
