"""The registration shield's counting (fsguard.shield) without a running fail2ban: a stand-in
client records what the service hands to the auth jail."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fs_python import config, eventline, whitelist
from fsguard.shield import Shield
from tests.f2b_common import TOKEN, write_config

IP = "203.0.113.50"
NOW = time.time()


class Recording:
    """Answers like fail2ban's socket; remembers the attempts."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.banned: set[str] = set()

    def send(self, cmd: list[str]) -> Any:
        self.sent.append(cmd)
        return 1

    def jails(self) -> list[str]:
        return ["fsguard-auth", "fsguard-scan"]

    def is_banned(self, jail: str, ip: str) -> bool:
        return ip in self.banned


def _setup(tmp: Path, extra: str = "") -> tuple[config.Config, Shield, Recording]:
    cfg = config.load(write_config(tmp, extra="[shield]\nidentities = 3\nwindow = 60\n" + extra))
    cfg.fs_dir.mkdir(parents=True, exist_ok=True)
    (cfg.fs_dir / "registrations.json").write_text(json.dumps({"registrations": [
        {"ip": IP, "user": "1000", "realm": "pbx", "expires": NOW + 3600}]}))
    whitelist.clear_cache()
    rec = Recording()
    return cfg, Shield(cfg, rec), rec  # type: ignore[arg-type]


def _ev(user: str, kind: str = "auth-failure", ip: str = IP) -> tuple[eventline.Event, str]:
    line = "2026-12-03 19:00:00.000001 1.00% [WARNING] fsguard:1 " + eventline.render(
        TOKEN, kind, ip, {"user": user, "domain": "pbx"})
    ev = eventline.parse(line, TOKEN)
    assert ev is not None
    return ev, line.rstrip("\n")


def test_foreign_identities_within_the_window_suspend_and_feed_the_auth_jail(tmp_path: Path) -> None:
    cfg, sh, rec = _setup(tmp_path)
    for i, t in enumerate((NOW, NOW + 100, NOW + 200)):  # spread beyond the window: no suspension
        ev, line = _ev(f"{2000 + i}")
        assert sh.offence(ev, f"{2000 + i}@pbx", line, t) is not None
    assert not sh.active(NOW + 200)
    for _ in range(50):  # its own identity: never counts towards the threshold
        ev, line = _ev("1000", "registered-failure")
        assert "own identity" in (sh.offence(ev, "1000@pbx", line, NOW + 201) or "")
    assert not sh.active(NOW + 201)
    lines = []
    for i in range(2):
        ev, line = _ev(f"{3000 + i}")
        lines.append(line)
        sh.offence(ev, f"{3000 + i}@pbx", line, NOW + 210 + i)
    assert sh.active(NOW + 212) == {IP}  # 2002 (t+200), 3000, 3001 within 60 s
    assert not sh.apply(NOW + 212)
    assert rec.sent[-1][:4] == ["set", "fsguard-auth", "attempt", IP] and rec.sent[-1][-2:] == lines
    assert not whitelist.check(IP, state_dir=cfg.state_dir, now=NOW + 213).whitelisted  # registrations don't count
    rows = sh.take_new()
    assert list(rows) == [(IP, "(registration shield suspended)", "shield-suspended")]
    ev, line = _ev("3002")
    assert sh.offence(ev, "3002@pbx", line, NOW + 214) is None  # fail2ban's business now


def test_suspension_lasts_while_banned_then_ends(tmp_path: Path) -> None:
    cfg, sh, rec = _setup(tmp_path, "suspend = 60\n")
    for i in range(3):
        ev, line = _ev(f"{2000 + i}")
        sh.offence(ev, f"{2000 + i}@pbx", line, NOW + i)
    sh.apply(NOW + 3)
    rec.banned.add(IP)
    sh.apply(NOW + 100)  # still banned by a jail: stays suspended
    assert sh.active(NOW + 101) == {IP}
    rec.banned.clear()
    sh.apply(NOW + 1000)
    assert not sh.active(NOW + 1000)
    assert whitelist.check(IP, state_dir=cfg.state_dir, now=NOW + 1000).whitelisted  # shielded again
    assert Shield(cfg, rec).active(NOW + 1000) == set()  # type: ignore[arg-type]


def test_admin_whitelist_and_carriers_always_win(tmp_path: Path) -> None:
    cfg, sh, rec = _setup(tmp_path)
    (cfg.state_dir / "whitelist.json").write_text(json.dumps({"entries": [
        {"cidr": "203.0.113.0/24", "source": "allow", "label": "office"}]}))
    whitelist.clear_cache()
    for i in range(30):
        ev, line = _ev(f"{2000 + i}")
        assert sh.offence(ev, f"{2000 + i}@pbx", line, NOW + i) is not None
    assert not sh.active(NOW + 30) and not rec.sent
