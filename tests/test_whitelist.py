"""fs_python.whitelist (contract 3): snapshots combined, cached, last good state kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fs_python import whitelist

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def _fresh() -> None:
    whitelist.clear_cache()


def _write(path: Path, data: object, mtime: float | None = None) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data) if not isinstance(data, str) else data)
    os.replace(tmp, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _regs(state: Path, rows: list[dict[str, object]], mtime: float | None = None) -> None:
    (state / "fs").mkdir(exist_ok=True)
    _write(state / "fs" / "registrations.json", {"version": 1, "written": NOW, "registrations": rows}, mtime)


def _wl(state: Path, entries: list[dict[str, object]], mtime: float | None = None) -> None:
    _write(state / "whitelist.json", {"version": 1, "written": NOW, "entries": entries}, mtime)


def test_no_files_means_not_whitelisted(tmp_path: Path) -> None:
    v = whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW)
    assert v == whitelist.Verdict(False, [])


def test_registered_until_expiry(tmp_path: Path) -> None:
    _regs(tmp_path, [{"ip": "203.0.113.5", "user": "1000", "realm": "example.com", "expires": NOW + 60,
                      "port": "5060", "proto": "udp", "profile": "internal"}])
    v = whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW)
    assert v.whitelisted
    assert v.reasons[0].startswith("registered 1000@example.com until ")
    assert not whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW + 61).whitelisted
    assert not whitelist.check("203.0.113.50", state_dir=tmp_path, now=NOW).whitelisted


def test_admin_and_carrier_entries(tmp_path: Path) -> None:
    _wl(tmp_path, [{"cidr": "192.0.2.0/24", "source": "allow", "label": "office"},
                   {"cidr": "192.0.2.7/32", "source": "carrier", "label": "acme"},
                   {"cidr": "2001:db8::/32", "source": "allow", "label": ""},
                   {"cidr": "not-a-net", "source": "allow", "label": "broken"}])
    v = whitelist.check("192.0.2.7", state_dir=tmp_path, now=NOW)
    assert v.reasons == ["carrier 192.0.2.7/32 (acme)", "admin whitelist 192.0.2.0/24 (office)"]
    assert whitelist.check("2001:db8::1", state_dir=tmp_path, now=NOW).reasons == ["admin whitelist 2001:db8::/32"]
    assert not whitelist.check("192.0.3.1", state_dir=tmp_path, now=NOW).whitelisted
    # IPv4-mapped IPv6 is the same host as its IPv4 form
    assert whitelist.check("::ffff:192.0.2.9", state_dir=tmp_path, now=NOW).whitelisted


@pytest.mark.parametrize("bad", ["", "1.2.3", "999.1.1.1", "x] from ip 198.51.100.9 [", "fe80::1%eth0",
                                 "1.2.3.4\n", "\udcff", "1.2.3.4/24", "a" * 100])
def test_malformed_ip_raises_value_error_with_ascii_message(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError) as exc:
        whitelist.check(bad, state_dir=tmp_path, now=NOW)
    str(exc.value).encode("ascii")  # safe to hand to FreeSWITCH


def test_cached_by_mtime_and_updated_on_change(tmp_path: Path) -> None:
    _wl(tmp_path, [{"cidr": "198.51.100.0/24", "source": "allow", "label": "a"}], mtime=NOW - 10)
    assert whitelist.check("198.51.100.1", state_dir=tmp_path, now=NOW).whitelisted
    _wl(tmp_path, [{"cidr": "203.0.113.0/24", "source": "allow", "label": "b"}], mtime=NOW - 5)
    assert not whitelist.check("198.51.100.1", state_dir=tmp_path, now=NOW).whitelisted
    assert whitelist.check("203.0.113.1", state_dir=tmp_path, now=NOW).reasons == ["admin whitelist 203.0.113.0/24 (b)"]


def test_malformed_file_keeps_last_good_state(tmp_path: Path) -> None:
    _wl(tmp_path, [{"cidr": "198.51.100.0/24", "source": "allow", "label": "a"}], mtime=NOW - 10)
    _regs(tmp_path, [{"ip": "203.0.113.5", "user": "1", "realm": "r", "expires": NOW + 99}], mtime=NOW - 10)
    assert whitelist.check("198.51.100.1", state_dir=tmp_path, now=NOW).whitelisted
    assert whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW).whitelisted
    _write(tmp_path / "whitelist.json", '{"entries": [', mtime=NOW - 3)
    _write(tmp_path / "fs" / "registrations.json", '{"registrations": 5}', mtime=NOW - 3)
    assert whitelist.check("198.51.100.1", state_dir=tmp_path, now=NOW).whitelisted
    assert whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW).whitelisted


def test_malformed_file_without_history_is_empty(tmp_path: Path) -> None:
    _write(tmp_path / "whitelist.json", "garbage")
    assert not whitelist.check("198.51.100.1", state_dir=tmp_path, now=NOW).whitelisted


def test_in_memory_registrations_replace_the_file(tmp_path: Path) -> None:
    _regs(tmp_path, [{"ip": "203.0.113.5", "user": "1", "realm": "r", "expires": NOW + 99}])
    rows = [{"ip": "203.0.113.6", "user": "2\udcff", "realm": "x\ny", "expires": NOW + 30},
            {"ip": "garbage", "user": "3", "realm": "r", "expires": NOW + 30}]
    assert not whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW, registrations=rows).whitelisted
    v = whitelist.check("203.0.113.6", state_dir=tmp_path, now=NOW, registrations=rows)
    assert v.whitelisted
    # attacker-influenced user/realm come back printable ASCII
    v.reasons[0].encode("ascii")
    assert "\n" not in v.reasons[0]


def test_several_registrations_one_ip_deduplicated(tmp_path: Path) -> None:
    rows = [{"ip": "203.0.113.5", "user": "1000", "realm": "r", "expires": NOW + 30},
            {"ip": "203.0.113.5", "user": "1000", "realm": "r", "expires": NOW + 90},
            {"ip": "203.0.113.5", "user": "1001", "realm": "r", "expires": NOW + 60}]
    v = whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW, registrations=rows)
    assert [r.split(" until ")[0] for r in v.reasons] == ["registered 1000@r", "registered 1001@r"]
