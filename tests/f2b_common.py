"""Shared helpers for the fail2ban tests: config files, rendered dirs, a private fail2ban-server."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = Path(__file__).resolve().parent / "f2b_logs"
F2B_PKG = Path("/usr/lib/python3/dist-packages/fail2ban")
SYS_PY = "/usr/bin/python3"
TOKEN = "f2bsampletoken01"


def write_config(tmp: Path, *, token: str = TOKEN, extra: str = "") -> Path:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    path = tmp / "fsguard.conf"
    path.write_text(
        f"[fsguard]\nstate_dir = {state}\nevent_token = {token}\n"
        f"[store]\nkind = sqlite\npath = {state / 'fsguard.db'}\n"
        f"[fail2ban]\npythonpath = {ROOT}\n{extra}",
        encoding="utf-8",
    )
    return path


def client(conf: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["fail2ban-client", "-c", str(conf), "-s", str(conf / "fail2ban.sock"), *args],
        capture_output=True, text=True, timeout=timeout,
    )


class Server:
    """A private fail2ban-server on a rendered config dir (own socket, dbfile :memory:)."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 30) -> None:
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            ["fail2ban-server", "-f", "-x", "-c", str(self.conf), "-s", str(self.conf / "fail2ban.sock"),
             "-p", str(self.conf / "fail2ban.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fail2ban-server exited {self.proc.returncode}: {self.log()[-3000:]}")
            if client(self.conf, "ping").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("fail2ban-server did not answer")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            client(self.conf, "stop")
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        p = self.conf / "fail2ban.log"
        return p.read_text(errors="replace") if p.exists() else ""


def wait_for(pred: Callable[[], object], timeout: float = 45.0) -> bool:
    """Poll a condition another process makes true (fail2ban's threads); never decides a race."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False
