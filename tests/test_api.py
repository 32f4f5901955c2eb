"""fs_python.api through the stand-in: ``fs_cli -x "python fs_python.api ..."``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fs_python import fslog
from fs_python.registry import write_snapshot
from fsguard.fakefs import Harness
from tests import fsg_fixtures
from tests.test_monitor import start, wait_for

fs_env = fsg_fixtures.fs_env  # the fixture


def _state() -> Path:
    cfg = fslog.settings()
    assert cfg is not None
    return cfg.fs_dir


def _whitelist(entries: list[dict[str, str]]) -> None:
    (_state().parent / "whitelist.json").write_text(json.dumps({"version": 1, "written": 0, "entries": entries}))


def test_check_registered_from_live_monitor(fs_env: Harness) -> None:
    fs_env.switch.add_registration("1000", "example.com", "203.0.113.5", expires=time.time() + 600)
    start(fs_env)
    out = fs_env.api("fs_python.api check 203.0.113.5")
    assert out.startswith("true registered 1000@example.com until ") and out.endswith(" UTC\n")
    assert fs_env.api("fs_python.api check 203.0.113.50") == "false\n"  # no substring traps
    # a registration arriving by event answers at once, no snapshot needed
    fs_env.switch.fire("sofia::register", {"username": "1001", "realm": "example.com", "network-ip": "2001:db8::9",
                                           "expires": "60"})
    assert wait_for(lambda: fs_env.api("fs_python.api check 2001:DB8::9").startswith("true registered 1001@"))


def test_check_admin_whitelist_and_carrier_reasons(fs_env: Harness) -> None:
    _whitelist([{"cidr": "192.0.2.0/24", "source": "allow", "label": "office"},
                {"cidr": "192.0.2.8/29", "source": "carrier", "label": "acme"}])
    assert fs_env.api("fs_python.api check 192.0.2.9") == \
        "true carrier 192.0.2.8/29 (acme); admin whitelist 192.0.2.0/24 (office)\n"
    assert fs_env.api("fs_python.api check 192.0.2.1") == "true admin whitelist 192.0.2.0/24 (office)\n"
    assert fs_env.api("fs_python.api check 198.51.100.1") == "false\n"


def test_without_monitor_the_snapshot_file_answers(fs_env: Harness) -> None:
    write_snapshot(_state(), [{"ip": "203.0.113.7", "user": "1002", "realm": "r.example", "expires":
                               int(time.time()) + 100, "port": "5060", "proto": "udp", "profile": "internal"},
                              {"ip": "203.0.113.8", "user": "old", "realm": "r.example", "expires": 5,
                               "port": "5060", "proto": "udp", "profile": "internal"}])
    assert fs_env.api("fs_python.api check 203.0.113.7").startswith("true registered 1002@r.example until")
    assert fs_env.api("fs_python.api check 203.0.113.8") == "false\n"  # expired
    out = fs_env.api("fs_python.api registered")
    assert out.startswith("1 registrations (monitor not running)\n203.0.113.7 1002@r.example until ")


def test_registered_lists_and_json(fs_env: Harness) -> None:
    fs_env.switch.add_registration("1000", "example.com", "203.0.113.5", "5070", expires=time.time() + 600)
    fs_env.switch.add_registration("bad\udcffuser", "example.com", "203.0.113.6", expires=time.time() + 600)
    start(fs_env)
    out = fs_env.api("fs_python.api registered")
    lines = out.splitlines()
    assert lines[0] == "2 registrations"
    assert lines[1].startswith("203.0.113.5 1000@example.com until ") and lines[1].endswith(" udp/5070 internal")
    assert "bad\\udcffuser@example.com" in lines[2]  # printed surrogate-free, FreeSWITCH survives
    data = json.loads(fs_env.api("fs_python.api registered json"))
    assert data["version"] == 1 and [r["ip"] for r in data["registrations"]] == ["203.0.113.5", "203.0.113.6"]
    assert fs_env.switch.crashed is None


@pytest.mark.parametrize("args,why", [
    ("", "-ERR usage: check <ip> | registered [json]\n"),
    ("check", "-ERR usage: check <ip>\n"),
    ("check 1.2.3.4 5.6.7.8", "-ERR usage: check <ip>\n"),
    ("check 1.2.3", "-ERR not an IP address: '1.2.3'\n"),
    ("check 999.1.1.1", "-ERR not an IP address: '999.1.1.1'\n"),
    ("check x]", "-ERR not an IP address: 'x]'\n"),
    ("registered now", "-ERR usage: registered [json]\n"),
])
def test_bad_input_answers_err(fs_env: Harness, args: str, why: str) -> None:
    assert fs_env.api("fs_python.api " + args) == why


def test_unknown_verb_and_hostile_args_never_crash(fs_env: Harness) -> None:
    for args in ("bogus", "check \udcff", "check 1.2.3.4\udcff", "\x1b[31m", "check " + "9" * 5000,
                 "drop table; check 1.1.1.1"):
        out = fs_env.api("fs_python.api " + args)
        assert out.startswith("-ERR ") and out.endswith("\n"), out
    assert fs_env.switch.crashed is None
    assert "Error calling python script" not in fs_env.switch.text()


def test_broken_config_answers_err_and_keeps_last_good(fs_env: Harness, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from fs_python import config

    _whitelist([{"cidr": "192.0.2.0/24", "source": "allow", "label": "office"}])
    assert fs_env.api("fs_python.api check 192.0.2.1").startswith("true ")
    good = config.config_path()
    good.write_text("[fsguard\nbroken")  # an admin's half-saved edit
    os.utime(good, (time.time() + 10, time.time() + 10))
    monkeypatch.setattr(fslog, "_cfg_checked", 0.0)
    assert fs_env.api("fs_python.api check 192.0.2.1").startswith("true admin whitelist")  # last good config
    assert sum("cannot read its config" in ln for ln in fs_env.switch.lines()) == 1
    fslog.reset()  # a fresh process with only the broken file
    for _ in range(3):
        assert fs_env.api("fs_python.api check 192.0.2.1") == "-ERR fsguard config unreadable\n"
    assert sum("cannot read its config" in ln for ln in fs_env.switch.lines()) == 2  # once per process
