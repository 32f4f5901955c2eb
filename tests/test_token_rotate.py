"""``fsguard token rotate`` against a real fail2ban-server: the filter file stays root's only,
lines FreeSWITCH writes with the old token during the grace period still count, FreeSWITCH's
code picks the new token up from the config without a restart, and after the grace period a line
with the old token counts nowhere."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from fs_python import config, eventline, fslog
from fsguard.f2b import render, token
from fsguard.f2b.client import Client
from tests.f2b_common import TOKEN, Server, wait_for, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("fail2ban-server"),
                                reason="needs root and fail2ban")


def _line(tok: str, ip: str) -> str:
    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".%06d" % (time.time_ns() // 1000 % 1_000_000)
    return f"{ts} 12.50% [WARNING] fsguard:1 " + eventline.render(tok, "not-found", ip, {"number": "999"})


def test_rotation_keeps_failures_and_then_retires_the_old_token(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "freeswitch.log"
    conf = tmp_path / "conf"
    cfgpath = write_config(tmp_path, extra=f"socket = {conf / 'fail2ban.sock'}\nlogpath = {log}\nfirewall = off\n"
                                           "scan_maxretry = 2\n")
    cfgpath.chmod(0o640)
    render.render_config(config.load(cfgpath), conf, logpath=log, private=True)
    monkeypatch.setenv("FSGUARD_CONFIG", str(cfgpath))
    monkeypatch.setattr(fslog, "RECHECK_SECONDS", 0.0)
    fslog.reset()
    assert fslog.token() == TOKEN  # what FreeSWITCH's code uses now
    server = Server(conf)
    server.start()
    try:
        client = Client(conf / "fail2ban.sock")
        assert wait_for(lambda: "fsguard-scan" in client.jails())
        rot = token.Rotation(cfgpath, conf, str(conf / "fail2ban.sock"))
        new = token.begin(rot, grace=3600)
        assert new != TOKEN and "fail2ban reloaded" in rot.steps
        flt = conf / token.FILTER
        assert flt.stat().st_mode & 0o777 == 0o600 and new in flt.read_text() and TOKEN in flt.read_text()
        assert cfgpath.stat().st_mode & 0o777 == 0o640  # FreeSWITCH's group still reads it
        assert fslog.token() == new  # re-read on the mtime change: no FreeSWITCH restart
        cfg = config.load(cfgpath)
        assert cfg.event_tokens(time.time()) == (new, TOKEN)
        # lines written with the old token meanwhile still count, and so do new ones
        with log.open("a") as fh:
            fh.write(_line(TOKEN, "198.51.100.31") * 2 + _line(new, "198.51.100.32") * 2)
        assert wait_for(lambda: client.is_banned("fsguard-scan", "198.51.100.31"))
        assert wait_for(lambda: client.is_banned("fsguard-scan", "198.51.100.32"))
        token.finish(rot)
        assert TOKEN not in flt.read_text() and TOKEN not in cfgpath.read_text()
        assert config.load(cfgpath).event_tokens(time.time()) == (new,)
        # the old token counts nowhere now: its lines come first, a new-token line after them proves
        # they were read
        with log.open("a") as fh:
            fh.write(_line(TOKEN, "198.51.100.33") * 3 + _line(new, "198.51.100.34") * 2)
        assert wait_for(lambda: client.is_banned("fsguard-scan", "198.51.100.34"))
        assert not client.is_banned("fsguard-scan", "198.51.100.33")
    finally:
        server.stop()
        fslog.reset()


def test_cli_rotate_refuses_a_config_without_a_token(tmp_path: Path) -> None:
    cfgpath = tmp_path / "fsguard.conf"
    cfgpath.write_text("[fsguard]\nstate_dir = /nonexistent\n")
    with pytest.raises(ValueError, match="no valid"):
        token.begin(token.Rotation(cfgpath, tmp_path / "f2b"))
    assert cfgpath.read_text() == "[fsguard]\nstate_dir = /nonexistent\n"
