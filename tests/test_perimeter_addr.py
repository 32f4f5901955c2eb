"""The integer address core: strict parsing, refusal reasons, merge/subtract/CIDR vs ipaddress."""

from __future__ import annotations

import ipaddress
import random

import pytest

from fsguard.perimeter.addr import (
    AddressError,
    Policy,
    contains,
    merge,
    parse_cidr,
    range_text,
    range_to_cidrs,
    subtract,
)

REFUSED = {
    "0.0.0.0/0": "default route",
    "::/0": "default route",
    "10.1.2.3": "private",
    "172.20.0.0/16": "private",
    "192.168.1.1": "private",
    "127.0.0.1": "loopback",
    "169.254.1.1": "link-local",
    "100.64.0.1": "CGNAT",
    "224.0.0.5": "multicast",
    "239.1.1.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "0.1.2.3": "reserved",
    "8.0.0.0/7": "floor",
    "2a00::/16": "floor",
    "::1": "reserved",
    "fe80::1": "link-local",
    "fd00::1": "private",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "198.18.0.1": "benchmarking",
    "5.0.0.0/6": "floor",
    "1.0.0.0/9": "floor",
    "1.2.3": "not an IP",
    "1.2.3.4.5": "not an IP",
    "01.2.3.4": "not an IP",
    "1.2.3.4/33": "prefix",
    "1.2.3.4/-1": "prefix",
    "1.2.3.4/ 24": "prefix",
    "$(touch${IFS}x)": "not an IP",
    "1.2.3.4;reboot": "not an IP",
    "": "not an IP",
}


@pytest.mark.parametrize("text", list(REFUSED))
def test_refused_with_reason(text: str) -> None:
    with pytest.raises(AddressError) as exc:
        Policy().validate(text)
    assert REFUSED[text].lower() in str(exc.value).lower()


@pytest.mark.parametrize("text,canon", [
    ("1.2.3.4", "1.2.3.4"), ("1.2.3.4/24", "1.2.3.0/24"), ("8.8.0.0/10", "8.0.0.0/10"),
    ("2a00:1450::1", "2a00:1450::1"), ("2a00:1450::/32", "2a00:1450::/32"), ("::ffff:5.6.7.8", "5.6.7.8"),
])
def test_accepted_and_canonical(text: str, canon: str) -> None:
    fam, s, e = Policy().validate(text)
    assert range_text(s, e, fam) == [canon]


def test_floor_and_test_ranges_configurable() -> None:
    assert Policy(floor4=6).validate("8.0.0.0/7")
    assert Policy(accept_test_ranges=True).validate("198.18.0.1")
    with pytest.raises(AddressError):
        Policy(accept_test_ranges=True).validate("10.0.0.1")  # private stays refused


def _rand_ranges(rng: random.Random, n: int, bits: int = 16) -> list[tuple[int, int]]:
    out = []
    for _ in range(n):
        s = rng.randrange(1 << bits)
        out.append((s, min((1 << bits) - 1, s + rng.choice([0, 0, 1, 3, 7, 255, rng.randrange(500)]))))
    return out


def test_merge_subtract_against_python_sets() -> None:
    rng = random.Random(7)
    for _ in range(30):
        a, h = _rand_ranges(rng, 40), _rand_ranges(rng, 10)
        sa = {v for s, e in a for v in range(s, e + 1)}
        sh = {v for s, e in h for v in range(s, e + 1)}
        m = merge(a)
        assert {v for s, e in m for v in range(s, e + 1)} == sa
        assert all(m[i][1] + 1 < m[i + 1][0] for i in range(len(m) - 1))  # disjoint, not adjacent
        d = subtract(m, merge(h))
        assert {v for s, e in d for v in range(s, e + 1)} == sa - sh
        probe = rng.randrange(1 << 16)
        assert contains(m, probe) == (probe in sa)


def test_range_to_cidrs_matches_ipaddress() -> None:
    rng = random.Random(3)
    for _ in range(300):
        s = rng.randrange(1 << 32)
        e = min((1 << 32) - 1, s + rng.randrange(1 << rng.randrange(1, 24)))
        ours = [ipaddress.ip_network((n, p)) for n, p in range_to_cidrs(s, e, 4)]
        ref = list(ipaddress.summarize_address_range(ipaddress.IPv4Address(s), ipaddress.IPv4Address(e)))
        assert ours == ref
    big = (0x2A00 << 112, (0x2A00 << 112) + (1 << 80) + 5)
    ours6 = [ipaddress.ip_network((n, p)) for n, p in range_to_cidrs(*big, 6)]
    lo, hi = ipaddress.IPv6Address(big[0]), ipaddress.IPv6Address(big[1])
    assert ours6 == list(ipaddress.summarize_address_range(lo, hi))


def test_parse_cidr_masks_host_bits() -> None:
    assert parse_cidr("203.0.113.77/24")[1:] == (int(ipaddress.IPv4Address("203.0.113.0")),
                                                 int(ipaddress.IPv4Address("203.0.113.255")))
