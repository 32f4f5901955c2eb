"""Addresses as integers: strict parsing, validation, range merge, subtraction, range -> CIDR.

Everything the perimeter keeps is a list of inclusive integer ranges ``(start, end)`` per family
(4 or 6). Single addresses and CIDRs are parsed, and ranges turned into CIDRs, by the standard
library (``ipaddress``: strict, no ``1.2``, no leading zeros; a scope id is refused here).

Hand-written, because ``benchmarks/bench_feed_load.py`` shows side by side that the libraries
cannot meet the feed-load goal (200k entries download -> kernel within 2x a bare ``ipset
restore``): ``merge`` (one sort, one pass) and ``subtract`` (sliced) on the feed's integer ranges,
and the feed parser's ``inet_pton`` loop (``feeds.parse_text``). Measured for 200k entries on the
2-core VM: parse+merge+subtract+CIDRs 2.0 s by hand (loaded machine; ~0.5 s idle), netaddr
``IPSet`` 9.5 s, ``ipaddress`` ``ip_network`` + ``collapse_addresses`` 37 s -- the whole budget
above the floor is ~0.5 s. Validation is one bisect against a sorted table of refused networks.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Range = tuple[int, int]
BITS = {4: 32, 6: 128}

# Never acceptable in a block list: blocking them breaks the host or the LAN, or the entry is
# nonsense. (start, prefix, reason), non-overlapping within a family once sorted.
_REFUSED_TEXT: dict[int, list[tuple[str, str]]] = {
    4: [
        ("0.0.0.0/8", "reserved ('this network')"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (incl. broadcast)"),
    ],
    6: [
        ("::/8", "reserved (unspecified, loopback, IPv4-mapped)"),
        ("64:ff9b:1::/48", "reserved (local-use NAT64)"),
        ("100::/64", "discard-only"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved (site-local)"),
        ("ff00::/8", "multicast"),
    ],
}
# Documentation / benchmarking ranges: refused in real feeds, accepted when the operator (or a
# test lab, which lives in exactly these ranges) says ``accept_test_ranges``.
_TEST_TEXT: dict[int, list[tuple[str, str]]] = {
    4: [
        ("192.0.2.0/24", "documentation range"),
        ("198.18.0.0/15", "benchmarking range"),
        ("198.51.100.0/24", "documentation range"),
        ("203.0.113.0/24", "documentation range"),
    ],
    6: [("2001:db8::/32", "documentation range")],
}


class AddressError(ValueError):
    """Not a valid address/CIDR for the purpose; the message is the reason shown to the user."""


def family_of(text: str) -> int:
    return 6 if ":" in text else 4


_CLASS: dict[int, type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]] = {
    4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}


def ip_to_int(text: str, family: int | None = None) -> tuple[int, int]:
    """One address -> (family, integer). ``family`` given: only that family is accepted."""
    fam = family or family_of(text)
    if "%" in text:  # a scope id (fe80::1%eth0) names an interface, never a remote peer
        raise AddressError("not an IP address")
    try:
        return fam, int(_CLASS[fam](text))
    except ValueError:
        raise AddressError("not an IP address") from None


def int_to_ip(value: int, family: int) -> str:
    return str(_CLASS[family](value))


def parse_cidr(text: str) -> tuple[int, int, int]:
    """``"a.b.c.d[/n]"`` or IPv6 -> (family, start, end). Host bits are masked off."""
    text = text.strip()
    addr, sep, plen_text = text.partition("/")
    fam = family_of(addr)
    if fam == 6 and "." in addr:  # IPv4-mapped / embedded forms: not in a block list
        mapped = addr.lower().startswith("::ffff:")
        if not (mapped and not sep):
            raise AddressError("not an IP address")
    fam, value = ip_to_int(addr, fam)
    if fam == 6 and value >> 32 == 0xFFFF and not sep:  # ::ffff:a.b.c.d is IPv4
        fam, value = 4, value & 0xFFFFFFFF
    bits = BITS[fam]
    if sep:
        if not plen_text.isdigit() or len(plen_text) > 3:
            raise AddressError("bad prefix length")
        plen = int(plen_text)
        if plen > bits:
            raise AddressError("bad prefix length")
    else:
        plen = bits
    size = 1 << (bits - plen)
    start = value & ~(size - 1)
    return fam, start, start + size - 1


def _table(spec: dict[int, list[tuple[str, str]]]) -> dict[int, tuple[list[int], list[int], list[str]]]:
    out = {}
    for fam, items in spec.items():
        rows = sorted((parse_cidr(c)[1:], why) for c, why in items)
        out[fam] = ([r[0][0] for r in rows], [r[0][1] for r in rows], [r[1] for r in rows])
    return out


_REFUSED = _table(_REFUSED_TEXT)
_REFUSED_AND_TEST = _table({f: _REFUSED_TEXT[f] + _TEST_TEXT[f] for f in (4, 6)})


@dataclass(frozen=True)
class Policy:
    """What a list accepts: the broadest prefix (the floor) and whether test ranges pass."""

    floor4: int = 10
    floor6: int = 32
    accept_test_ranges: bool = False

    def check(self, fam: int, start: int, end: int) -> str | None:
        """The reason ``start..end`` is refused, or None."""
        bits = BITS[fam]
        size = end - start + 1
        if size == 1 << bits:
            return "default route"
        plen = bits - (size.bit_length() - 1)
        if plen < (self.floor4 if fam == 4 else self.floor6):
            return f"prefix /{plen} broader than the floor /{self.floor4 if fam == 4 else self.floor6}"
        starts, ends, reasons = (_REFUSED if self.accept_test_ranges else _REFUSED_AND_TEST)[fam]
        i = bisect.bisect_right(starts, end) - 1
        if i >= 0 and ends[i] >= start:
            return reasons[i]
        if fam == 6 and not (0x2000 << 112 <= start and end < 0x4000 << 112):
            return "outside global unicast (2000::/3)"
        return None

    def refused_table4(self) -> tuple[list[int], list[int], list[str]]:
        """Sorted (starts, ends, reasons) of refused IPv4 networks: the parsers' fast path."""
        return (_REFUSED if self.accept_test_ranges else _REFUSED_AND_TEST)[4]

    def validate(self, text: str) -> tuple[int, int, int]:
        """Parse and check one entry; raise AddressError with the reason."""
        fam, start, end = parse_cidr(text)
        why = self.check(fam, start, end)
        if why:
            raise AddressError(why)
        return fam, start, end


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, non-overlapping, non-adjacent ranges covering the same addresses."""
    out: list[Range] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def subtract(ranges: list[Range], holes: list[Range]) -> list[Range]:
    """``ranges`` minus ``holes`` (both merged/sorted). Runs of ``ranges`` no hole touches are
    copied by slicing, so a 200k-range feed minus a short whitelist costs milliseconds."""
    if not holes or not ranges:
        return list(ranges)
    out: list[Range] = []
    i, n = 0, len(ranges)
    cur: Range | None = None  # the part of ranges[i - 1] right of the previous hole
    for hs, he in holes:
        if cur is not None:
            if cur[1] < hs:
                out.append(cur)
                cur = None
            elif cur[0] > he:
                continue  # this hole lies before the pending part (and before ranges[i:])
            else:
                if cur[0] < hs:
                    out.append((cur[0], hs - 1))
                cur = (he + 1, cur[1]) if cur[1] > he else None
                if cur is not None:
                    continue
        k = bisect.bisect_right(ranges, (hs, 1 << 129), lo=i) - 1
        if k < i:
            k = i
        elif ranges[k][1] < hs:
            k += 1
        out.extend(ranges[i:k])
        i = k
        while i < n and ranges[i][0] <= he:
            s, e = ranges[i]
            i += 1
            if s < hs:
                out.append((s, hs - 1))
            if e > he:
                cur = (he + 1, e)
                break
    if cur is not None:
        out.append(cur)
    out.extend(ranges[i:])
    return out


def range_to_cidrs(start: int, end: int, family: int) -> list[tuple[int, int]]:
    """Inclusive range -> minimal list of (network, prefixlen)."""
    cls = _CLASS[family]
    return [(int(n.network_address), n.prefixlen) for n in ipaddress.summarize_address_range(cls(start), cls(end))]


def cidr_text(network: int, plen: int, family: int) -> str:
    return f"{int_to_ip(network, family)}/{plen}"


def range_text(start: int, end: int, family: int) -> list[str]:
    """Human form of a range: one address, or its CIDRs."""
    if start == end:
        return [int_to_ip(start, family)]
    return [cidr_text(n, p, family) for n, p in range_to_cidrs(start, end, family)]


def contains(ranges: list[Range], value: int) -> bool:
    """``value`` inside merged sorted ``ranges``?"""
    i = bisect.bisect_right(ranges, (value, 1 << 129)) - 1
    return i >= 0 and ranges[i][0] <= value <= ranges[i][1]


# -- the admin whitelist's breadth rules ----------------------------------------------------------
# An allow entry exempts addresses from every ban and block list, so "too broad" is the dangerous
# direction. Private and local space is harmless to whitelist (an office LAN is the common case);
# what is limited is how much *public* space the list covers: each entry at most a /8 (IPv4) or
# /32 (IPv6, an ISP's allocation) of it, and all entries together at most four of those, so no
# set of entries (0.0.0.0/1 + 128.0.0.0/1, 256 x /8, ::/0) adds up to "the internet".
ALLOW_FLOOR = {4: 8, 6: 32}
ALLOW_PUBLIC_MAX = {4: 4 << 24, 6: 4 << 96}


def _nonpublic(fam: int) -> list[Range]:
    starts, ends, _ = _REFUSED[fam]
    out = list(zip(starts, ends, strict=True))
    if fam == 6:  # outside global unicast 2000::/3
        out += [(0, (0x2000 << 112) - 1), (0x4000 << 112, (1 << 128) - 1)]
    return merge(out)


_NONPUBLIC = {4: _nonpublic(4), 6: _nonpublic(6)}


def public_size(fam: int, ranges: Iterable[Range]) -> int:
    """How many public (routable, non-private) addresses ``ranges`` cover together."""
    return sum(e - s + 1 for s, e in subtract(merge(ranges), _NONPUBLIC[fam]))


def allow_check(fam: int, start: int, end: int) -> str | None:
    """The reason one allow entry is refused, or None."""
    bits = BITS[fam]
    if end - start + 1 == 1 << bits:
        return "default route (would whitelist everyone)"
    plen = bits - ((end - start + 1).bit_length() - 1)
    if plen < ALLOW_FLOOR[fam] and public_size(fam, [(start, end)]) > 0:
        return f"prefix /{plen} broader than the whitelist floor /{ALLOW_FLOOR[fam]} (public addresses)"
    return None


def allow_union_check(fam: int, ranges: Iterable[Range]) -> str | None:
    """The reason a whole allow list is refused (together it covers too much of the internet)."""
    if public_size(fam, ranges) > ALLOW_PUBLIC_MAX[fam]:
        limit = "four /8" if fam == 4 else "four /32"
        return f"the whitelist would cover more public IPv{fam} space than {limit} networks together"
    return None
