"""The drill removes everything it created: on success, on SIGINT/SIGTERM, and after SIGKILL (the
next run, or ``fsguard drill --cleanup``, sweeps what the state file lists). Real namespaces and
processes; nothing outside the drill's own ``fsgd-`` namespaces and work dirs is touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsguard.drill import ledger
from fsguard.drill.netns import Topology

ROOT = Path(__file__).resolve().parents[1]
FSGUARD = [sys.executable, "-m", "fsguard.cli"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


def dead_pid() -> tuple[int, str | None]:
    p = subprocess.Popen(["true"])
    start = ledger.proc_start_time(p.pid)
    p.wait()
    return p.pid, start


def test_ledger_records_before_and_undoes_everything(tmp_path: Path) -> None:
    led = ledger.Ledger(ledger.new_run_id(), tmp_path)
    topo = Topology(led.run_id)
    topo.create(led)
    work = tmp_path / "fsguard-drill-x"
    led.record("dir", path=str(work))
    work.mkdir()
    sleeper = subprocess.Popen(topo.exec_argv("net", ["sleep", "60"]))
    led.record("process", pid=sleeper.pid, start=ledger.proc_start_time(sleeper.pid), what="sleep")
    state = json.loads(led.path.read_text())
    assert {i["kind"] for i in state["items"]} == {"netns", "dir", "process"}
    assert topo.net_ns in ledger.list_drill_netns()
    assert led.undo_all() == []
    sleeper.wait(timeout=5)
    assert topo.net_ns not in ledger.list_drill_netns() and topo.pbx_ns not in ledger.list_drill_netns()
    assert not work.exists() and not led.path.exists()


def test_sweep_cleans_a_dead_run_and_refuses_foreign_items(tmp_path: Path) -> None:
    led = ledger.Ledger(ledger.new_run_id(), tmp_path)
    topo = Topology(led.run_id)
    topo.create(led)
    outside = tmp_path / "not-ours"
    outside.mkdir()
    # A state file of a killed run (its pid is dead), tampered with entries that are not the drill's.
    led.items += [{"kind": "dir", "path": str(outside)}, {"kind": "netns", "name": "host-ns"},
                  {"kind": "ban", "ip": "8.8.8.8"}]
    led.pid, led.pid_start = dead_pid()
    led._write()
    done = ledger.sweep(directory=tmp_path)
    assert topo.net_ns not in ledger.list_drill_netns() and topo.pbx_ns not in ledger.list_drill_netns()
    assert outside.exists()  # not a drill directory: left alone, reported
    assert "problems" in done[0] and "not a drill directory" in done[0] and "not a drill address" in done[0]
    assert led.path.exists()  # what could not be undone stays listed


def test_sweep_leaves_a_running_drill_alone(tmp_path: Path) -> None:
    led = ledger.Ledger(ledger.new_run_id(), tmp_path)
    led.record("netns", name=f"fsgd-{led.run_id}-net")  # this process is alive: a running drill
    assert ledger.sweep(directory=tmp_path) == []
    assert led.path.exists()
    led.close()


def _start_drill(run_dir: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, FSGUARD_DRILL_RUN_DIR=str(run_dir))
    return subprocess.Popen(FSGUARD + ["drill", "--simulate", "--json"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_items(run_dir: Path, kinds: set[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in run_dir.glob("*.json"):
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if kinds <= {i["kind"] for i in data["items"]}:
                return data
        time.sleep(0.05)
    raise AssertionError(f"the drill never created {kinds}")


def _gone(data: dict) -> list[str]:
    left = []
    for item in data["items"]:
        if item["kind"] == "netns" and item["name"] in ledger.list_drill_netns():
            left.append(item["name"])
        if item["kind"] == "dir" and Path(item["path"]).exists():
            left.append(item["path"])
        if item["kind"] == "process" and ledger.pid_alive(item["pid"], item.get("start")):
            left.append(f"pid {item['pid']}")
    return left


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_drill_cleans_up(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _start_drill(tmp_path)
    data = _wait_for_items(tmp_path, {"netns", "dir"})
    time.sleep(0.5)  # somewhere in the middle of bringing things up
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["passed"] is False and report["cleanup_ok"] is True
    final = json.loads(json.dumps(data))
    assert _gone(final) == []
    assert list(tmp_path.glob("*.json")) == []


def test_killed_drill_is_swept_by_cleanup(tmp_path: Path) -> None:
    proc = _start_drill(tmp_path)
    data = _wait_for_items(tmp_path, {"netns", "dir", "process"})
    proc.kill()  # SIGKILL: no handler, no finally
    proc.communicate(timeout=30)
    state = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert _gone(state) != []  # leftovers exist...
    env = dict(os.environ, FSGUARD_DRILL_RUN_DIR=str(tmp_path))
    res = subprocess.run(FSGUARD + ["drill", "--cleanup"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert "removed" in res.stdout
    assert _gone(state) == [] and _gone(data) == []  # ...and are gone
    assert list(tmp_path.glob("*.json")) == []


HOST_SNIPPET = r"""
import json, socket, sys, tempfile, threading
from pathlib import Path
from fsguard.drill import ledger, netns
from fsguard.drill.client import Agent
from fsguard.drill.runner import undo_item
led = ledger.Ledger(ledger.new_run_id(), Path(sys.argv[1]))
topo = netns.Topology(led.run_id, host_mode=True, pbx_ip="203.0.113.5")
topo.create(led)
# a "FreeSWITCH" on the sandbox host's own address answering OPTIONS
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("203.0.113.5", 5060))
def serve():
    from fsguard.drill import sip
    data, addr = srv.recvfrom(65535)
    srv.sendto(sip.response_to(sip.parse(data), 200).encode(), addr)
threading.Thread(target=serve, daemon=True).start()
a = Agent(topo.udp("scanner"), topo.pbx_ip)
got = a.options(5060)
kinds = sorted(i["kind"] for i in led.items)
problems = led.undo_all(undo_item)
links = socket.if_nameindex()
print(json.dumps({"got": got, "kinds": kinds, "problems": problems,
                  "veth_left": [n for _, n in links if n == topo.veth_pbx],
                  "ns_left": [n for n in ledger.list_drill_netns() if led.run_id in n]}))
"""


def test_host_mode_topology_reaches_the_hosts_address_and_is_removed(tmp_path: Path) -> None:
    """Real-host mode's network piece, with a sandbox namespace standing in for the host."""
    sandbox = f"fsgd-t{os.getpid() % 100000}-host"
    subprocess.run(["ip", "netns", "add", sandbox], check=True)
    try:
        # the "host's public address" (no dummy interfaces in every kernel: on lo, as a /32)
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", "203.0.113.5/32", "dev", "lo"]):
            subprocess.run(["ip", "netns", "exec", sandbox, *argv], check=True)
        proc = subprocess.run(["ip", "netns", "exec", sandbox, sys.executable, "-c", HOST_SNIPPET, str(tmp_path)],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        res = json.loads(proc.stdout)
        assert res["got"] == 200  # through the host-side veth and the client namespace's route
        assert res["kinds"] == ["link", "netns"]  # only the veth end is added to the "host"
        assert res["problems"] == [] and res["veth_left"] == [] and res["ns_left"] == []
    finally:
        subprocess.run(["ip", "netns", "del", sandbox], check=False)
