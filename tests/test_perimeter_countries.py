"""Country sets from a fixture in the registries' real delegated-extended format."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest

from fs_python import config
from fsguard.perimeter import countries
from fsguard.perimeter.addr import range_text

FIXTURE = Path(__file__).parent / "data" / "perimeter" / "delegated-fsg-extended-latest"


def _cfg(tmp_path: Path, allow: str, sources: str) -> config.Config:
    p = tmp_path / "c.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n[countries]\nallow = {allow}\nsources = {sources}\n")
    return config.load(p)


def _texts(ranges: list[tuple[int, int]], fam: int) -> list[str]:
    return [t for s, e in ranges for t in range_text(s, e, fam)]


def test_parse_real_format() -> None:
    parsed = countries.parse_delegated(FIXTURE.read_text(), set())
    assert set(parsed) == {"NL", "RU", "DE"}  # header, summary, asn and "available" rows skipped
    nl4 = _texts(sorted(parsed["NL"][4]), 4)
    # 192.0.2.0 + 200 hosts is not a power of two: /25 + /26 + /29
    assert nl4 == ["192.0.2.0/25", "192.0.2.128/26", "192.0.2.192/29", "198.18.30.0/24", "198.19.0.0/16",
                   "203.0.113.0/24"]
    assert _texts(parsed["DE"][4], 4) == ["198.18.10.0/23", "198.18.12.0/24"]  # 768 hosts
    assert _texts(parsed["NL"][6], 6) == ["2001:db8:f5::/48"]


def test_refresh_builds_allowed_and_caches(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "nl, de", str(FIXTURE))
    data = countries.refresh(cfg)
    assert data.available and data.countries == ["NL", "DE"]
    v = int(ipaddress.IPv4Address("198.18.12.200"))
    assert any(s <= v <= e for s, e in data.ranges[4])
    assert not any(s <= int(ipaddress.IPv4Address("198.51.100.1")) <= e for s, e in data.ranges[4])
    loaded = countries.load(cfg)
    assert loaded.ranges == data.ranges and loaded.available
    # configured countries changed: the cached build no longer counts until refreshed
    assert not countries.load(_cfg(tmp_path, "RU", str(FIXTURE))).available


def test_stale_source_refetched_and_failure_keeps_old_copy(tmp_path: Path) -> None:
    src = tmp_path / "delegated-x"
    src.write_text(FIXTURE.read_text())
    cfg = _cfg(tmp_path, "RU", str(src))
    assert countries.refresh(cfg).available
    raw = tmp_path / "state" / "countries" / "delegated-x"
    old = time.time() - 2 * 86400
    os.utime(raw, (old, old))
    src.unlink()  # the source is gone: the cached copy still serves
    data = countries.refresh(cfg)
    assert data.available and data.errors
    assert _texts(data.ranges[4], 4) == ["198.51.100.0/24"]


def test_garbage_source_not_cached(tmp_path: Path) -> None:
    src = tmp_path / "delegated-y"
    src.write_text("<html>not found</html>\n")
    data = countries.refresh(_cfg(tmp_path, "NL", str(src)))
    assert not data.available and data.errors


def test_bad_codes_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        countries.allowed_codes(_cfg(tmp_path, "NL USA", str(FIXTURE)))


def test_no_countries_no_rule(tmp_path: Path) -> None:
    assert not countries.refresh(_cfg(tmp_path, "", str(FIXTURE))).available
