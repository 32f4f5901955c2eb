"""fs_python.registry: the long-lived registration set and its snapshot file (contract 1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fs_python import registry, whitelist
from fs_python.registry import Registration, Registry, from_show_json, write_snapshot

NOW = 1_800_000_000.0


def test_show_registrations_shapes() -> None:
    assert from_show_json('{"row_count": 0}\n') == []
    rows = from_show_json(json.dumps({"row_count": 3, "rows": [
        {"reg_user": "1000", "realm": "example.com", "token": "t", "url": "sofia/internal/sip:1000@203.0.113.5:5060",
         "expires": "1800000600", "network_ip": "203.0.113.5", "network_port": "5060", "network_proto": "tcp",
         "hostname": "pbx", "metadata": ""},
        {"reg_user": "x", "realm": "r", "expires": "1800000600", "network_ip": "not-an-ip"},
        {"reg_user": "y", "realm": "r", "expires": "later", "network_ip": "203.0.113.6"}]}))
    assert rows == [Registration("203.0.113.5", "1000", "example.com", 1800000600.0, "5060", "tcp", "internal")]
    for bad in ("", "[]", '{"rows": []}', '{"row_count": 1, "rows": 5}', "-ERR no reply"):
        with pytest.raises(ValueError):
            from_show_json(bad)


def test_snapshot_throttled_atomic_and_readable_by_whitelist(tmp_path: Path) -> None:
    fs_dir = tmp_path / "fs"  # FreeSWITCH's own subdir of the state dir
    reg = Registry()
    reg.seed([])
    assert reg.maybe_write(fs_dir, 1.0, now=NOW)
    reg.add(Registration("203.0.113.5", "1000", "example.com", NOW + 60, "5060", "udp", "internal"))
    assert not reg.maybe_write(fs_dir, 1.0, now=NOW + 0.5)  # throttled, stays dirty
    assert reg.maybe_write(fs_dir, 1.0, now=NOW + 1.0)
    assert not reg.maybe_write(fs_dir, 1.0, now=NOW + 5)  # nothing changed
    data = json.loads((fs_dir / "registrations.json").read_text())
    assert data == {"version": 1, "written": int(NOW + 1), "registrations": [
        {"ip": "203.0.113.5", "user": "1000", "realm": "example.com", "expires": int(NOW + 60) + registry.GRACE,
         "port": "5060", "proto": "udp", "profile": "internal"}],
        "recent": [["1000", "example.com", "203.0.113.5", int(NOW + 60)]]}
    assert not [p for p in fs_dir.iterdir() if p.name.endswith(".tmp")]
    whitelist.clear_cache()
    assert whitelist.check("203.0.113.5", state_dir=tmp_path, now=NOW + 30).reasons[0].startswith(
        "registered 1000@example.com until")


def test_failed_write_keeps_last_good_file_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry()
    reg.seed([Registration("203.0.113.5", "1000", "r", NOW + 600)])
    assert reg.maybe_write(tmp_path, 0, now=NOW)
    before = (tmp_path / "registrations.json").read_bytes()
    reg.add(Registration("203.0.113.6", "1001", "r", NOW + 600))

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fs_python.registry.os.replace", disk_full)
    assert not reg.maybe_write(tmp_path, 0, now=NOW + 1)
    assert reg.write_errors == 1 and reg.dirty
    assert (tmp_path / "registrations.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no litter
    monkeypatch.undo()
    assert reg.maybe_write(tmp_path, 0, now=NOW + 2)
    assert len(json.loads((tmp_path / "registrations.json").read_text())["registrations"]) == 2
    reg.add(Registration("203.0.113.7", "1002", "r", NOW + 600))
    assert reg.maybe_write(tmp_path / "bad\x00dir", 0, now=NOW + 3) is False  # refused, not raised
    assert reg.write_errors == 2


def test_unregister_and_expire_rules() -> None:
    reg = Registry()
    t = time.time()
    reg.add(Registration("203.0.113.5", "1000", "Example.com", t + 300, "5060"))
    reg.add(Registration("203.0.113.5", "1000", "example.com", t + 300, "5062"))
    reg.add(Registration("203.0.113.9", "1001", "example.com", t + 300, "5060"))
    assert reg.remove("1000", "example.com", None) == 0  # ambiguous socket close: kept
    assert reg.remove("1000", "EXAMPLE.com", "203.0.113.5", "5062") == 1
    assert reg.remove("1000", "example.com", None) == 1  # now unambiguous
    assert reg.expire("1001", "example.com", "203.0.113.9", None, t - 100) == 0  # refreshed since
    assert reg.expire("1001", "example.com", "203.0.113.9", None, t + 300) == 1
    assert reg.rows() == [] and reg.by_user == {} and reg.by_ip == {}


def test_write_snapshot_is_ascii_even_for_odd_names(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path, [{"ip": "192.0.2.1", "user": "\u00e9\U0001f600", "realm": "r", "expires": 1,
                                      "port": "", "proto": "udp", "profile": ""}])
    path.read_bytes().decode("ascii")
    assert json.loads(path.read_text())["registrations"][0]["user"] == "\u00e9\U0001f600"
