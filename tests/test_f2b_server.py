"""The real fail2ban-server (private config dir, socket, database) with fsguard's rendered config,
reading a temp FreeSWITCH log; bans checked in the kernel set inside a network namespace (fsg3-*)
that the test creates and always deletes."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from fs_python import config, eventline
from fsguard import evidence
from fsguard.f2b import render
from fsguard.f2b.client import Client
from fsguard.firewall import bans
from fsguard.ops import bans as ops
from fsguard.service import Service
from fsguard.store import open_store
from tests.f2b_common import (
    TOKEN,
    Server,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("fail2ban-server") or not shutil.which("nft"),
    reason="needs root, fail2ban and nftables")

CUSTOMER = "203.0.113.50"
SCANNER = "198.51.100.20"
GUESSER = "198.51.100.21"


def _setup(tmp: Path, netns: str, extra: str = "") -> tuple[config.Config, Path, Path]:
    log = tmp / "freeswitch.log"
    conf = tmp / "conf"
    cfgpath = write_config(tmp, extra=(
        f"netns = {netns}\nsocket = {conf / 'fail2ban.sock'}\nlogpath = {log}\njail_dir = {conf / 'jail.d'}\n"
        + extra) + "[firewall]\nbackend = nftables\n")
    cfg = config.load(cfgpath)
    render.render_config(cfg, conf, logpath=log, private=True)
    return cfg, conf, log


def _register(cfg: config.Config, rows: list[dict[str, object]], written: float | None = None) -> None:
    path = cfg.fs_dir / "registrations.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "written": written or time.time(), "registrations": rows}))
    tmp.replace(path)


def _line(kind: str, ip: str, **fields: object) -> str:
    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".%06d" % (time.time_ns() // 1000 % 1_000_000)
    return f"{ts} 12.50% [WARNING] fsguard:1 " + eventline.render(TOKEN, kind, ip, fields)


def _append(log: Path, lines: list[str]) -> None:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("".join(lines))


def test_scanner_banned_customer_never_offenders_recorded(tmp_path: Path, netns: str) -> None:
    cfg, conf, log = _setup(tmp_path, netns)
    now = time.time()
    _register(cfg, [{"ip": CUSTOMER, "user": "1000", "realm": "pbx.example.com", "expires": now + 3600,
                     "port": "5060", "proto": "udp", "profile": "internal"}])
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        svc = Service(cfg, store, client=Client(conf / "fail2ban.sock"))
        first = svc.tick()
        assert not first.errors, first.errors
        for jail in ("fsguard-auth", "fsguard-scan"):
            assert CUSTOMER in svc.client.ignore_list(jail)
        assert (conf / "jail.d" / "fsguard.whitelist.local").read_text().count(CUSTOMER) == 4

        # a misconfigured phone behind the customer's IP hammers away: 1,000 failures
        customer_lines = [_line("auth-failure", CUSTOMER, user="1000" if i % 10 else "1001",
                                domain="pbx.example.com", ua="Yealink") for i in range(1000)]
        scan_lines = [_line("not-found", SCANNER, number=f"0044{i}", ua="friendly-scanner") for i in range(2)]
        guess_lines = [_line("auth-failure", GUESSER, user=f"{100 + i}", domain="pbx.example.com",
                             ua="sipcli/v1.8") for i in range(5)]
        _append(log, customer_lines)
        _append(log, scan_lines)
        _append(log, guess_lines)

        assert wait_for(lambda: bans.is_banned(cfg, SCANNER, netns=netns)), server.log()[-3000:]
        assert wait_for(lambda: bans.is_banned(cfg, GUESSER, netns=netns)), server.log()[-3000:]
        # everything before the guesser's lines has been read by now: the customer is not banned
        assert not svc.client.is_banned("fsguard-auth", CUSTOMER)
        assert not bans.is_banned(cfg, CUSTOMER, netns=netns)
        assert "Ignore %s" % CUSTOMER in server.log()

        tick = svc.tick()
        assert not tick.errors, tick.errors
        assert tick.offences == 1000
        rows = {r["user_identity"]: r for r in evidence.offenders(store, ip=CUSTOMER)}
        assert rows["1000@pbx.example.com"]["failure_count"] == 900
        assert rows["1001@pbx.example.com"]["failure_count"] == 100
        assert "registered 1000@pbx.example.com" in rows["1000@pbx.example.com"]["whitelist_reason"]
        assert not evidence.offenders(store, ip=SCANNER)  # attackers are banned, not "offenders"

        # evidence rows match the lines written
        scan = evidence.active_bans(store, SCANNER)
        assert len(scan) == 1 and scan[0]["jail"] == "fsguard-scan" and scan[0]["failure_count"] == 2
        # the lines as written, the token masked (stored evidence is shown in the GUI)
        assert json.loads(scan[0]["matches"]) == [eventline.mask_token(x.rstrip("\n")) for x in scan_lines]
        assert TOKEN not in scan[0]["matches"]
        assert json.loads(scan[0]["user_agents"]) == ["friendly-scanner"]
        guess = evidence.active_bans(store, GUESSER)
        assert len(guess) == 1 and guess[0]["jail"] == "fsguard-auth"
        assert json.loads(guess[0]["matches"]) == [eventline.mask_token(x.rstrip("\n")) for x in guess_lines]
        assert json.loads(guess[0]["user_names"]) == [f"{100 + i}@pbx.example.com" for i in range(5)]

        res = ops.why(cfg, store, GUESSER)
        assert res.banned and res.jails == ["fsguard-auth"] and res.kernel_banned
        assert f"fsguard unban {GUESSER}" in res.commands
        who = ops.why(cfg, store, CUSTOMER)
        assert not who.banned and who.whitelisted and len(who.offenders) == 2

        assert f"fsguard allow add {GUESSER} --label 'why it is trusted'" in res.commands

        # whitelists win: the guesser turns out to be a customer -> ignored and unbanned next tick
        _register(cfg, [{"ip": CUSTOMER, "user": "1000", "realm": "pbx.example.com", "expires": time.time() + 600},
                        {"ip": GUESSER, "user": "104", "realm": "pbx.example.com", "expires": time.time() + 600}])
        tick = svc.tick()
        assert tick.unbanned == [GUESSER], tick
        assert not bans.is_banned(cfg, GUESSER, netns=netns)
        assert not evidence.active_bans(store, GUESSER)

        # the registration ends: no longer ignored after the next tick
        _register(cfg, [{"ip": CUSTOMER, "user": "1000", "realm": "pbx.example.com", "expires": time.time() - 1}])
        tick = svc.tick()
        assert tick.ignore_removed >= 1
        assert CUSTOMER not in svc.client.ignore_list("fsguard-auth")

        # operator unban: fail2ban, kernel set and evidence agree
        out = ops.unban(cfg, store, SCANNER, reason="operator")
        assert out.jails == ["fsguard-scan"]
        assert not bans.is_banned(cfg, SCANNER, netns=netns)
        assert not evidence.active_bans(store, SCANNER)
    finally:
        server.stop()
        store.close()


def test_restored_bans_are_rechecked(tmp_path: Path, netns: str) -> None:
    cfg, conf, log = _setup(tmp_path, netns)
    fconf = conf / "fail2ban.conf"
    fconf.write_text(fconf.read_text().replace("dbfile = :memory:", f"dbfile = {tmp_path / 'f2b.sqlite3'}"))
    a, b = "198.51.100.30", "198.51.100.31"
    server = Server(conf)
    server.start()
    try:
        _append(log, [_line("not-found", ip, number="1") for ip in (a, b) for _ in range(2)])
        assert wait_for(lambda: bans.is_banned(cfg, a, netns=netns) and bans.is_banned(cfg, b, netns=netns))
    finally:
        server.stop()
    # stopping fail2ban lifts its bans (it calls unban for each)
    assert not bans.is_banned(cfg, a, netns=netns) and not bans.is_banned(cfg, b, netns=netns)
    # b registers while fail2ban is down; nobody synced fail2ban's ignore list
    _register(cfg, [{"ip": b, "user": "1002", "realm": "pbx.example.com", "expires": time.time() + 600}])
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        assert wait_for(lambda: bans.is_banned(cfg, a, netns=netns))
        assert wait_for(lambda: any(r["restored"] for r in evidence.bans_for(store, b)))
        assert not bans.is_banned(cfg, b, netns=netns)  # whitelisted: not re-applied
        restored_b = [r for r in evidence.bans_for(store, b) if r["restored"]]
        assert restored_b[0]["ban_status"] == "ignored"
        restored_a = [r for r in evidence.bans_for(store, a) if r["restored"]]
        assert restored_a and restored_a[0]["ban_status"] == "banned"
    finally:
        server.stop()
        store.close()


def test_repeat_offender_banned_longer(tmp_path: Path, netns: str) -> None:
    """bantime.increment: a ban that expired and is earned again lasts longer, in fail2ban, the
    kernel set and the evidence (fail2ban calls the action's prolong with the longer time)."""
    cfg, conf, log = _setup(tmp_path, netns, "scan_bantime = 3\n")
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        _append(log, [_line("not-found", SCANNER, number="1") for _ in range(2)])
        assert wait_for(lambda: bans.is_banned(cfg, SCANNER, netns=netns))
        assert wait_for(lambda: not evidence.active_bans(store, SCANNER)
                        and not bans.is_banned(cfg, SCANNER, netns=netns))
        assert evidence.bans_for(store, SCANNER)[0]["ban_seconds"] == 3
        _append(log, [_line("not-found", SCANNER, number="2") for _ in range(2)])
        assert wait_for(lambda: bool(evidence.active_bans(store, SCANNER))
                     and evidence.active_bans(store, SCANNER)[0]["ban_seconds"] > 3), server.log()[-1500:]
        assert f"Increase Ban {SCANNER}" in server.log()
        again = evidence.active_bans(store, SCANNER)[0]
        assert again["ban_end"] == pytest.approx(again["ban_start"] + again["ban_seconds"])
        assert bans.is_banned(cfg, SCANNER, netns=netns)
    finally:
        server.stop()
        store.close()


def test_missing_log_never_stops_fail2ban(tmp_path: Path, netns: str) -> None:
    """fsguard never creates FreeSWITCH's log: the jails also read an empty placeholder, fail2ban
    starts without the log, and the service adds the log to the jails once FreeSWITCH made it."""
    cfg, conf, log = _setup(tmp_path / "x", netns)
    log.unlink()
    # the hazard is real: fail2ban 1.0.2 refuses to start with an enabled jail on a missing log
    with pytest.raises(RuntimeError):
        Server(conf).start(wait=20)
    placeholder = tmp_path / "placeholder.log"
    placeholder.write_bytes(b"")
    jail = conf / "jail.d" / "fsguard.local"
    jail.write_text(jail.read_text().replace(f"logpath = {log}\n", f"logpath = {log}\n          {placeholder}\n"))
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        client = Client(conf / "fail2ban.sock")
        assert wait_for(lambda: client.jails() == ["fsguard-auth", "fsguard-scan"]), server.log()[-1500:]
        assert not log.exists()
        svc = Service(cfg, store)
        assert not svc.tick().errors  # nothing to add yet, nothing created
        assert not log.exists()
        log.write_text("")  # FreeSWITCH starts and creates its log
        assert not svc.tick().errors
        assert str(log) in client.log_paths("fsguard-scan")
        with log.open("a") as fh:
            for _ in range(3):
                fh.write(_line("not-found", SCANNER, number="999"))
        assert wait_for(lambda: client.is_banned("fsguard-scan", SCANNER))
    finally:
        store.close()
        server.stop()


def test_banned_by_both_jails_stays_until_the_longer_ban_ends(tmp_path: Path, netns: str) -> None:
    cfg, conf, log = _setup(tmp_path, netns)
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        client = Client(conf / "fail2ban.sock")
        _append(log, [_line("auth-failure", GUESSER, user=f"{i}", domain="pbx.example.com") for i in range(5)]
                + [_line("not-found", GUESSER, number=f"{i}") for i in range(2)])
        assert wait_for(lambda: len(evidence.active_bans(store, GUESSER)) == 2), server.log()[-3000:]
        assert client.is_banned("fsguard-auth", GUESSER) and client.is_banned("fsguard-scan", GUESSER)
        assert not any(r["restored"] for r in evidence.bans_for(store, GUESSER))
        # force the shorter ban (fsguard-auth, 1 h) to end now
        assert client.unban("fsguard-auth", GUESSER)
        assert wait_for(lambda: [r["jail"] for r in evidence.active_bans(store, GUESSER)] == ["fsguard-scan"])
        assert bans.is_banned(cfg, GUESSER, netns=netns)  # fsguard-scan still holds it
        res = ops.why(cfg, store, GUESSER)
        assert res.banned and res.kernel_banned
        assert [b["jail"] for b in res.bans if b["ban_status"] == "banned"] == ["fsguard-scan"]
        assert client.unban("fsguard-scan", GUESSER)
        assert wait_for(lambda: not bans.is_banned(cfg, GUESSER, netns=netns))
    finally:
        server.stop()
        store.close()


def test_registration_shields_its_identity_not_spraying(tmp_path: Path, netns: str) -> None:
    """One registered identity failing 1,000 times (while registered and after) is never banned;
    the same address failing for 10 identities that never registered from it is banned by the auth
    jail within its findtime; an admin-whitelisted address spraying identities never is."""
    cfg, conf, log = _setup(tmp_path, netns)
    admin = "192.0.2.44"
    (cfg.state_dir / "whitelist.json").write_text(json.dumps(
        {"entries": [{"cidr": f"{admin}/32", "source": "allow", "label": "office"}]}))
    reg = {"ip": CUSTOMER, "user": "1000", "realm": "pbx.example.com", "port": "5060", "proto": "udp",
           "profile": "internal"}
    _register(cfg, [dict(reg, expires=time.time() + 3600)])
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        svc = Service(cfg, store, client=Client(conf / "fail2ban.sock"))
        assert not svc.tick().errors
        assert CUSTOMER in svc.client.ignore_list("fsguard-auth")
        own = [_line("registered-failure", CUSTOMER, method="REGISTER", user="1000", domain="pbx.example.com",
                     ua="Yealink") for _ in range(500)]
        _append(log, own + [_line("not-found", SCANNER, number="1") for _ in range(2)])
        assert wait_for(lambda: bans.is_banned(cfg, SCANNER, netns=netns)), server.log()[-2000:]
        # the registration ends: no shield any more, and its own identity still never bans it
        _register(cfg, [dict(reg, expires=time.time() - 1)])
        assert svc.tick().ignore_removed >= 1 and CUSTOMER not in svc.client.ignore_list("fsguard-auth")
        _append(log, own + [_line("not-found", GUESSER, number="1") for _ in range(2)])
        assert wait_for(lambda: bans.is_banned(cfg, GUESSER, netns=netns)), server.log()[-2000:]
        assert not svc.client.is_banned("fsguard-auth", CUSTOMER)
        assert not bans.is_banned(cfg, CUSTOMER, netns=netns)
        tick = svc.tick()
        assert tick.offences == 500
        rows = {r["user_identity"]: r for r in evidence.offenders(store, ip=CUSTOMER)}
        assert rows["1000@pbx.example.com"]["failure_count"] == 1000
        assert "own identity" in rows["1000@pbx.example.com"]["whitelist_reason"]

        # registered again; now the address sprays identities that never registered from it
        _register(cfg, [dict(reg, expires=time.time() + 3600)])
        assert not svc.tick().errors and CUSTOMER in svc.client.ignore_list("fsguard-auth")
        spray = [_line("auth-failure", CUSTOMER, method="REGISTER", user=f"{2000 + i}", domain="pbx.example.com",
                       ua="sipcli/v1.8") for i in range(9)]
        admin_spray = [_line("auth-failure", admin, user=f"{3000 + i}", domain="pbx.example.com") for i in range(30)]
        _append(log, spray + admin_spray)
        assert not svc.tick().errors
        assert not svc.client.is_banned("fsguard-auth", CUSTOMER)  # 9 < 10: still shielded
        first = time.time()
        tenth = _line("auth-failure", CUSTOMER, method="REGISTER", user="2009", domain="pbx.example.com",
                      ua="sipcli/v1.8")
        _append(log, [tenth])
        tick = svc.tick()
        assert not tick.errors, tick.errors
        assert wait_for(lambda: bans.is_banned(cfg, CUSTOMER, netns=netns), 20), server.log()[-2000:]
        ban = evidence.active_bans(store, CUSTOMER)[0]
        assert ban["jail"] == "fsguard-auth" and ban["ban_start"] - first < 600  # within findtime
        assert sorted(json.loads(ban["user_names"])) == sorted(f"{2000 + i}@pbx.example.com" for i in range(10))
        svc.tick()
        assert CUSTOMER not in svc.client.ignore_list("fsguard-auth")  # the shield is suspended
        res = ops.why(cfg, store, CUSTOMER)
        assert res.banned and not res.whitelisted
        assert any("registration shield suspended" in n for n in res.notes), res.notes
        kinds = {r["event_kind"] for r in evidence.offenders(store, ip=CUSTOMER)}
        assert "shield-suspended" in kinds
        # admin whitelist wins: 30 identities, never banned, all offences
        assert not svc.client.is_banned("fsguard-auth", admin) and not bans.is_banned(cfg, admin, netns=netns)
        assert len(evidence.offenders(store, ip=admin)) == 30
    finally:
        server.stop()
        store.close()
