"""What the drill created, written down *before* it is created, so nothing outlives the drill.

Each run keeps one JSON file ``<run_dir>/<run_id>.json`` (``/run/fsguard-drill`` by default: a
tmpfs, emptied at reboot exactly like the namespaces it lists). Items are recorded before the
resource exists and removed from the file once it is gone, so a run killed at any instant leaves a
file that lists at most a few things that no longer exist (removing those is a no-op). A later run
(and ``fsguard drill --cleanup``) sweeps the files of runs whose process is dead.

Items are validated again when read back: only ``fsgd-`` namespaces, only processes whose start
time still matches (a recycled pid is never killed), only directories named ``fsguard-drill-*``,
only addresses inside the drill's own range. A tampered file can make the sweep do nothing wrong.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RUN_DIR_ENV = "FSGUARD_DRILL_RUN_DIR"
DEFAULT_RUN_DIR = Path("/run/fsguard-drill")
NETNS_RE = re.compile(r"^fsgd-[a-z0-9]{1,12}-[a-z0-9]{1,8}$")
RUN_ID_RE = re.compile(r"^[a-z0-9]{1,12}$")
ORPHAN_AGE = 600.0  # seconds; a drill takes well under one minute
DRILL_NETWORK = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 benchmarking range

Item = dict[str, Any]
# Called for items only the caller knows how to undo (firewall bans, list entries, store rows).
Undo = Callable[[Item], None]


def run_dir() -> Path:
    return Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)


def new_run_id() -> str:
    return "%x" % (int(time.time() * 1000) % 0xFFFFFF) + "%02x" % (os.getpid() % 256)


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: together with the pid it names one process for ever."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    return rest[19] if len(rest) > 19 else None


def pid_alive(pid: int, start: str | None) -> bool:
    """The process that had this start time still runs (a zombie counts as gone)."""
    if start is None or proc_start_time(pid) != start:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return False
    return data[data.rfind(")") + 2 :][:1] not in ("Z", "X")


class Ledger:
    """The state file of one run."""

    def __init__(self, run_id: str, directory: Path | None = None) -> None:
        if not RUN_ID_RE.match(run_id):
            raise ValueError("bad drill run id")
        self.run_id = run_id
        self.dir = directory or run_dir()
        self.path = self.dir / f"{run_id}.json"
        self.items: list[Item] = []
        self.pid = os.getpid()
        self.pid_start = proc_start_time(self.pid)

    # -- file ------------------------------------------------------------------------------
    def _write(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {"version": 1, "run": self.run_id, "pid": self.pid, "pid_start": self.pid_start,
                "written": time.time(), "items": self.items}
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    def record(self, kind: str, **fields: Any) -> Item:
        """Write the item down first; the caller creates the resource afterwards."""
        item: Item = {"kind": kind, **fields}
        self.items.append(item)
        self._write()
        return item

    def forget(self, item: Item) -> None:
        if item in self.items:
            self.items.remove(item)
            self._write()

    def close(self) -> None:
        """Everything is undone: the file goes."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    # -- undo ------------------------------------------------------------------------------
    def undo_all(self, undo: Undo | None = None) -> list[str]:
        """Undo every item, newest first; return problems (empty = all clean)."""
        problems: list[str] = []
        for item in list(reversed(self.items)):
            try:
                undo_item(item, undo)
            except Exception as exc:  # keep going: one stuck item must not keep others alive
                problems.append(f"{describe(item)}: {exc}")
                continue
            self.forget(item)
        if not problems:
            self.close()
        return problems


def describe(item: Item) -> str:
    kind = item.get("kind")
    if kind == "netns":
        return f"namespace {item.get('name')}"
    if kind == "process":
        return f"process {item.get('pid')} ({item.get('what', '')})"
    if kind == "dir":
        return f"directory {item.get('path')}"
    return f"{kind} {item.get('ip') or item.get('name') or item.get('uuid') or ''}".strip()


def _kill(pid: int, start: str | None) -> None:
    if not pid_alive(pid, start):
        return
    os.kill(pid, signal.SIGTERM)
    # Give it 3 s to end cleanly (fail2ban-server unbans and joins its threads), then SIGKILL.
    for sig_after in (3.0, 3.0):
        deadline = time.monotonic() + sig_after
        while time.monotonic() < deadline:
            try:  # our own child: reap it so it does not linger as a zombie
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not pid_alive(pid, start):
                return
            time.sleep(0.05)
        if pid_alive(pid, start):
            os.kill(pid, signal.SIGKILL)
    raise RuntimeError(f"process {pid} did not end")


