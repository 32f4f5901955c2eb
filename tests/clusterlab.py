"""Three (or more) fsguard nodes on one real PostgreSQL, each with its own network namespace
(kernel ban sets), state dir and config; shared by tests/test_cluster.py and
benchmarks/bench_cluster.py. ``PrivatePG`` is a throwaway PostgreSQL on its own port and socket
dir that a test may stop and start (the shared test cluster is never touched)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fs_python import config
from fsguard.cluster import publish
from fsguard.cluster.listener import Listener
from fsguard.cluster.node import Runtime, lists_refresh
from fsguard.f2b.action import Recorder
from fsguard.firewall import bans
from tests.fsg4net import Lab

PG_BIN = Path("/usr/lib/postgresql") / (sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]
                                         if os.path.isdir("/usr/lib/postgresql") else "0") / "bin"


def wait_until(cond: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll a condition (the order is forced by the condition, the timeout only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class PrivatePG:
    """initdb + pg_ctl in a temp dir, trust auth on 127.0.0.1:<port>, run as the postgres user."""

    def __init__(self, *, fsync: bool = False) -> None:
        with socket.socket() as s:  # a free port now (the kernel picks it)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.fsync = "on" if fsync else "off"
        self.dir = Path(tempfile.mkdtemp(prefix="fsg-pg-"))
        try:
            shutil.chown(self.dir, "postgres", "postgres")
            self.data = self.dir / "data"
            self._pg("initdb", "-D", str(self.data), "-U", "fsg", "--auth=trust", "-E", "UTF8")
            self.start()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _pg(self, tool: str, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *argv], check=True,
                       capture_output=True, cwd="/")

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={self.fsync}", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def params(self) -> dict[str, str]:
        return {"host": "127.0.0.1", "port": str(self.port), "user": "fsg", "password": "", "dbname": "postgres"}

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """One node: namespace ``lab.pbx`` holds its kernel sets; a Runtime (listener, outbox, tick)
    and a fail2ban action Recorder (the real action code, called directly)."""

    def __init__(self, name: str, db: dict[str, str], base: Path, *, on_applied: Any = None,
                 cluster: bool = True) -> None:
        self.name = name
        self.lab = Lab(name)
        self.state = base / name
        self.state.mkdir(parents=True, exist_ok=True)
        store = "".join(f"{k} = {db[k]}\n" for k in ("host", "port", "dbname", "user", "password") if db.get(k))
        self.path = base / f"{name}.conf"
        self.path.write_text(f"[fsguard]\nstate_dir = {self.state}\n[store]\nkind = pgsql\n{store}"
                             "[feeds]\naccept_test_ranges = yes\n[firewall]\nbackend = nftables\n"
                             f"[fail2ban]\nnetns = {self.lab.pbx}\n"
                             f"socket = {base / name / 'none.sock'}\njail_dir =\n"
                             + (f"[cluster]\nnode = {name}\n" if cluster else ""))
        self.cfg = config.load(self.path)
        self.on_applied = on_applied
        self.rt: Runtime | None = None
        self.recorder = Recorder("fsguard-sip", config=str(self.path), netns=self.lab.pbx)

    def start(self, wait: float = 10.0) -> bool:
        listener = Listener(self.cfg, fail2ban_unban=None, lists_changed=lists_refresh(self.cfg),
                            feeds_changed=lists_refresh(self.cfg, feeds=True),
                            on_applied=self.on_applied)
        self.rt = Runtime(self.cfg, listener=listener)
        return self.rt.start(wait)

    def stop(self) -> None:
        if self.rt is not None:
            self.rt.stop()
            self.rt = None

    def ban(self, ip: str, seconds: int = 600, start: float | None = None) -> None:
        self.recorder.ban({"ip": ip, "time": start or time.time(), "bantime": seconds, "failures": 5,
                           "matches": "", "restored": 0})

    def banned(self, ip: str) -> bool:
        return bans.is_banned(self.cfg, ip, netns=self.lab.pbx)

    def close(self) -> None:
        self.stop()
        self.recorder.stop()
        self.lab.close()


def close_nodes(nodes: list[Node]) -> None:
    for n in nodes:
        try:
            n.close()
        except Exception:  # noqa: S110 - cleanup goes on for the others
            pass
    publish.close_all()
