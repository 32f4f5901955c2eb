"""fs_python.monitor as a startup-script thread of the stand-in FreeSWITCH."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fs_python import eventline, fslog, registry
from fs_python.registry import REGISTRY
from fsguard.fakefs import Harness
from tests import fsg_fixtures
from tests.fsg_fixtures import TOKEN, write_config

fs_env = fsg_fixtures.fs_env  # the fixture


def wait_for(cond: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


def start(h: Harness) -> None:
    h.pyrun("fs_python.monitor")
    assert wait_for(lambda: "fsguard monitor started" in h.switch.text()), h.switch.text()[-2000:]


def snapshot(h: Harness) -> dict[str, object]:
    cfg = fslog.settings()
    assert cfg is not None
    return json.loads((cfg.fs_dir / "registrations.json").read_text())


def events(h: Harness, kind: str | None = None) -> list[eventline.Event]:
    out = []
    for line in h.switch.lines():
        if " fsguard:1 " in line:
            ev = eventline.parse(line, TOKEN)
            assert ev is not None, line
            if kind is None or ev.kind == kind:
                out.append(ev)
    return out


def register(h: Harness, user: str, realm: str, ip: str | None, port: str = "5060", expires: str = "300") -> None:
    h.switch.fire("sofia::register", {"username": user, "realm": realm, "network-ip": ip, "network-port": port,
                                      "expires": expires, "profile-name": "internal", "from-user": user,
                                      "from-host": realm, "contact": "<sip:%s@%s:%s;transport=tcp>" % (user, ip, port)})


def test_seeds_from_show_registrations_and_writes_snapshot(fs_env: Harness) -> None:
    exp = int(time.time()) + 600
    fs_env.switch.add_registration("1000", "example.com", "203.0.113.5", "5060", expires=exp)
    start(fs_env)
    snap = snapshot(fs_env)
    assert snap["version"] == 1 and isinstance(snap["written"], int)
    assert snap["registrations"] == [{"ip": "203.0.113.5", "user": "1000", "realm": "example.com",
                                      "expires": exp + registry.GRACE,
                                      "port": "5060", "proto": "udp", "profile": "internal"}]


def test_no_rows_shape_seeds_empty(fs_env: Harness) -> None:
    start(fs_env)
    assert snapshot(fs_env)["registrations"] == []
    assert REGISTRY.live


def test_register_unregister_expire_tracked(fs_env: Harness) -> None:
    start(fs_env)
    register(fs_env, "1000", "example.com", "203.0.113.5")
    register(fs_env, "1001", "example.com", "203.0.113.6")
    register(fs_env, "1001", "example.com", "203.0.113.6", port="5062")
    assert wait_for(lambda: len(snapshot(fs_env)["registrations"]) == 3)  # type: ignore[arg-type]
    row = next(r for r in REGISTRY.rows() if r["ip"] == "203.0.113.5")
    assert row["proto"] == "tcp" and row["profile"] == "internal" and row["expires"] > time.time() + 200
    # unregister with the address
    fs_env.switch.fire("sofia::unregister", {"username": "1000", "realm": "example.com", "network-ip": "203.0.113.5"})
    # socket closed: no network-ip; user 1001 has two devices -> ambiguous, kept until they expire
    fs_env.switch.fire("sofia::unregister", {"username": "1001", "realm": "example.com",
                                             "reason": "socket-disconnection"})
    assert wait_for(lambda: len(snapshot(fs_env)["registrations"]) == 2)  # type: ignore[arg-type]
    assert {r["ip"] for r in REGISTRY.rows()} == {"203.0.113.6"}
    # the periodic sweep expires one of them
    fs_env.switch.fire("sofia::expire", {"user": "1001", "host": "example.com", "network-ip": "203.0.113.6",
                                         "network-port": "5062", "expires": str(int(time.time()) + 400)})
    assert wait_for(lambda: len(REGISTRY.rows()) == 1)
    # an expire for a registration refreshed since (our expiry is later) keeps it
    fs_env.switch.fire("sofia::expire", {"user": "1001", "host": "example.com", "network-ip": "203.0.113.6",
                                         "expires": str(int(time.time()) - 1000)})
    fs_env.switch.fire("sofia::unregister", {"username": "nobody", "realm": "x", "network-ip": "192.0.2.1"})
    assert wait_for(lambda: REGISTRY.handled >= 8)
    assert len(REGISTRY.rows()) == 1
    # socket close of a user with a single device removes it
    fs_env.switch.fire("sofia::unregister", {"username": "1001", "realm": "example.com"})
    assert wait_for(lambda: snapshot(fs_env)["registrations"] == [])


def test_register_failure_becomes_auth_failure(fs_env: Harness) -> None:
    start(fs_env)
    fs_env.switch.fire("sofia::register_failure", {
        "profile-name": "internal", "to-user": "x] from ip 198.51.100.9 [\r\n", "to-host": "203.0.113.1",
        "network-ip": "203.0.113.77", "network-port": "5060", "user-agent": "bad\udcff\udcfeua",
        "registration-type": "INVITE"})
    fs_env.switch.fire("sofia::register_failure", {"profile-name": "internal", "to-user": "1000",
                                                   "registration-type": "REGISTER"})  # no network-ip
    assert wait_for(lambda: len(events(fs_env, "auth-failure")) == 2)
    first, second = events(fs_env, "auth-failure")
    assert first.ip == "203.0.113.77" and first.fields["method"] == "INVITE"
    assert first.fields["user"] == "x] from ip 198.51.100.9 [\r\n" and first.fields["ua"] == "bad\udcff\udcfeua"
    assert second.ip is None and second.fields == {"profile": "internal", "method": "REGISTER", "user": "1000"}
    assert fs_env.switch.crashed is None


def _pre(h: Harness, host: str, ip: str = "198.51.100.20") -> None:
    h.switch.fire("sofia::pre_register", {"profile-name": "internal", "from-user": "100", "from-host": host,
                                          "to-user": "100", "to-host": host, "network-ip": ip,
                                          "user-agent": "friendly-scanner"})


def test_ip_literal_domain_unless_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fs_env: Harness) -> None:
    sub = tmp_path / "c"
    sub.mkdir()
    conf = write_config(sub, "[fs_python]\nserved_domains = 192.0.2.10, pbx.example\nliteral_wait = 0\n")
    monkeypatch.setenv("FSGUARD_CONFIG", str(conf))
    fslog.reset()
    fs_env.switch.globals["domain"] = "192.0.2.1"  # vanilla FreeSWITCH serves its own IP as domain
    start(fs_env)
    register(fs_env, "1000", "192.0.2.30", "203.0.113.5")  # a realm seen in a successful registration
    _pre(fs_env, "192.0.2.99:5060")  # scanner: not served
    _pre(fs_env, "[2001:db8::99]:5060", ip="2001:db8::7")
    _pre(fs_env, "192.0.2.1")  # FreeSWITCH's domain variable
    _pre(fs_env, "192.0.2.10")  # configured
    _pre(fs_env, "192.0.2.30")  # realm of a registration
    _pre(fs_env, "pbx.example")  # a name, not an IP literal
    assert wait_for(lambda: REGISTRY.handled >= 7)
    got = events(fs_env, "ip-literal-domain")
    assert [(e.ip, e.fields["domain"]) for e in got] == [("198.51.100.20", "192.0.2.99:5060"),
                                                          ("2001:db8::7", "[2001:db8::99]:5060")]


def test_survives_malformed_events(fs_env: Harness) -> None:
    start(fs_env)
    fs_env.switch.fire("sofia::register", {"username": "1000"})  # no realm, no ip
    fs_env.switch.fire("sofia::register", {"username": "1000", "realm": "r", "network-ip": "1.2.3.4",
                                           "expires": "soon"})
    fs_env.switch.fire("sofia::expire", {"user": "1000", "host": "r", "expires": "never"})
    fs_env.switch.fire("sofia::register", {"username": "u\udcff", "realm": "r\x00", "network-ip": "203.0.113.8"})
    fs_env.switch.fire("sofia::pre_register", {"from-host": "\udcff" * 100})
    fs_env.switch.fire("sofia::register_failure", {})
    fs_env.switch.fire("sofia::register_failure", {"network-ip": "203.0.113.99", "to-user": "after"})
    assert wait_for(lambda: any(e.fields.get("user") == "after" for e in events(fs_env, "auth-failure")))
    assert fs_env.switch.crashed is None and not fs_env.thread_errors
    assert REGISTRY.monitor is not None and REGISTRY.monitor.is_alive()
    # the surrogate user name is stored surrogate-free, so the api can print it safely
    assert all(r["user"].encode("utf-8") for r in REGISTRY.rows())


def test_exits_promptly_after_shutdown(fs_env: Harness) -> None:
    start(fs_env)
    thread = REGISTRY.monitor
    assert thread is not None
    fs_env.switch.shutdown()
    thread.join(2.0)
    assert not thread.is_alive()


def test_second_start_does_not_run_a_second_loop(fs_env: Harness) -> None:
    start(fs_env)
    first = REGISTRY.monitor
    t = fs_env.pyrun("fs_python.monitor")
    t.join(3)
    assert not t.is_alive() and REGISTRY.monitor is first and first is not None and first.is_alive()
    assert "already running" in fs_env.switch.text()


def test_burst_without_loss(fs_env: Harness) -> None:
    start(fs_env)
    n = 20_000
    for i in range(n):
        fs_env.switch.fire("sofia::register_failure", {"network-ip": "203.0.113.%d" % (i % 250 + 1),
                                                       "to-user": str(i), "registration-type": "REGISTER"})
    assert wait_for(lambda: REGISTRY.handled >= n, timeout=60)
    assert len(events(fs_env, "auth-failure")) == n
    assert "Cannot queue any more events" not in fs_env.switch.text()
