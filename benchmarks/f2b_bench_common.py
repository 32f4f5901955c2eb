"""Shared pieces of the fail2ban benchmarks: a rendered private config and a private server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fs_python import config  # noqa: E402
from fsguard.f2b import render  # noqa: E402

TOKEN = "benchtoken0123456789"


def make_config(tmp: Path, extra: str = "") -> tuple[config.Config, Path, Path]:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    conf = tmp / "conf"
    log = tmp / "freeswitch.log"
    path = tmp / "fsguard.conf"
    path.write_text(
        f"[fsguard]\nstate_dir = {state}\nevent_token = {TOKEN}\n"
        f"[store]\nkind = sqlite\npath = {state / 'fsguard.db'}\n"
        f"[fail2ban]\npythonpath = {ROOT}\nsocket = {conf / 'fail2ban.sock'}\nlogpath = {log}\n"
        f"jail_dir = {conf / 'jail.d'}\n{extra}",
        encoding="utf-8")
    cfg = config.load(path)
    render.render_config(cfg, conf, logpath=log, private=True)
    return cfg, conf, log


def client(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["fail2ban-client", "-c", str(conf), "-s", str(conf / "fail2ban.sock"), *args],
                          capture_output=True, text=True, timeout=60)


def start_server(conf: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["fail2ban-server", "-f", "-x", "-c", str(conf), "-s", str(conf / "fail2ban.sock"),
                             "-p", str(conf / "fail2ban.pid")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("fail2ban-server exited: " + (conf / "fail2ban.log").read_text()[-2000:])
        if client(conf, "ping").returncode == 0:
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("fail2ban-server did not answer")


def stop_server(conf: Path, proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        client(conf, "stop")
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def event_line(kind: str, ip: str, ts: str, idle: bool = True, **fields: str) -> str:
    from fs_python import eventline

    return f"{ts} {'12.50% ' if idle else ''}[WARNING] fsguard:1 " + eventline.render(TOKEN, kind, ip, dict(fields))
