"""End to end: ``fsguard drill --simulate --json`` exactly as the README tells a newcomer to run it.

Real namespaces, real packets, fs_python's real handlers behind the stand-in PBX, a private
fail2ban-server with fsguard's rendered configuration, fsguard's real ruleset, the SQLite store.
Every step must pass, and nothing the drill created may remain.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fsguard.drill import ledger

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, str, Path]:
    run_dir = tmp_path_factory.mktemp("drill-run")
    before = set(ledger.list_drill_netns())
    host_rules = _host_rules()
    env = dict(os.environ, FSGUARD_DRILL_RUN_DIR=str(run_dir))
    env.pop("FSGUARD_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "fsguard.cli", "drill", "--simulate", "--json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    # every namespace this run made is gone (another drill running beside it may own others)
    assert not [n for n in set(ledger.list_drill_netns()) - before if report["run_id"] in n]
    assert _host_rules() == host_rules  # the host's own ruleset was never touched
    return proc.returncode, report, proc.stderr, run_dir


def _host_rules() -> tuple[str, str]:
    nft = subprocess.run(["nft", "-s", "list", "ruleset"], capture_output=True, text=True).stdout
    ipt = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    # chain policy counters ([packets:bytes]) move with the host's own traffic: not a change
    return nft, "\n".join(re.sub(r"\[\d+:\d+\]", "", line) for line in ipt.splitlines() if not line.startswith("#"))


def _explain(report: dict) -> str:
    lines = [f"{c['name']}: {c['status']} {c['detail']}" for c in report["setup"] if c["status"] != "pass"]
    for s in report["steps"]:
        lines.append(f"step {s['number']} {s['status']} {s['error']}")
        lines += [f"   {c['status']} {c['name']}: {c['detail']}" for c in s["checks"] if c["status"] != "pass"]
    return "\n".join(lines)


def test_drill_every_step_passes(drill) -> None:
    rc, report, err, _ = drill
    assert [s["number"] for s in report["steps"]] == [1, 2, 3, 4]
    for step in report["steps"]:
        assert step["status"] == "pass", _explain(report)
        assert step["checks"] and all(c["status"] == "pass" for c in step["checks"])
        assert step["seconds"] > 0
    assert report["passed"] is True and rc == 0, _explain(report) + err


def test_drill_cleans_up_after_itself(drill) -> None:
    rc, report, err, run_dir = drill
    assert report["cleanup_ok"] is True, report["cleanup"]
    assert list(run_dir.glob("*.json")) == []  # the state file went with the last item


def test_drill_step_one_covers_the_whole_chain(drill) -> None:
    """The scanner step proves each link, not just the outcome."""
    _, report, _, _ = drill
    names = [c["name"] for c in report["steps"][0]["checks"]]
    for needed in ("evidence lines written", "banned", "dropped", "recorded with its evidence",
                   "`fsguard why` explains it", "an unban restores it"):
        assert any(needed in n for n in names), (needed, names)


def test_drill_benchmark_runs_quick() -> None:
    proc = subprocess.run([sys.executable, "benchmarks/bench_drill.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert re.match(r"^drill \(step 1 only\) total: [\d.]+ s = [\d.]+x the setup\+cleanup baseline", last), last
    assert "step 1: pass" in proc.stdout


SABOTAGE = r"""
import json, sys
from fs_python import config
from fsguard.drill.env import SimEnv
from fsguard.drill.runner import run_drill

LINE, STEP = sys.argv[1], int(sys.argv[2])

class Broken(SimEnv):
    # one protection switched off in the drill's own config, after it is written
    def write_config(self, carriers=True):
        super().write_config(carriers)
        section, _, setting = LINE.partition(":")
        text = self.config_path.read_text().replace(f"[{section}]\n", f"[{section}]\n{setting}\n", 1)
        self.config_path.write_text(text)
        self.cfg = config.load(self.config_path)

print(json.dumps(run_drill(simulate=True, steps=(STEP,), env_class=Broken).as_dict()))
"""


@pytest.mark.parametrize("setting, step, must_fail", [
    # fail2ban's action records bans but never puts them into the kernel set
    ("fail2ban:firewall = off", 1, {"address is in the kernel ban set", "its next packets are dropped"}),
    # port 5080 left open to everyone although a carrier is configured
    ("firewall:carrier_rule = off", 3, {"a non-carrier is refused on 5080"}),
])
def test_drill_fails_when_a_protection_is_broken(setting: str, step: int, must_fail: set[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", SABOTAGE, setting, str(step)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is False and report["cleanup_ok"] is True
    failed = {c["name"] for c in report["steps"][0]["checks"] if c["status"] == "fail"}
    assert must_fail <= failed, failed
