"""fail2ban reload and restart keep fsguard armed: a real fail2ban-server (private config dir and
sqlite database), fsguard's rendered action, bans checked in the kernel set inside a network
namespace (fsg3-*) the test creates and always deletes."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from fs_python import config, eventline
from fsguard import evidence
from fsguard.cli import status
from fsguard.f2b import armed, render
from fsguard.f2b.client import Client
from fsguard.firewall import bans
from fsguard.service import Service
from fsguard.store import open_store
from tests.f2b_common import (
    TOKEN,
    Server,
    client,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("fail2ban-server") or not shutil.which("nft"),
    reason="needs root, fail2ban and nftables")

A, B, C = "198.51.100.40", "198.51.100.41", "198.51.100.42"


def _setup(tmp: Path, netns: str) -> tuple[config.Config, Path, Path]:
    log = tmp / "freeswitch.log"
    conf = tmp / "conf"
    cfg = config.load(write_config(tmp, extra=(
        f"netns = {netns}\nsocket = {conf / 'fail2ban.sock'}\nlogpath = {log}\njail_dir = {conf / 'jail.d'}\n"
        "armed_check_interval = 0\n[firewall]\nbackend = nftables\n")))
    render.render_config(cfg, conf, logpath=log, private=True)
    fconf = conf / "fail2ban.conf"  # a database file: bans must survive a restart, as on a host
    fconf.write_text(fconf.read_text().replace("dbfile = :memory:", f"dbfile = {tmp / 'f2b.sqlite3'}"))
    return cfg, conf, log


def _scan(log: Path, ip: str) -> None:
    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".000001"
    with open(log, "a", encoding="utf-8") as fh:
        for i in range(2):
            fh.write(f"{ts} 12.50% [WARNING] fsguard:1 " + eventline.render(TOKEN, "not-found", ip, {"number": str(i)}))


def _actions(conf: Path, jail: str) -> list[str]:
    return [str(a) for a in Client(conf / "fail2ban.sock").send(["get", jail, "actions"]) or []]


def _f2b(conf: Path, *args: str) -> None:
    proc = client(conf, *args, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reload_and_restarts_keep_bans_in_the_kernel(tmp_path: Path, netns: str) -> None:
    cfg, conf, log = _setup(tmp_path, netns)
    kernel = lambda ip: bans.is_banned(cfg, ip, netns=netns)  # noqa: E731
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        _scan(log, A)
        assert wait_for(lambda: kernel(A)), server.log()[-2000:]
        # reload (what `fsguard install` runs, and any operator): the action stays, the ban stays
        _f2b(conf, "reload")
        assert _actions(conf, "fsguard-scan") == [armed.ACTION]
        assert kernel(A) and evidence.active_bans(store, A)
        _scan(log, B)  # a ban after the reload reaches the kernel and leaves evidence
        assert wait_for(lambda: kernel(B) and bool(evidence.active_bans(store, B))), server.log()[-2000:]
        state = armed.check(cfg, Client(conf / "fail2ban.sock"), render.JAILS)
        assert state.ok, state.problems()
        assert set(next(j for j in state.jails if j.jail == "fsguard-scan").banned) == {A, B}
        # a jail restart: its bans are lifted, then restored from fail2ban's database
        _f2b(conf, "restart", "fsguard-scan")
        assert wait_for(lambda: kernel(A) and kernel(B)), server.log()[-2000:]
        assert _actions(conf, "fsguard-scan") == [armed.ACTION]
        # a server restart: the same
        server.stop()
        assert not kernel(A) and not kernel(B)  # fail2ban lifts its bans when it stops
        server.start()
        assert wait_for(lambda: kernel(A) and kernel(B)), server.log()[-2000:]
        _f2b(conf, "reload")
        _scan(log, C)
        assert wait_for(lambda: kernel(C)), server.log()[-2000:]
        assert kernel(A) and kernel(B)
    finally:
        server.stop()
        store.close()


def _old_action() -> str:
    """The action as fsguard rendered it before: no reload()/clearAllParams()."""
    text = render.action_py()
    cut = re.sub(r"\n    # fail2ban keeps a Python action across.*?old\.stop\(\)\n", "\n", text, flags=re.S)
    assert "def reload" not in cut and "clearAllParams" not in cut
    return cut


def _status(cfg: config.Config, monkeypatch: pytest.MonkeyPatch) -> dict[str, status.Check]:
    monkeypatch.setenv("FSGUARD_CONFIG", str(cfg.path))
    return {c.name: c for c in status.collect().checks}


def test_service_rearms_a_jail_whose_action_fail2ban_dropped(tmp_path: Path, netns: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, conf, log = _setup(tmp_path, netns)
    kernel = lambda ip: bans.is_banned(cfg, ip, netns=netns)  # noqa: E731
    action_file = conf / "action.d" / "fsguard_action.py"
    action_file.write_text(_old_action())
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        _scan(log, A)
        assert wait_for(lambda: kernel(A)), server.log()[-2000:]
        # the finding, on the real server: a reload drops such an action and lifts its bans
        _f2b(conf, "reload")
        assert _actions(conf, "fsguard-scan") == []
        assert not kernel(A)
        fsc = Client(conf / "fail2ban.sock")
        assert fsc.is_banned("fsguard-scan", A)  # fail2ban still believes it bans A
        state = armed.check(cfg, fsc, render.JAILS)
        assert not state.ok
        assert any("fsguard-scan: fsguard's action is not loaded" in p for p in state.problems())
        assert any(A in p and "not in the kernel set" in p for p in state.problems())
        checks = _status(cfg, monkeypatch)  # `fsguard status` says so, and the loop is not running
        assert checks["fail2ban armed"].state == "fail" and "fsguard-scan" in checks["fail2ban armed"].detail
        assert checks["service loop"].state == "fail" and "not running" in checks["service loop"].detail

        # fsguard (re-)renders the current action; the service's next tick re-arms the jail
        render.render_config(cfg, conf, logpath=log, private=True)
        fconf = conf / "fail2ban.conf"
        fconf.write_text(fconf.read_text().replace("dbfile = :memory:", f"dbfile = {tmp_path / 'f2b.sqlite3'}"))
        svc = Service(cfg, store, client=fsc)
        tick = svc.tick()
        assert any("fsguard-scan" in r and "jail restarted" in r for r in tick.repaired), tick
        assert not tick.errors, tick.errors
        assert wait_for(lambda: kernel(A)), server.log()[-2000:]
        assert _actions(conf, "fsguard-scan") == [armed.ACTION]

        # a kernel entry lost some other way (a flush by hand): put back for the rest of the ban
        bans.del_ban(cfg, A, netns=netns)
        tick = svc.tick()
        assert any(A in r and "put back" in r for r in tick.repaired), tick
        assert kernel(A)
        assert armed.check(cfg, fsc, render.JAILS).ok
        tick = svc.tick()
        assert tick.repaired == [] and not tick.errors  # nothing to repair: says nothing
        checks = _status(cfg, monkeypatch)
        assert checks["fail2ban armed"].state == "ok", checks["fail2ban armed"]
        assert checks["service loop"].state == "ok", checks["service loop"]
    finally:
        server.stop()
        store.close()


def test_uninstall_release_leaves_fail2ban_clean(tmp_path: Path, netns: str) -> None:
    """Uninstall lifts fsguard's bans through fail2ban (while fsguard's store still exists), deletes
    them from fail2ban's database and stops fsguard's jails: a re-install restores no old ban."""
    import sqlite3

    from fsguard.install import f2bhost, installer

    cfg, conf, log = _setup(tmp_path, netns)
    kernel = lambda ip: bans.is_banned(cfg, ip, netns=netns)  # noqa: E731
    db = tmp_path / "f2b.sqlite3"
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        _scan(log, A)
        assert wait_for(lambda: kernel(A) and bool(evidence.active_bans(store, A))), server.log()[-2000:]
        fsc = Client(conf / "fail2ban.sock")
        assert wait_for(lambda: sqlite3.connect(db).execute("select count(*) from bans").fetchone()[0] > 0)
        t = installer.default_target("freeswitch")
        t.root = tmp_path
        steps = f2bhost.release(t, fsc)
        assert [s.status for s in steps] == ["done", "done"], steps
        assert "1 bans lifted" in steps[0].detail
        assert not kernel(A) and not evidence.active_bans(store, A)
        assert not [j for j in fsc.jails() if j.startswith("fsguard")]
        con = sqlite3.connect(db)
        assert con.execute("select count(*) from bans").fetchone()[0] == 0
        assert con.execute("select count(*) from bips").fetchone()[0] == 0
        con.close()
    finally:
        server.stop()
    server = Server(conf)  # "re-install": the same jails start again, with no old ban
    seen = len(server.log())
    server.start()
    try:
        fsc = Client(conf / "fail2ban.sock")
        assert fsc.jails() == ["fsguard-auth", "fsguard-scan"]
        _scan(log, B)  # wait for a new ban: by then restored ones would have been re-applied
        assert wait_for(lambda: kernel(B)), server.log()[-2000:]
        assert not fsc.is_banned("fsguard-scan", A) and not kernel(A)
        assert "Restore Ban" not in server.log()[seen:]
    finally:
        server.stop()
        store.close()


def test_ban_is_applied_before_the_filter_reads_on(tmp_path: Path, netns: str) -> None:
    """fsguard.f2b.prompt: the ban runs in the filter thread right after fail2ban decides it, so it
    is in the kernel before the next line is even read (fail2ban's actions thread would poll)."""
    cfg, conf, log = _setup(tmp_path, netns)
    server = Server(conf)
    server.start()
    try:
        ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".000001"
        with open(log, "a", encoding="utf-8") as fh:  # eight guesses in one write: maxretry is 5
            fh.write("".join(f"{ts} 12.50% [WARNING] fsguard:1 " + eventline.render(
                TOKEN, "auth-failure", A, {"user": f"{100 + i}", "domain": "pbx.example.com"}) for i in range(8)))
        assert wait_for(lambda: server.log().count(f"Found {A}") == 8), server.log()[-2000:]
        text = server.log()
        found = [m.start() for m in re.finditer(re.escape(f"Found {A}"), text)]
        assert text.index(f"Ban {A}") < found[5], text[-3000:]
        assert "prompt ban failed" not in text
        assert bans.is_banned(cfg, A, netns=netns)
    finally:
        server.stop()
