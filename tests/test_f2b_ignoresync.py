"""The ignore-list sync against a real fail2ban-server (firewall off: nothing reaches the kernel).

fail2ban stores some entries in its own spelling (``0.0.0.0/0`` is reported as ``0.0.0.0`` and
can only be deleted as ``0.0.0.0/0``); one refused address or jail must never stop the others,
and a whitelist entry that is removed leaves fail2ban at the next tick."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fs_python import config
from fsguard.f2b import ignoresync, render
from fsguard.f2b.client import Client, Fail2banError
from fsguard.service import Service
from fsguard.store import open_store
from tests.f2b_common import SYS_PY, Server, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("fail2ban-server"),
                                reason="needs root and fail2ban")
JAILS = ("fsguard-auth", "fsguard-scan")


def _setup(tmp: Path) -> tuple[config.Config, Path]:
    conf = tmp / "conf"
    log = tmp / "freeswitch.log"
    cfg = config.load(write_config(tmp, extra=(
        f"socket = {conf / 'fail2ban.sock'}\nlogpath = {log}\njail_dir = {conf / 'jail.d'}\nfirewall = off\n")))
    render.render_config(cfg, conf, logpath=log, private=True)
    return cfg, conf


def _whitelist(cfg: config.Config, cidrs: list[str]) -> None:
    rows = [{"cidr": c, "source": "allow", "label": "t"} for c in cidrs]
    (cfg.state_dir / "whitelist.json").write_text(json.dumps({"version": 1, "written": time.time(), "entries": rows}))


def test_f2b_repr_is_fail2bans_own_spelling() -> None:
    """Checked against fail2ban's own IPAddr, not against a copy of its rules."""
    entries = ["0.0.0.0/0", "::/0", "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "2001:db8::1:0:0:1",
               "::ffff:192.0.2.9", "127.0.0.0/8", "::1"]
    code = ("import sys\nfrom fail2ban.server.ipdns import IPAddr\n"
            "print('\\n'.join(str(IPAddr(a)) for a in sys.argv[1:]))")
    out = subprocess.run([SYS_PY, "-c", code, *entries], capture_output=True, text=True, check=True).stdout.split()
    assert out == [ignoresync.f2b_repr(ignoresync.canon(e) or e) for e in entries]


def test_world_whitelist_is_refused_and_a_hand_added_one_removed(tmp_path: Path) -> None:
    cfg, conf = _setup(tmp_path)
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        client = Client(conf / "fail2ban.sock")
        svc = Service(cfg, store, client=client)
        # a snapshot saying 0.0.0.0/0 (issue 10: re-validated like fresh input) never unbans everyone
        _whitelist(cfg, ["0.0.0.0/0", "::/0", "192.0.2.0/24"])
        res = svc.tick()
        assert not res.errors, res.errors
        for jail in JAILS:
            have = set(client.ignore_list(jail))
            assert "192.0.2.0/24" in have and "0.0.0.0" not in have and "::" not in have
        # steady state: fail2ban's spelling equals fsguard's, nothing to change, nothing fails
        again = svc.tick()
        assert (again.ignore_added, again.ignore_removed, again.errors) == (0, 0, [])
        # a single 0.0.0.0 someone added by hand is removed (deleted in its own spelling)
        client.add_ignore("fsguard-auth", ["0.0.0.0"])
        res = svc.tick()
        assert not res.errors and "0.0.0.0" not in client.ignore_list("fsguard-auth")
    finally:
        server.stop()
        store.close()


class _Refusing(Client):
    """The real server, except that it refuses commands naming one address (fault injection:
    fail2ban refuses e.g. an entry whose spelling it changed; the point is what happens next)."""

    def __init__(self, path: Path, refused: str) -> None:
        super().__init__(path)
        self.refused = refused

    def send(self, cmd: list[str]) -> object:
        if len(cmd) > 3 and cmd[0] == "set" and self.refused in cmd[3:]:
            raise Fail2banError(f"refused {cmd[2]} {self.refused}")
        return super().send(cmd)


def test_one_refused_address_never_stops_the_others(tmp_path: Path) -> None:
    cfg, conf = _setup(tmp_path)
    server = Server(conf)
    server.start()
    store = open_store(cfg)
    try:
        client = _Refusing(conf / "fail2ban.sock", "192.0.2.66")
        svc = Service(cfg, store, client=client)
        _whitelist(cfg, ["192.0.2.66", "192.0.2.67", "198.51.100.0/24"])
        res = svc.tick()
        assert len(res.errors) == len(JAILS) and all("192.0.2.66" in e for e in res.errors), res.errors
        for jail in JAILS:  # every other entry reached every jail
            have = set(client.ignore_list(jail))
            assert {"192.0.2.67", "198.51.100.0/24"} <= have and "192.0.2.66" not in have
        # deletions: the refused one stays (reported), the others go
        client.refused = "192.0.2.67"
        _whitelist(cfg, ["192.0.2.66"])
        res = svc.tick()
        assert len(res.errors) == len(JAILS) and all("192.0.2.67" in e for e in res.errors), res.errors
        for jail in JAILS:
            have = set(client.ignore_list(jail))
            assert "198.51.100.0/24" not in have and "192.0.2.66" in have and "192.0.2.67" in have
    finally:
        server.stop()
        store.close()
