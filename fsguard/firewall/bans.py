"""Dynamic bans (contract 4): what fail2ban's fsguard action calls.

nftables: sets ``ban4`` (ipv4_addr, flags timeout) and ``ban6`` (ipv6_addr, flags timeout) in table
``inet fsguard``. ipset: ``fsguard-ban4`` / ``fsguard-ban6`` (hash:ip, timeout). The ban sets are
plain hash sets (no interval flag) and the big feed data never sits in a large interval set (see
ARCHITECTURE.md "Perimeter"), so one ban stays a few milliseconds even with 200k feed entries
loaded -- nftables 1.0.6 makes every ``add element`` cost seconds while a ~200k-element interval
set exists anywhere. Dynamic bans therefore go straight to the kernel over netlink
(:mod:`fsguard.firewall.nftnl`, ~2 ms measured next to a 200k interval set) and fall back to the
``nft`` command only when that path fails for an unexpected reason.

If fsguard's ruleset is not loaded yet, the ban sets are created on their own (idempotently) so a
ban is never lost; ``fsguard firewall apply`` keeps the ban sets' contents when it reloads.

A ban also deletes the address's conntrack entries (in the background, see below), so no stale
flow state of a scanner survives it (NAT mappings, other tables' "established" accepts).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard.firewall import NFT_TABLE, FirewallError, backend_name, netns_prefix, nftnl, run

if TYPE_CHECKING:
    from fs_python.config import Config

NFT_SETS = {4: "ban4", 6: "ban6"}
IPSET_SETS = {4: "fsguard-ban4", 6: "fsguard-ban6"}
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


def _seconds(cfg: Config, seconds: int | None) -> int | None:
    """Kernel lifetime of a ban: ``seconds`` plus ``[firewall] ban_grace`` (30 s). fail2ban stays
    the authority and lifts the ban with del_ban on its own unban cycle, which can run seconds
    after the nominal end; without the grace the kernel would let an address through while
    fail2ban still counts it as banned ("already banned": no new ban for new failures)."""
    if seconds is None or seconds <= 0:
        return None  # permanent
    grace = max(0, cfg.get_int("firewall", "ban_grace", 30))
    return min(int(seconds) + grace, MAX_SECONDS)


# -- nftables ------------------------------------------------------------------------------------
def _nft_ensure_sets(netns: str | None) -> None:
    # "add" is idempotent in nft: creates what is missing, leaves existing sets and elements alone.
    script = (
        f"add table inet {NFT_TABLE}\n"
        f"add set inet {NFT_TABLE} ban4 {{ type ipv4_addr; flags timeout; }}\n"
        f"add set inet {NFT_TABLE} ban6 {{ type ipv6_addr; flags timeout; }}\n"
    )
    run(["nft", "-f", "-"], netns=netns, stdin=script)


def _nft_element(addr: Any, seconds: int | None) -> str:
    return f"{{ {addr} timeout {seconds}s }}" if seconds else f"{{ {addr} }}"


def _nft_add(addr: Any, seconds: int | None, netns: str | None) -> None:
    name, key, ms = NFT_SETS[addr.version], addr.packed, seconds * 1000 if seconds else None
    try:
        try:
            nftnl.setelem("add", NFT_TABLE, name, key, timeout_ms=ms, netns=netns)
        except nftnl.NetlinkError as exc:
            if exc.errno == errno.EEXIST:  # already banned: the new duration counts
                nftnl.setelem("replace", NFT_TABLE, name, key, timeout_ms=ms, netns=netns)
            elif exc.errno == errno.ENOENT:  # ruleset not loaded yet: create the ban sets
                _nft_ensure_sets(netns)
                nftnl.setelem("add", NFT_TABLE, name, key, timeout_ms=ms, netns=netns)
            else:
                raise
        return
    except nftnl.NetlinkError:
        pass  # fall back to the nft command below (slow next to big interval sets, but correct)
    _nft_add_cli(addr, seconds, netns)


def _nft_add_cli(addr: Any, seconds: int | None, netns: str | None) -> None:
    argv = ["nft", "add", "element", "inet", NFT_TABLE, NFT_SETS[addr.version], _nft_element(addr, seconds)]
    proc = run(argv, netns=netns, check=False)
    if proc.returncode == 0:
        return
    if "No such file or directory" in proc.stderr:
        _nft_ensure_sets(netns)
        run(argv, netns=netns)
        return
    if "File exists" in proc.stderr:
        # Already banned: replace so the new duration counts (delete + add in one transaction).
        script = (
            f"delete element inet {NFT_TABLE} {NFT_SETS[addr.version]} {{ {addr} }}\n"
            f"add element inet {NFT_TABLE} {NFT_SETS[addr.version]} {_nft_element(addr, seconds)}\n"
        )
        run(["nft", "-f", "-"], netns=netns, stdin=script)
        return
    raise FirewallError(f"nft add element: {proc.stderr.strip()[:300]}")


def _nft_del(addr: Any, netns: str | None) -> None:
    try:
        nftnl.setelem("delete", NFT_TABLE, NFT_SETS[addr.version], addr.packed, netns=netns)
        return
    except nftnl.NetlinkError as exc:
        if exc.errno == errno.ENOENT:
            return  # not banned (or no ban set at all): nothing to lift
    proc = run(["nft", "delete", "element", "inet", NFT_TABLE, NFT_SETS[addr.version], f"{{ {addr} }}"],
               netns=netns, check=False)
    if proc.returncode != 0 and "No such file or directory" not in proc.stderr:
        raise FirewallError(f"nft delete element: {proc.stderr.strip()[:300]}")


def _nft_test(addr: Any, netns: str | None) -> bool:
    try:
        return nftnl.has_element(NFT_TABLE, NFT_SETS[addr.version], addr.packed, netns=netns)
    except nftnl.NetlinkError:
        pass
    proc = run(["nft", "get", "element", "inet", NFT_TABLE, NFT_SETS[addr.version], f"{{ {addr} }}"],
               netns=netns, check=False)
    return proc.returncode == 0


# -- ipset ---------------------------------------------------------------------------------------
def ipset_ensure_sets(netns: str | None) -> None:
    # timeout 0 = the set supports timeouts, entries without one are permanent.
    run(["ipset", "-exist", "create", IPSET_SETS[4], "hash:ip", "family", "inet", "timeout", "0"], netns=netns)
    run(["ipset", "-exist", "create", IPSET_SETS[6], "hash:ip", "family", "inet6", "timeout", "0"], netns=netns)


def _ipset_add(addr: Any, seconds: int | None, netns: str | None) -> None:
    argv = ["ipset", "-exist", "add", IPSET_SETS[addr.version], str(addr), "timeout", str(seconds or 0)]
    proc = run(argv, netns=netns, check=False)
    if proc.returncode == 0:
        return
    if "does not exist" in proc.stderr:
        ipset_ensure_sets(netns)
        run(argv, netns=netns)
        return
    raise FirewallError(f"ipset add: {proc.stderr.strip()[:300]}")


def _ipset_del(addr: Any, netns: str | None) -> None:
    proc = run(["ipset", "-exist", "del", IPSET_SETS[addr.version], str(addr)], netns=netns, check=False)
    if proc.returncode != 0 and "does not exist" not in proc.stderr:
        raise FirewallError(f"ipset del: {proc.stderr.strip()[:300]}")


def _ipset_test(addr: Any, netns: str | None) -> bool:
    return run(["ipset", "test", IPSET_SETS[addr.version], str(addr)], netns=netns, check=False).returncode == 0


# -- dry-run (no kernel: a JSON file under state_dir, for tests and previews) --------------------
def _dry_path(cfg: Config) -> Path:
    return Path(cfg.state_dir) / "firewall" / "dry-run-bans.json"


def _dry_load(cfg: Config) -> dict[str, float | None]:
    try:
        data = json.loads(_dry_path(cfg).read_text(encoding="utf-8"))
        return {str(k): v for k, v in data.items()}
    except (OSError, ValueError):
        return {}


def _dry_save(cfg: Config, data: dict[str, float | None]) -> None:
    path = _dry_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# -- conntrack -----------------------------------------------------------------------------------
# Deleting an address's conntrack entries means a kernel dump that walks the whole (global)
# conntrack hash table: ~12 ms whatever the table holds (measured with conntrack-tools 1.4.7).
# The ban itself does not depend on it -- fsguard's drop rules match every packet from a banned
# source, tracked or not, and run before any "established" accept -- so the deletion runs as a
# child process in the background and a ban is in force in ~2 ms. ``wait_conntrack()`` waits for
# the pending deletions (tests; a caller that needs the table clean right now).
_pending: list[subprocess.Popen[bytes]] = []
_pending_lock = threading.Lock()


def _conntrack_delete(addr: Any, netns: str | None) -> None:
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
def add_ban(cfg: Config, ip: str, seconds: int | None, *, netns: str | None = None) -> None:
    """Ban ``ip`` for ``seconds`` (None or <= 0: until removed) and drop its conntrack entries."""
    addr = parse_ip(ip)
    secs = _seconds(cfg, seconds)
    backend = backend_name(cfg)
    if backend == "nftables":
        _nft_add(addr, secs, netns)
    elif backend == "iptables":
        _ipset_add(addr, secs, netns)
    else:
        data = _dry_load(cfg)
        data[str(addr)] = time.time() + secs if secs else None
        _dry_save(cfg, data)
        return
    _conntrack_delete(addr, netns)


def del_ban(cfg: Config, ip: str, *, netns: str | None = None) -> None:
    """Lift a ban; lifting one that is not there is not an error."""
    addr = parse_ip(ip)
    backend = backend_name(cfg)
    if backend == "nftables":
        _nft_del(addr, netns)
    elif backend == "iptables":
        _ipset_del(addr, netns)
    else:
        data = _dry_load(cfg)
        data.pop(str(addr), None)
        _dry_save(cfg, data)


def is_banned(cfg: Config, ip: str, *, netns: str | None = None) -> bool:
    addr = parse_ip(ip)
    backend = backend_name(cfg)
    if backend == "nftables":
        return _nft_test(addr, netns)
    if backend == "iptables":
        return _ipset_test(addr, netns)
    until = _dry_load(cfg).get(str(addr), 0)
    return until is None or float(until) > time.time()
