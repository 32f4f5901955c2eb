"""Attack 10 (second half): a ban row says whether the kernel set add succeeded. A ban fail2ban
believes in but the kernel does not enforce is recorded as such and shown on the dashboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
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


def _info(ip: str) -> dict[str, object]:
    return {"ip": ip, "time": time.time(), "bantime": 600, "failures": 3, "matches": "", "restored": 0}


def test_ban_rows_record_the_kernel_outcome(tmp_path: Path, netns: str) -> None:
    cfg = config.load(write_config(tmp_path, extra="[firewall]\nbackend = nftables\n"))
    Recorder("fsguard-auth", config=str(cfg.path), netns=netns, holds=Holds()).ban(_info("198.51.100.31"))
    gone = "fsg-s2-gone-" + uuid.uuid4().hex[:6]  # a namespace that does not exist: the add fails for real
    with pytest.raises(Exception):  # noqa: B017 - fail2ban must see the failure, whatever its type
        Recorder("fsguard-auth", config=str(cfg.path), netns=gone, holds=Holds()).ban(_info("198.51.100.32"))
    store = open_store(cfg)
    try:
        ok = evidence.bans_for(store, "198.51.100.31")[0]
        bad = evidence.bans_for(store, "198.51.100.32")[0]
    finally:
        store.close()
    assert (ok["ban_status"], ok["kernel_status"]) == ("banned", "added")
    assert bad["kernel_status"].startswith("failed: ") and bad["kernel_status"].isprintable()
    # `fsguard why` says so too
    why = subprocess.run([sys.executable, "-m", "fsguard.cli", "--config", str(cfg.path), "why", "198.51.100.32"],
                         capture_output=True, text=True, timeout=60)
    assert "NOT in the kernel set (failed: " in why.stdout, why.stdout + why.stderr
    why_ok = subprocess.run([sys.executable, "-m", "fsguard.cli", "--config", str(cfg.path), "why", "198.51.100.31"],
                            capture_output=True, text=True, timeout=60)
    assert "fsguard-auth" in why_ok.stdout and "NOT in the kernel" not in why_ok.stdout
