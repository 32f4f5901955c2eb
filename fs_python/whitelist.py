"""Is this IP whitelisted, and why? (contract 3: standard library only).

Combines the two snapshot files in the state directory:

- ``registrations.json`` (contract 1, written by the monitor inside FreeSWITCH): an IP with a
  registration that has not expired yet is a customer ("registered 1000@example.com until ...").
- ``whitelist.json`` (contract 2, written by the perimeter area): admin allow entries and carriers
  ("admin whitelist 192.0.2.0/24 (office)", "carrier 203.0.113.0/24 (acme)").

Both files are parsed once and cached by (mtime, size, inode), so a check is a ``stat`` per file
and a few dict lookups: microseconds. A file that becomes unreadable or malformed keeps the last
good parse in force (whitelists win: a broken write must never drop a customer), a file that is
gone counts as empty. Runs inside FreeSWITCH (the api command) and in the fail2ban glue alike.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REGISTRATIONS_FILE = "registrations.json"
# FreeSWITCH's own subdirectory of the state dir (fs_python.config.FS_SUBDIR): the only place its
# user can write, so the one file root reads from it is untrusted input.
REGISTRATIONS_PATH = "fs/" + REGISTRATIONS_FILE
WHITELIST_FILE = "whitelist.json"
# Written by the fsguard service (fsguard.shield): addresses whose registration shield is suspended
# because they failed for many identities that never registered from them. Their registrations
# stop whitelisting them until "until"; admin entries and carriers still do.
SHIELD_FILE = "shield.json"
# Other cluster nodes' live registrations, written by root's `fsguard service` (fsguard.cluster):
# a file like the others, so a check never touches the database or the network.
CLUSTER_REGISTRATIONS_FILE = "cluster-registrations.json"
MAX_SNAPSHOT = 64 << 20  # 200k registrations are ~25 MB
# The broadest entry a whitelist snapshot may carry (the allow list's floor): a file saying
# 0.0.0.0/0 (or two /1s) would switch every ban off, so such entries are refused, not trusted.
FLOOR = {4: 8, 6: 16}
log = logging.getLogger("fsguard.whitelist")
refusals: dict[str, str] = {}  # path -> why its last content was refused (shown by status)

Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Verdict:
    whitelisted: bool
    reasons: list[str] = field(default_factory=list)


def parse_ip(ip: str) -> Addr:
    """A strict IP address (IPv4-mapped IPv6 becomes IPv4); ValueError otherwise."""
    if not isinstance(ip, str):
        raise ValueError("not an IP address: not a string")
    text = ip
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text or len(text) > 45 or "%" in text:
        raise ValueError("not an IP address: %s" % _safe(ip))
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("not an IP address: %s" % _safe(ip)) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _safe(text: object, limit: int = 64) -> str:
    """Printable-ASCII rendering for error messages (they may end up inside FreeSWITCH, where a
    lone surrogate in an exception message crashes the process)."""
    s = repr(text)[:limit]
    return s.encode("ascii", "backslashreplace").decode("ascii")


# -- the parsed files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reg:
    user: str
    realm: str
    expires: float
    node: str = ""


@dataclass(frozen=True)
class _Entry:
    net: ipaddress.IPv4Network | ipaddress.IPv6Network
    source: str
    label: str

    def reason(self) -> str:
        what = "admin whitelist" if self.source == "allow" else self.source
        return "%s %s (%s)" % (what, self.net, self.label) if self.label else "%s %s" % (what, self.net)


@dataclass
class _Nets:
    # prefix length -> {network address as int: entries}; one dict lookup per distinct prefix
    # length, instead of a scan over every entry.
    v4: dict[int, dict[int, list[_Entry]]] = field(default_factory=dict)
    v6: dict[int, dict[int, list[_Entry]]] = field(default_factory=dict)

    def add(self, e: _Entry) -> None:
        table = self.v4 if e.net.version == 4 else self.v6
        table.setdefault(e.net.prefixlen, {}).setdefault(int(e.net.network_address), []).append(e)

    def lookup(self, addr: Addr) -> list[_Entry]:
        table, bits = (self.v4, 32) if addr.version == 4 else (self.v6, 128)
        value = int(addr)
        found: list[_Entry] = []
        for plen in sorted(table, reverse=True):  # most specific first
            mask = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)
            found.extend(table[plen].get(value & mask, ()))
        return found


def _clean(value: object, limit: int = 128) -> str:
    """Snapshot text is data written by us from attacker-influenced input (realm, user):
    keep reasons printable ASCII so they are safe to hand back to FreeSWITCH."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    out = s.encode("ascii", "backslashreplace").decode("ascii")
    out = "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in out)
    return out[:limit]


def _parse_registrations(rows: Iterable[object]) -> dict[Addr, list[_Reg]]:
    regs: dict[Addr, list[_Reg]] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        try:
            addr = parse_ip(str(row.get("ip", "")))
            expires = float(row.get("expires", 0) or 0)
        except (ValueError, TypeError, OverflowError):
            continue
        regs.setdefault(addr, []).append(
            _Reg(_clean(row.get("user")), _clean(row.get("realm")), expires, _clean(row.get("node"), 64)))
    return regs


