"""The GUI queue and the CLI are adapters over one operations layer (fsguard.ops): driven through
the same scenario they leave the same effects -- fail2ban jails touched (a real private
fail2ban-server, with a jail fsguard does not own), kernel ban sets (nftables in a network namespace
the test creates and deletes), store rows and the whitelist snapshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fs_python import config
from fsguard import queue
from fsguard.cli import main
from fsguard.f2b import render
from fsguard.f2b.client import Client
from fsguard.firewall import bans
from fsguard.store import Store, open_store
from tests.f2b_common import Server, client, write_config

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("fail2ban-server") or not shutil.which("nft"),
    reason="needs root, fail2ban and nftables")

SCANNER = "198.51.100.77"  # banned by fsguard-scan and by a foreign jail; unbanned
CUSTOMER = "198.51.100.78"  # banned by fsguard-auth, then whitelisted
NET = "203.0.113.0/24"  # blacklisted
FOREIGN = "other"  # a jail fsguard does not own: an unban must leave it alone


@dataclass
class Env:
    cfg: config.Config
    conf: Path
    netns: str
    server: Server
    store: Store

    def ban(self, jail: str, ip: str) -> None:
        r = client(self.conf, "set", jail, "banip", ip)
        assert r.returncode == 0, r.stderr

    def observe(self) -> dict[str, Any]:
        c = Client(self.conf / "fail2ban.sock")
        jails = sorted(c.jails())
        snap = self.cfg.state_dir / "whitelist.json"
        return {
            "jails": {ip: [j for j in jails if c.is_banned(j, ip)] for ip in (SCANNER, CUSTOMER)},
            "kernel": {ip: bans.is_banned(self.cfg, ip, netns=self.netns) for ip in (SCANNER, CUSTOMER)},
            "bans": sorted((r["ip_address"], r["jail"], r["ban_status"]) for r in self.store.query(
                "select ip_address, jail, ban_status from v_fsguard_bans")),
            "lists": sorted((r["list_name"], r["cidr"], r["label"], bool(r["entry_enabled"])) for r in self.store.query(
                "select list_name, cidr, label, entry_enabled from v_fsguard_list_entries")),
            "snapshot": json.loads(snap.read_text())["entries"] if snap.exists() else None,
        }


@pytest.fixture
def envs(tmp_path: Path) -> Iterator[tuple[Env, Env]]:
    made: list[Env] = []
    spaces: list[str] = []
    try:
        for side in ("cli", "gui"):
            tmp = tmp_path / side
            tmp.mkdir()
            ns = "fsg3-" + uuid.uuid4().hex[:8]
            subprocess.run(["ip", "netns", "add", ns], check=True)
            spaces.append(ns)
            log, conf = tmp / "freeswitch.log", tmp / "conf"
            cfg = config.load(write_config(tmp, extra=(
                f"netns = {ns}\nsocket = {conf / 'fail2ban.sock'}\nlogpath = {log}\njail_dir = {conf / 'jail.d'}\n"
                "[firewall]\nbackend = nftables\n[feeds]\naccept_test_ranges = yes\n")))
            render.render_config(cfg, conf, logpath=log, private=True)
            (conf / "jail.d" / "other.local").write_text(
                f"[{FOREIGN}]\nenabled = true\nfilter = fsguard-events\nbackend = polling\nlogpath = {log}\n"
                "port = 22\naction =\n")
            server = Server(conf)
            server.start()
            made.append(Env(cfg, conf, ns, server, open_store(cfg)))
        yield made[0], made[1]
    finally:
        for env in made:
            env.server.stop()
            env.store.close()
        for ns in spaces:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def _cli(env: Env, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("FSGUARD_CONFIG", str(env.cfg.path))
    return main(["--config", str(env.cfg.path), *argv])


def _gui(env: Env, action: str, arg: str, label: str = "") -> queue.ActionResult:
    env.store.insert("v_fsguard_actions", {"action_name": action, "action_argument": arg, "action_label": label,
                                           "action_status": "pending", "requested_by": "alice"})
    (res,) = queue.process_pending(env.cfg, env.store)
    assert res.status == "done", res.message
    return res


def test_gui_queue_and_cli_have_the_same_effects(envs: tuple[Env, Env], monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cli, gui = envs
    for env in envs:
        env.ban("fsguard-scan", SCANNER)
        env.ban(FOREIGN, SCANNER)
        env.ban("fsguard-auth", CUSTOMER)
    assert cli.observe() == gui.observe()
    assert cli.observe()["kernel"] == {SCANNER: True, CUSTOMER: True}

    assert _cli(cli, monkeypatch, "unban", SCANNER) == 0
    assert _gui(gui, "unban", SCANNER).message.startswith(f"{SCANNER}: unbanned (jails: fsguard-scan;")
    after_unban = cli.observe()
    assert after_unban == gui.observe()
    # only fsguard's jails were touched, in the configured namespace
    assert after_unban["jails"][SCANNER] == [FOREIGN]
    assert after_unban["kernel"][SCANNER] is False
    assert ("198.51.100.77", "fsguard-scan", "unbanned") in after_unban["bans"]

    assert _cli(cli, monkeypatch, "allow", "add", CUSTOMER, "--label", "customer PBX") == 0
    _gui(gui, "allow", CUSTOMER, "customer PBX")
    assert _cli(cli, monkeypatch, "deny", "add", NET, "--label", "scanner net") == 0
    _gui(gui, "deny", NET, "scanner net")
    capsys.readouterr()

    end = cli.observe()
    assert end == gui.observe()
    assert end["jails"] == {SCANNER: [FOREIGN], CUSTOMER: []}  # whitelisting lifted the customer's ban
    assert end["kernel"] == {SCANNER: False, CUSTOMER: False}
    assert all(status == "unbanned" for _ip, _jail, status in end["bans"])
    assert end["lists"] == [("allow", f"{CUSTOMER}/32", "customer PBX", True),
                            ("deny", NET, "scanner net", True)]
    assert [e["cidr"] for e in end["snapshot"]] == [f"{CUSTOMER}/32"]
