"""The monitor's part of the registration shield, the IP-literal outcome and restarts (stand-in
FreeSWITCH): a registered identity's failures are ``registered-failure``; a REGISTER that succeeds
is never scan evidence; a monitor started before ``show`` exists keeps the last snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs_python import fslog, registry
from fs_python.registry import REGISTRY
from fsguard.fakefs import Harness
from fsguard.install import sources
from tests import fsg_fixtures
from tests.fsg_fixtures import write_config
from tests.test_monitor import events, register, snapshot, start, wait_for

fs_env = fsg_fixtures.fs_env


def _fail(h: Harness, user: str, host: str, ip: str, method: str = "REGISTER") -> None:
    h.switch.fire("sofia::register_failure", {"profile-name": "internal", "to-user": user, "to-host": host,
                                              "network-ip": ip, "network-port": "5060", "user-agent": "Yealink",
                                              "registration-type": method})


def _pre(h: Harness, to_user: str, host: str, from_user: str, ip: str) -> None:
    # sofia's naming swap: from-* carry the To-URI / registration host, to-* the From-URI
    h.switch.fire("sofia::pre_register", {"profile-name": "internal", "from-user": to_user, "from-host": host,
                                          "to-user": from_user, "to-host": host, "network-ip": ip,
                                          "network-port": "5060", "user-agent": "ua"})


def test_registered_identity_failures_never_count(fs_env: Harness) -> None:
    start(fs_env)
    register(fs_env, "1000", "pbx.example.com", "203.0.113.5")
    _fail(fs_env, "1000", "pbx.example.com", "203.0.113.5")  # its own phone, wrong password
    _fail(fs_env, "1000", "pbx.example.com", "203.0.113.5", "INVITE")
    _fail(fs_env, "1001", "pbx.example.com", "203.0.113.5")  # another identity from the same address
    _fail(fs_env, "1000", "pbx.example.com", "198.51.100.7")  # the same identity elsewhere
    assert wait_for(lambda: REGISTRY.handled >= 5)
    own = [(e.ip, e.fields["user"], e.fields["method"]) for e in events(fs_env, "registered-failure")]
    assert own == [("203.0.113.5", "1000", "REGISTER"), ("203.0.113.5", "1000", "INVITE")]
    other = [(e.ip, e.fields["user"]) for e in events(fs_env, "auth-failure")]
    assert other == [("203.0.113.5", "1001"), ("198.51.100.7", "1000")]


def test_recently_registered_identity_still_owns_its_failures(fs_env: Harness) -> None:
    start(fs_env)
    register(fs_env, "1000", "pbx.example.com", "203.0.113.5", expires="0")  # unregistered right away
    REGISTRY.remember("1002", "pbx.example.com", "203.0.113.5", 1.0)  # registered long ago
    _fail(fs_env, "1000", "pbx.example.com", "203.0.113.5")
    _fail(fs_env, "1002", "pbx.example.com", "203.0.113.5")
    assert wait_for(lambda: REGISTRY.handled >= 3)
    assert [e.fields["user"] for e in events(fs_env, "registered-failure")] == ["1000"]
    assert [e.fields["user"] for e in events(fs_env, "auth-failure")] == ["1002"]


@pytest.fixture
def literal_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fs_env: Harness) -> Harness:
    sub = tmp_path / "c"
    sub.mkdir()
    monkeypatch.setenv("FSGUARD_CONFIG", str(write_config(sub, "[fs_python]\nliteral_wait = 0.3\n")))
    fslog.reset()
    fs_env.switch.globals["domain"] = "pbx.example.com"
    return fs_env


def test_successful_register_to_ip_literal_is_never_scan_evidence(literal_env: Harness) -> None:
    h = literal_env
    start(h)
    # a phone set up with the PBX's address: challenged, then registered
    _pre(h, "1000", "192.0.2.10", "1000", "203.0.113.5")
    register(h, "1000", "pbx.example.com", "203.0.113.5")
    # a scanner: challenged, tries a password, gets 403
    _pre(h, "100", "192.0.2.10", "100", "198.51.100.20")
    _fail(h, "100", "192.0.2.10", "198.51.100.20")
    # a challenged INVITE to the literal, never answered
    _pre(h, "0044123", "192.0.2.10", "sipvicious", "198.51.100.21")
    assert wait_for(lambda: len(events(h, "ip-literal-domain")) >= 2)
    assert wait_for(lambda: REGISTRY.handled >= 5)
    got = [(e.ip, e.fields["method"], e.fields["user"]) for e in events(h, "ip-literal-domain")]
    assert got == [("198.51.100.20", "REGISTER", "100"), ("198.51.100.21", "INVITE", "0044123")]


MODULES = ('<configuration name="modules.conf" description="Modules">\n  <modules>\n'
           '    <load module="mod_console"/>\n    <load module="mod_logfile"/>\n'
           '    <load module="mod_commands"/>\n    <load module="mod_sofia"/>\n  </modules>\n</configuration>\n')


@pytest.mark.parametrize("where", ["first (old installer)", "after mod_commands (installer)"])
def test_restart_keeps_registrations(fs_env: Harness, where: str) -> None:
    cfg = fslog.settings()
    assert cfg is not None
    good = registry.write_snapshot(cfg.fs_dir, [
        {"ip": "203.0.113.5", "user": "1000", "realm": "pbx.example.com", "expires": 2_000_000_000, "port": "5060",
         "proto": "udp", "profile": "internal"}])
    fs_env.switch.add_registration("1000", "pbx.example.com", "203.0.113.5", expires=fs_env.switch.now() + 600)
    if where.startswith("first"):
        conf = MODULES.replace("<modules>\n", '<modules>\n    <load module="mod_python3"/>\n')
    else:
        conf = sources.load_module(MODULES.encode()).decode()
    fs_env.boot(conf, ["fs_python.monitor"])
    assert wait_for(lambda: "fsguard monitor started" in fs_env.switch.text())
    first_answer = fs_env.switch.api_log[0][1]
    if where.startswith("first"):
        # the real failure: `show` does not exist yet when the monitor starts
        assert first_answer.startswith("-ERR show Command not found")
        # ... yet the snapshot is never emptied, and the seed is retried until it works
        assert [r["ip"] for r in json.loads(good.read_text())["registrations"]] == ["203.0.113.5"]
        assert wait_for(lambda: REGISTRY.live, timeout=10)
    else:
        assert first_answer.startswith('{"row_count":1')
        assert REGISTRY.live
    assert wait_for(lambda: [r["ip"] for r in snapshot(fs_env)["registrations"]] == ["203.0.113.5"])
    assert [r["user"] for r in REGISTRY.rows()] == ["1000"]
