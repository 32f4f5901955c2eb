"""fail2ban glue without a running server: rendering, the service's pieces, the action, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fs_python import config, eventline
from fsguard import evidence
from fsguard.f2b import render
from fsguard.f2b.action import Recorder
from fsguard.service import Service, TickResult
from fsguard.store import open_store
from tests.f2b_common import ROOT, TOKEN, write_config


def _cfg(tmp: Path, extra: str = "") -> config.Config:
    return config.load(write_config(tmp, extra=f"logpath = {tmp / 'fs.log'}\njail_dir =\nfirewall = off\n" + extra))


def _snapshot(cfg: config.Config, rows: list[dict[str, Any]], written: float) -> None:
    cfg.fs_dir.mkdir(parents=True, exist_ok=True)
    (cfg.fs_dir / "registrations.json").write_text(
        json.dumps({"version": 1, "written": written, "registrations": rows}))


# -- rendering -----------------------------------------------------------------------------------
def test_render_install_files_only(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    paths = render.render_config(cfg, tmp_path / "etc", logpath=tmp_path / "missing" / "fs.log")
    names = sorted(str(p.relative_to(tmp_path / "etc")) for p in paths)
    assert names == ["action.d/fsguard_action.py", "filter.d/fsguard-events.conf", "filter.d/fsguard-fusionpbx.conf",
                     "filter.d/fsguard-sofia.conf", "jail.d/fsguard.local"]
    assert not (tmp_path / "missing").exists()  # FreeSWITCH's log is FreeSWITCH's to create
    assert (tmp_path / "etc/filter.d/fsguard-events.conf").stat().st_mode & 0o777 == 0o600  # carries the token
    jail = (tmp_path / "etc" / "jail.d" / "fsguard.local").read_text()
    assert "[DEFAULT]" not in jail  # never changes other jails
    for section, enabled in (("fsguard-auth", "true"), ("fsguard-scan", "true"),
                             ("fsguard-sofia", "false"), ("fsguard-fusionpbx", "false")):
        block = jail.split(f"[{section}]")[1].split("\n[")[0]
        assert f"enabled = {enabled}" in block
        assert "bantime.increment = true" in block and "action = fsguard_action.py[" in block


@pytest.mark.parametrize("backend", ["auto", "systemd"])
def test_rendered_private_config_passes_fail2ban_check(tmp_path: Path, backend: str) -> None:
    cfg = _cfg(tmp_path, f"backend = {backend}\n")
    render.render_config(cfg, tmp_path / "conf", logpath=tmp_path / "fs.log", private=True)
    jail = (tmp_path / "conf" / "jail.d" / "fsguard.local").read_text()
    assert ("logpath" in jail) == (backend != "systemd")
    proc = subprocess.run(["fail2ban-client", "-c", str(tmp_path / "conf"), "-t"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_render_refuses_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(render.RenderError):
        render.render_config(_cfg(tmp_path, "backend = gamin\n"), tmp_path / "c", logpath=tmp_path / "l")
    with pytest.raises(render.RenderError):
        render.render_config(_cfg(tmp_path, "netns = a]b\n"), tmp_path / "c", logpath=tmp_path / "l")


# -- service: whitelist wanted, tail/offenders ----------------------------------------------------
def test_wanted_keeps_last_known_registrations_until_expiry(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    svc = Service(cfg, store)
    now = 1_800_000_000.0
    # FreeSWITCH is down: the snapshot is a day old, its entries count until their own expiry
    _snapshot(cfg, [{"ip": "203.0.113.5", "user": "1", "realm": "r", "expires": now + 30},
                    {"ip": "203.0.113.6", "user": "2", "realm": "r", "expires": now - 1},
                    {"ip": "not an ip", "user": "3", "realm": "r", "expires": now + 30}], now - 86400)
    (cfg.state_dir / "whitelist.json").write_text(json.dumps(
        {"version": 1, "written": now, "entries": [{"cidr": "192.0.2.0/24", "source": "allow", "label": "o"},
                                                   {"cidr": "198.51.100.7/32", "source": "carrier", "label": "c"}]}))
    want = svc.wanted(now)
    assert {"203.0.113.5", "192.0.2.0/24", "198.51.100.7", "127.0.0.0/8", "::1"} == want
    assert "203.0.113.5" not in svc.wanted(now + 31)  # the registration ended
    # a broken write keeps the last good snapshot in force
    (cfg.fs_dir / "registrations.json").write_text("{broken")
    assert "203.0.113.5" in svc.wanted(now)
    store.close()


def test_ingest_records_offenders_only_for_whitelisted(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    svc = Service(cfg, store)
    now = time.time()
    _snapshot(cfg, [{"ip": "203.0.113.5", "user": "1000", "realm": "pbx", "expires": now + 600}], now)
    ts = "2026-11-26 19:16:18.546302 48.13% [WARNING] fsguard:1 "
    lines = [ts + eventline.render(TOKEN, "auth-failure", "203.0.113.5", {"user": "1000", "domain": "pbx"}),
             ts + eventline.render(TOKEN, "auth-failure", "203.0.113.5", {"user": "evil\"<b>\n", "domain": "pbx"}),
             ts + eventline.render(TOKEN, "auth-failure", "198.51.100.1", {"user": "x"}),
             ts + eventline.render("othertoken99", "auth-failure", "203.0.113.5", {"user": "forged"}),
             "2026-11-26 19:16:18.546302 [WARNING] sofia_reg.c:1787 SIP auth failure ... FSGUARD"]
    res = TickResult()
    svc.ingest([x.rstrip("\n") for x in lines], now, res)
    assert res.events == 3 and res.offences == 2
    rows = {r["user_identity"]: r for r in evidence.offenders(store)}
    assert set(rows) == {"1000@pbx", "evil\\x22<b>\\x0a@pbx"}  # attacker text stays escaped
    assert all(r["ip_address"] == "203.0.113.5" for r in rows.values())
    svc.ingest([lines[0].rstrip("\n")] * 3, now + 1, res)
    assert {r["user_identity"]: r["failure_count"] for r in evidence.offenders(store)}["1000@pbx"] == 4
    store.close()


def test_tail_follows_rotation(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    svc = Service(cfg, store)
    log = tmp_path / "fs.log"
    log.write_text("old\n")
    assert svc.read_new_lines() == []  # starts at the end
    with open(log, "a") as fh:
        fh.write("a\nb\npartial")
    assert svc.read_new_lines() == ["a", "b"]
    log.unlink()
    log.write_text("c\n")  # rotated: new inode
    assert svc.read_new_lines() == ["c"]
    store.close()


# -- the action (firewall off: harmless) ---------------------------------------------------------
def test_action_records_evidence_and_respects_whitelist(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    now = time.time()
    _snapshot(cfg, [{"ip": "203.0.113.5", "user": "1000", "realm": "pbx", "expires": now + 600}], now)
    rec = Recorder("fsguard-auth", config=str(cfg.path), firewall="off")
    ts = "2026-11-26 19:16:18.546302 48.13% [WARNING] fsguard:1 "
    m1 = ts + eventline.render(TOKEN, "auth-failure", "198.51.100.1", {"user": "100", "domain": "d", "ua": "sipcli"})
    m2 = ("2026-11-26 19:16:18.546302 [WARNING] sofia_reg.c:1787 SIP auth failure (REGISTER) on sofia profile"
          " 'internal' for [200@d] from ip 198.51.100.1")
    rec.ban({"ip": "198.51.100.1", "time": now, "bantime": 600, "failures": 2, "matches": m1.rstrip("\n") + "\n" + m2,
             "restored": 0})
    rec.ban({"ip": "203.0.113.5", "time": now, "bantime": 600, "failures": 5, "matches": "", "restored": 1})
    store = open_store(cfg)
    row = evidence.active_bans(store, "198.51.100.1")[0]
    assert row["failure_count"] == 2 and row["ban_end"] == pytest.approx(now + 600)
    assert json.loads(row["user_names"]) == ["100@d", "200@d"] and json.loads(row["user_agents"]) == ["sipcli"]
    ignored = evidence.bans_for(store, "203.0.113.5")[0]
    assert ignored["ban_status"] == "ignored" and ignored["restored"]
    rec.unban({"ip": "198.51.100.1"})
    assert not evidence.active_bans(store, "198.51.100.1")
    assert evidence.bans_for(store, "198.51.100.1")[0]["unban_reason"] == "fail2ban unban"
    rec.stop()
    store.close()


# -- CLI -----------------------------------------------------------------------------------------
def _fsguard(cfgpath: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FSGUARD_CONFIG=str(cfgpath))
    return subprocess.run([sys.executable, "-m", "fsguard.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_ignore_check_keeps_fail2ban_contract(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    _snapshot(cfg, [{"ip": "203.0.113.5", "user": "1000", "realm": "pbx", "expires": time.time() + 600}], time.time())
    ok = _fsguard(cfg.path, "ignore-check", "203.0.113.5")
    assert ok.returncode == 0 and "registered 1000@pbx" in ok.stdout
    assert _fsguard(cfg.path, "ignore-check", "198.51.100.1").returncode == 1
    for bad in ("1.2.3", "x;rm -rf /", "", "1.2.3.4/24", "<F-USER>"):
        assert _fsguard(cfg.path, "ignore-check", bad).returncode == 2


def test_why_offenders_unban_commands(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, f"socket = {tmp_path / 'none.sock'}\n")
    store = open_store(cfg)
    evidence.record_ban(store, ip="198.51.100.9", jail="fsguard-scan", start=time.time(), seconds=3600, failures=2,
                        matches=["line one", "line two \x1b]0;pwned\x07"], users=["100@d\x1b[2J"],
                        agents=["friendly-scanner"])
    evidence.add_offences(store, {("203.0.113.5", "1000@pbx", "auth-failure"): (7, 1.0, 2.0, "Yealink", "registered")})
    store.close()
    why = _fsguard(cfg.path, "why", "198.51.100.9")
    assert why.returncode == 0, why.stderr
    assert "BANNED" in why.stdout and "fsguard-scan" in why.stdout and "| line two \\x1b]0;pwned\\x07" in why.stdout
    assert "\x1b" not in why.stdout and "\x07" not in why.stdout  # no terminal control bytes
    assert "run: fsguard unban 198.51.100.9" in why.stdout and "friendly-scanner" in why.stdout
    js = json.loads(_fsguard(cfg.path, "--json", "why", "198.51.100.9").stdout)
    assert js["banned"] is True and js["bans"][0]["failure_count"] == 2
    off = _fsguard(cfg.path, "offenders")
    assert "1000@pbx" in off.stdout and "7" in off.stdout
    assert _fsguard(cfg.path, "why", "not-an-ip").returncode == 2
    un = _fsguard(cfg.path, "unban", "198.51.100.9")
    assert un.returncode == 0 and "evidence rows closed: 1" in un.stdout
    assert _fsguard(cfg.path, "unban", "198.51.100.9").returncode == 3  # nothing left to lift


def test_service_once_reports_a_missing_fail2ban_and_keeps_going(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, f"socket = {tmp_path / 'none.sock'}\n")
    proc = _fsguard(cfg.path, "service", "--once")
    assert proc.returncode == 9, proc.stdout + proc.stderr  # Exit.FAIL2BAN_ERROR
    assert "ignore sync" in proc.stdout and "not reachable" in proc.stdout
    assert not (tmp_path / "fs.log").exists()  # FreeSWITCH's log is FreeSWITCH's to create, never root's
