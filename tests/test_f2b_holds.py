"""Bans last as long as fail2ban says: the action's ban/prolong in both orders, and one address held
by two jails, against a real nftables ban set inside a network namespace the test creates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fs_python import config
from fsguard import evidence
from fsguard.f2b.action import Holds, Recorder
from fsguard.store import open_store
from tests.f2b_common import (
    write_config,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nftables")

IP = "198.51.100.77"


def _cfg(tmp: Path) -> config.Config:
    return config.load(write_config(tmp, extra="[firewall]\nbackend = nftables\n"))


def _kernel_timeout(netns: str, ip: str) -> int | None:
    """Seconds the kernel entry was set to last (its timeout), None when absent."""
    out = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "set", "inet", "fsguard", "ban4"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    for item in json.loads(out.stdout)["nftables"]:
        for elem in item.get("set", {}).get("elem", []):
            e = elem.get("elem", elem) if isinstance(elem, dict) else elem
            if isinstance(e, dict) and e.get("val") == ip:
                return int(e.get("timeout", 0))
            if e == ip:
                return 0
    return None


def _rec(cfg: config.Config, jail: str, netns: str, holds: Holds) -> Recorder:
    return Recorder(jail, config=str(cfg.path), netns=netns, holds=holds)


def _info(seconds: int, **kw: object) -> dict[str, object]:
    return {"ip": IP, "time": time.time(), "bantime": seconds, "failures": 2, "matches": "", "restored": 0, **kw}


@pytest.mark.parametrize("order", ["ban-first", "prolong-first"])
def test_longer_ban_wins_whatever_order(tmp_path: Path, netns: str, order: str) -> None:
    cfg = _cfg(tmp_path)
    rec = _rec(cfg, "fsguard-scan", netns, Holds())
    if order == "ban-first":
        rec.ban(_info(600))
        rec.prolong(_info(7200))
    else:  # fail2ban's observer thread ahead of its actions thread
        rec.prolong(_info(7200))
        rec.ban(_info(600))
    store = open_store(cfg)
    try:
        row = evidence.active_bans(store, IP)[0]
        assert row["ban_seconds"] == 7200
        assert row["ban_end"] == pytest.approx(row["ban_start"] + 7200)
        timeout = _kernel_timeout(netns, IP)
        assert timeout is not None and 7200 <= timeout <= 7200 + 31  # + ban_grace
        rec.prolong(_info(60))  # a shorter announcement never shortens the ban
        assert evidence.active_bans(store, IP)[0]["ban_seconds"] == 7200
        assert (_kernel_timeout(netns, IP) or 0) > 7000
    finally:
        rec.stop()
        store.close()


@pytest.mark.parametrize("first", ["fsguard-auth", "fsguard-scan"])
def test_kernel_entry_lives_until_the_last_jail_releases(tmp_path: Path, netns: str, first: str) -> None:
    cfg = _cfg(tmp_path)
    holds = Holds()
    auth, scan = _rec(cfg, "fsguard-auth", netns, holds), _rec(cfg, "fsguard-scan", netns, holds)
    recs = {"fsguard-auth": (auth, 3600), "fsguard-scan": (scan, 86400)}
    second = "fsguard-scan" if first == "fsguard-auth" else "fsguard-auth"
    r1, s1 = recs[first]
    r2, s2 = recs[second]
    r1.ban(_info(s1))
    # bantime.overalljails: fail2ban flags the second jail's ban "restored" (it found the first in its DB)
    r2.ban(_info(s2, restored=1))
    store = open_store(cfg)
    try:
        assert 86400 <= (_kernel_timeout(netns, IP) or 0) <= 86400 + 31  # the longer ban counts
        assert not any(r["restored"] for r in evidence.bans_for(store, IP))
        auth.unban({"ip": IP})  # the shorter ban ends
        assert 86000 <= (_kernel_timeout(netns, IP) or 0) <= 86400 + 31  # still banned by fsguard-scan
        rows = {r["jail"]: r for r in evidence.bans_for(store, IP)}
        assert rows["fsguard-auth"]["ban_status"] == "unbanned"
        assert "still banned by fsguard-scan" in rows["fsguard-auth"]["unban_reason"]
        assert rows["fsguard-scan"]["ban_status"] == "banned"
        scan.unban({"ip": IP})
        assert _kernel_timeout(netns, IP) is None
        assert not evidence.active_bans(store, IP)
    finally:
        auth.stop()
        scan.stop()
        store.close()


def test_real_restore_still_flagged(tmp_path: Path, netns: str) -> None:
    cfg = _cfg(tmp_path)
    rec = _rec(cfg, "fsguard-scan", netns, Holds())
    rec.ban(_info(600, restored=1, time=time.time() - 300))  # from fail2ban's database at start
    store = open_store(cfg)
    try:
        assert evidence.bans_for(store, IP)[0]["restored"]
    finally:
        rec.unban({"ip": IP})
        rec.stop()
        store.close()
