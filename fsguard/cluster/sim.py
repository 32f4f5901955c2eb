"""Simulated cluster nodes on one host: each node a network namespace (its kernel ban sets), a
state dir and a config of its own, the real fail2ban action code (``Recorder``, called directly)
and the real cluster runtime (listener, publisher, outbox, tick). Used by
``fsguard drill --simulate --nodes N``, the cluster tests and the benchmark."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fs_python import config
from fsguard.cluster import publish
from fsguard.cluster.listener import Listener
from fsguard.cluster.node import Runtime, lists_refresh
from fsguard.f2b.action import Recorder
from fsguard.firewall import bans

NS_PREFIX = "fsgc-"  # namespaces made here (a killed drill's leftovers: `ip netns del fsgc-...`)


def wait_until(cond: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll a condition (the order is forced by the condition, the timeout only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class SimNode:
    def __init__(self, name: str, db: dict[str, str], base: Path, *, netns: str | None = None,
                 on_applied: Any = None, cluster: bool = True) -> None:
        self.name = name
        self.own_ns = netns is None
        self.ns = netns or f"{NS_PREFIX}{uuid.uuid4().hex[:6]}{name}"[:15]
        if self.own_ns:
            subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
            self.exec("ip", "link", "set", "lo", "up")
        self.state = base / name
        self.state.mkdir(parents=True, exist_ok=True)
        store = "".join(f"{k} = {db[k]}\n" for k in ("host", "port", "dbname", "user", "password") if db.get(k))
        self.path = base / f"{name}.conf"
        self.path.write_text(f"[fsguard]\nstate_dir = {self.state}\n[store]\nkind = pgsql\n{store}"
                             "[feeds]\naccept_test_ranges = yes\n[firewall]\nbackend = nftables\n"
                             f"[fail2ban]\nnetns = {self.ns}\n"
                             f"socket = {base / name / 'none.sock'}\njail_dir =\n"
                             + (f"[cluster]\nnode = {name}\n" if cluster else ""))
        self.cfg = config.load(self.path)
        self.on_applied = on_applied
        self.rt: Runtime | None = None
        self.recorder = Recorder("fsguard-sip", config=str(self.path), netns=self.ns)

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True, check=check)

    def start(self, wait: float = 10.0) -> bool:
        """Start the node's cluster runtime; True once it has loaded the bans in force."""
        listener = Listener(self.cfg, fail2ban_unban=None, lists_changed=lists_refresh(self.cfg),
                            feeds_changed=lists_refresh(self.cfg, feeds=True), on_applied=self.on_applied)
        self.rt = Runtime(self.cfg, listener=listener)
        return self.rt.start(wait)

    def stop(self) -> None:
        if self.rt is not None:
            self.rt.stop()
            self.rt = None

    def ban(self, ip: str, seconds: int = 600, start: float | None = None) -> None:
        """What fail2ban's action does when this node's jail bans ``ip``."""
        self.recorder.ban({"ip": ip, "time": start or time.time(), "bantime": seconds, "failures": 5,
                           "matches": "", "restored": 0})

    def banned(self, ip: str) -> bool:
        return bans.is_banned(self.cfg, ip, netns=self.ns)

    def close(self) -> None:
        self.stop()
        self.recorder.stop()
        if self.own_ns:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, check=False)


def close_nodes(nodes: list[Any]) -> None:
    for n in nodes:
        with contextlib.suppress(Exception):  # cleanup goes on for the others
            n.close()
    publish.close_all()