def del_netns(name: str) -> None:
    if not NETNS_RE.match(name):
        raise ValueError(f"refusing to delete namespace {name!r}: not a drill namespace")
    if not Path("/run/netns", name).exists():
        return
    # Processes still inside would keep the namespace alive after `ip netns del`: end them first
    # (only the ones `ip netns pids` names, i.e. processes we started there).
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    for tok in pids.stdout.split():
        if tok.isdigit():
            _kill(int(tok), proc_start_time(int(tok)))
    proc = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True, check=False)
    if proc.returncode != 0 and Path("/run/netns", name).exists():
        raise RuntimeError(proc.stderr.strip() or "ip netns del failed")


def in_drill_range(ip: object) -> bool:
    try:
        return ipaddress.ip_address(str(ip)) in DRILL_NETWORK
    except ValueError:
        return False


def undo_item(item: Item, undo: Undo | None = None) -> None:
    kind = item.get("kind")
    if kind == "netns":
        del_netns(str(item.get("name")))
    elif kind == "process":
        pid = item.get("pid")
        if isinstance(pid, int) and pid > 1:
            _kill(pid, item.get("start"))
    elif kind == "dir":
        path = Path(str(item.get("path")))
        if not path.name.startswith("fsguard-drill-") or not path.is_absolute():
            raise ValueError(f"refusing to remove {path}: not a drill directory")
        shutil.rmtree(path, ignore_errors=True)
    else:
        # Host-side items (bans, list entries, store rows): only ever for the drill's own addresses.
        if "ip" in item and not in_drill_range(item["ip"]):
            raise ValueError(f"refusing to undo {kind} for {item['ip']}: not a drill address")
        if undo is None:
            raise RuntimeError(f"no way to undo {kind} here")
        undo(item)


def sweep(undo: Undo | None = None, directory: Path | None = None, *, orphans: bool = False) -> list[str]:
    """Remove what dead drill runs left behind. Returns one line per leftover handled.

    ``orphans`` (``fsguard drill --cleanup`` only) also removes ``fsgd-`` namespaces no state file
    names and no process uses: a drill keeping its state file elsewhere could own them otherwise."""
    d = directory or run_dir()
    out: list[str] = []
    if not d.is_dir():
        return out
    for tmp in d.glob(".tmp-*"):  # a run interrupted in the middle of writing its state file
        try:
            if time.time() - tmp.stat().st_mtime > 60:
                tmp.unlink()
        except OSError:
            pass
    for path in sorted(d.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            run_id = str(data["run"])
            items = list(data.get("items") or [])
        except (OSError, ValueError, KeyError, TypeError):
            out.append(f"{path}: unreadable state file, left in place")
            continue
        if pid_alive(int(data.get("pid") or 0), data.get("pid_start")):
            continue  # a drill is running right now
        try:
            led = Ledger(run_id, d)
        except ValueError:
            out.append(f"{path}: bad run id, left in place")
            continue
        led.items = [i for i in items if isinstance(i, dict)]
        problems = led.undo_all(undo)
        out.append(f"run {run_id}: removed {len(items) - len(led.items)} leftover(s)"
                   + (f"; problems: {'; '.join(problems)}" if problems else ""))
    # Namespaces of ours that no state file names (the file itself was lost): only on request,
    # unused, and older than any drill runs, so a concurrent run's namespaces are never touched.
    named = set()
    for path in d.glob("*.json"):
        try:
            named |= {i.get("name") for i in json.loads(path.read_text(encoding="utf-8")).get("items", [])}
        except (OSError, ValueError, AttributeError):
            return out  # cannot tell what is whose: touch nothing more
    for ns in list_drill_netns() if orphans else []:
        busy = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
        try:
            age = time.time() - os.stat(f"/run/netns/{ns}").st_mtime
        except OSError:
            continue
        if ns not in named and not busy.strip() and age > ORPHAN_AGE:
            try:
                del_netns(ns)
                out.append(f"orphan namespace {ns} removed")
            except (OSError, ValueError, RuntimeError) as exc:
                out.append(f"orphan namespace {ns}: {exc}")
    return out


def list_drill_netns() -> list[str]:
    try:
        return sorted(n for n in os.listdir("/run/netns") if NETNS_RE.match(n))
    except FileNotFoundError:
        return []