def _parse_whitelist(data: object) -> _Nets:
    nets = _Nets()
    entries = data.get("entries", []) if isinstance(data, Mapping) else []
    if not isinstance(entries, list):
        raise ValueError("entries is not a list")
    for row in entries:
        if not isinstance(row, Mapping):
            continue
        try:
            net = ipaddress.ip_network(str(row.get("cidr", "")).strip(), strict=False)
        except ValueError:
            continue  # one bad entry must not void the rest
        if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
            # ::ffff:a.b.c.d/120 style: compare against the IPv4 form parse_ip produces
            if net.prefixlen >= 96:
                net = ipaddress.ip_network("%s/%d" % (net.network_address.ipv4_mapped, net.prefixlen - 96))
        if net.prefixlen < FLOOR[net.version]:
            _refused("whitelist.json", "entry %s broader than /%d refused" % (net, FLOOR[net.version]))
            continue
        source = _clean(row.get("source") or "allow", 32)
        nets.add(_Entry(net, source, _clean(row.get("label"))))
    return nets


class _Cached:
    """One JSON file parsed on change. Keeps the last good parse when the file turns bad."""

    def __init__(self) -> None:
        self.key: tuple[int, int, int] | None = None
        self.value: object = None

    def get(self, path: Path, parse: object, empty: object) -> object:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.key, self.value = None, empty
            return empty
        except OSError:
            return self.value if self.value is not None else empty
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self.key:
            return self.value
        try:
            data = read_json(path)
            value = parse(data)  # type: ignore[operator]
        except (OSError, ValueError, TypeError) as exc:
            # malformed, half-written, a symlink or oversized: the last good state stays
            _refused(str(path), _safe(str(exc), 200))
            return self.value if self.value is not None else empty
        self.key, self.value = key, value
        return value


def _refused(what: str, why: str) -> None:
    if refusals.get(what) != why:
        log.warning("fsguard: %s refused: %s", what, why)
    refusals[what] = why


def read_json(path: Path, limit: int = MAX_SNAPSHOT) -> object:
    """A snapshot as untrusted input: a regular file (no symlink followed), at most ``limit``
    bytes, JSON. Raises OSError/ValueError saying why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("%s is a symlink" % path) from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("%s is not a regular file" % path)
        if st.st_size > limit:
            raise ValueError("%s is %d bytes, over the %d allowed" % (path, st.st_size, limit))
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError("%s is over the %d bytes allowed" % (path, limit))
    return json.loads(data.decode("utf-8"))


_lock = threading.Lock()
_cache: dict[tuple[str, str], _Cached] = {}


def _load(state_dir: Path, name: str, parse: object, empty: object) -> object:
    with _lock:
        c = _cache.setdefault((str(state_dir), name), _Cached())
        return c.get(Path(state_dir) / name, parse, empty)


def _regs_from_snapshot(data: object) -> dict[Addr, list[_Reg]]:
    if not isinstance(data, Mapping):
        raise ValueError("not an object")
    rows = data.get("registrations", [])
    if not isinstance(rows, list):
        raise ValueError("registrations is not a list")
    return _parse_registrations(rows)


def _parse_shield(data: object) -> dict[Addr, float]:
    if not isinstance(data, Mapping):
        raise ValueError("not an object")
    rows = data.get("suspended", [])
    if not isinstance(rows, list):
        raise ValueError("suspended is not a list")
    out: dict[Addr, float] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        try:
            out[parse_ip(str(row.get("ip", "")))] = float(row.get("until", 0) or 0)
        except (ValueError, TypeError, OverflowError):
            continue
    return out


def shield_suspended(ip: str, *, state_dir: Path, now: float | None = None) -> bool:
    """Whether ``ip``'s registrations have stopped whitelisting it (see SHIELD_FILE)."""
    until = _load(state_dir, SHIELD_FILE, _parse_shield, {}).get(parse_ip(ip))  # type: ignore[attr-defined]
    return until is not None and until > (time.time() if now is None else now)


def _fmt_time(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError):
        return "?"


def check(
    ip: str,
    *,
    state_dir: Path,
    now: float | None = None,
    registrations: Iterable[Mapping[str, object]] | None = None,
) -> Verdict:
    """Whether ``ip`` is whitelisted, with every reason found.

    ``registrations`` (rows shaped like contract 1's entries) replaces the registrations snapshot
    file when given: the monitor's api passes its live in-memory set. Raises ValueError on a
    malformed IP."""
    addr = parse_ip(ip)
    when = time.time() if now is None else now
    if registrations is not None:
        regs = _parse_registrations(registrations)
    else:
        regs = _load(state_dir, REGISTRATIONS_PATH, _regs_from_snapshot, {})  # type: ignore[assignment]
    nets: _Nets = _load(state_dir, WHITELIST_FILE, _parse_whitelist, _Nets())  # type: ignore[assignment]
    others: dict[Addr, list[_Reg]] = _load(  # type: ignore[assignment]
        state_dir, CLUSTER_REGISTRATIONS_FILE, _regs_from_snapshot, {})
    reasons: list[str] = []
    seen: set[str] = set()
    shield: dict[Addr, float] = _load(state_dir, SHIELD_FILE, _parse_shield, {})  # type: ignore[assignment]
    suspended = shield.get(addr, 0.0) > when
    for reg in sorted(list(regs.get(addr, ())) + list(others.get(addr, ())), key=lambda r: -r.expires):
        if suspended:
            break  # the shield is off: its registrations no longer whitelist it
        if reg.expires <= when:
            continue
        who = "%s@%s" % (reg.user, reg.realm)
        if who in seen:
            continue
        seen.add(who)
        where = " on node %s" % reg.node if reg.node else ""
        reasons.append("registered %s until %s%s" % (who, _fmt_time(reg.expires), where))
    for entry in nets.lookup(addr):
        reasons.append(entry.reason())
    return Verdict(bool(reasons), reasons)


def clear_cache() -> None:
    """Forget parsed files (tests)."""
    with _lock:
        _cache.clear()
