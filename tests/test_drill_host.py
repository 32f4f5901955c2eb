"""``fsguard drill --host`` logic that does not need a real FreeSWITCH (issue 12, point 8): the
target refused when the drill could not test the host through it, the drill's own addresses
accepted by fsguard's validation, a temporary carrier entry, cleanup that says when it could not
finish, and no PASS where nothing answered (the simulated drill with its PBX switched off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fs_python import config
from fsguard.drill import deps, ledger
from fsguard.drill.hostenv import check_target
from fsguard.drill.netns import ROLES
from fsguard.perimeter import lists

ROOT = Path(__file__).resolve().parents[1]


def test_a_loopback_or_foreign_target_is_refused_with_the_reason() -> None:
    with pytest.raises(RuntimeError, match="loopback.*never leave.*\\[drill\\] target"):
        check_target("127.0.0.1", {"127.0.0.1", "192.0.2.10"})
    with pytest.raises(RuntimeError, match="drill's own range"):
        check_target("198.18.0.1", {"198.18.0.1"})
    with pytest.raises(RuntimeError, match="not an address of this host"):
        check_target("192.0.2.99", {"127.0.0.1", "192.0.2.10"})
    check_target("192.0.2.10", {"127.0.0.1", "192.0.2.10"})  # the host's own address: fine


def test_every_drill_address_is_accepted_by_fsguard_s_own_list_validation(tmp_path: Path) -> None:
    """Default validation (no accept_test_ranges): deny and allow entries for the drill's roles."""
    cfg = config.load(tmp_path / "none.conf")
    for role, ip in ROLES.items():
        assert lists.canonical("deny", ip + "/32", lists.deny_policy(cfg)) == ip + "/32", role
        assert lists.canonical("allow", ip + "/32", lists.deny_policy(cfg)) == ip + "/32", role
    for bad in ("10.1.2.3/32", "127.0.0.1/32", "100.64.0.1/32"):  # a LAN stays impossible to deny
        with pytest.raises(lists.ListError):
            lists.canonical("deny", bad, lists.deny_policy(cfg))


def _cfg(tmp_path: Path, extra: str = "") -> config.Config:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = tmp_path / "fsguard.conf"
    path.write_text(f"[fsguard]\nstate_dir = {state}\n[store]\nkind = sqlite\npath = {state}/fsguard.db\n{extra}")
    return config.load(path)


def test_temporary_carrier_entry_never_touches_the_operator_s_file(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[carriers]\ncidrs = 203.0.113.7\n")
    text = cfg.path.read_text()
    assert deps.carrier_rule(cfg)[0] is True
    tmp = deps.with_carrier(cfg, "198.18.6.60/32")
    assert tmp.get("carriers", "cidrs") == "203.0.113.7 198.18.6.60/32"
    assert cfg.get("carriers", "cidrs") == "203.0.113.7" and cfg.path.read_text() == text
    (tmp_path / "n").mkdir()
    active, why = deps.carrier_rule(_cfg(tmp_path / "n"))
    assert active is False and "no carrier is known" in why
    off = _cfg(tmp_path, "[carriers]\ncidrs = 203.0.113.7\n[firewall]\ncarrier_rule = off\n")
    assert deps.carrier_rule(off)[0] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the CLI as root")
def test_cleanup_that_cannot_undo_an_item_does_not_exit_0(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs"
    run_dir.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    # a host-side item for an address outside the drill's range: never undone, so never "clean"
    state = {"run": "abc123", "pid": dead.pid, "pid_start": None,
             "items": [{"kind": "ban", "ip": "192.0.2.7", "config": str(tmp_path / "x.conf")}]}
    (run_dir / "abc123.json").write_text(json.dumps(state))
    env = dict(os.environ, FSGUARD_DRILL_RUN_DIR=str(run_dir))
    res = subprocess.run([sys.executable, "-m", "fsguard.cli", "drill", "--cleanup"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 12, (res.returncode, res.stdout, res.stderr)
    assert "not a drill address" in res.stdout and (run_dir / "abc123.json").exists()
    res = subprocess.run([sys.executable, "-m", "fsguard.cli", "drill", "--cleanup"], cwd=ROOT,
                         env=dict(env, FSGUARD_DRILL_RUN_DIR=str(tmp_path / "empty")), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "nothing left over" in res.stdout


def test_a_refused_list_entry_leaves_no_ledger_item(tmp_path: Path) -> None:
    class Env:
        pass

    env = Env()
    env.cfg = _cfg(tmp_path)  # type: ignore[attr-defined]
    env.ledger = ledger.Ledger(ledger.new_run_id(), tmp_path)  # type: ignore[attr-defined]
    from fsguard.install import sqlgen
    from fsguard.store import open_store

    store = open_store(env.cfg)  # type: ignore[attr-defined]
    try:
        with store.transaction():
            for _v, _n, sql in sqlgen.migrations("sqlite"):
                for stmt in sqlgen.statements(sql):
                    store.execute(stmt)
    finally:
        store.close()
    with pytest.raises(lists.ListError):
        deps.list_add(env, "deny", "10.0.0.1/32", "fsguard-drill x")
    assert env.ledger.items == []  # type: ignore[attr-defined]
    deps.list_add(env, "deny", "198.18.3.30/32", "fsguard-drill x")
    assert [i["kind"] for i in env.ledger.items] == ["list-entry"]  # type: ignore[attr-defined]


NOBODY_HOME = r"""
import json
from fsguard.drill.env import SimEnv
from fsguard.drill.runner import run_drill

class NobodyHome(SimEnv):
    # the PBX stops answering once everything is set up: no check may pass on silence
    def up(self):
        super().up()
        if self.pbx is not None:
            self.pbx.stop()

print(json.dumps(run_drill(simulate=True, steps=(1,), env_class=NobodyHome).as_dict()))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
def test_no_pass_where_nothing_answered() -> None:
    proc = subprocess.run([sys.executable, "-c", NOBODY_HOME], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is False and report["cleanup_ok"] is True
    step = report["steps"][0]
    assert step["status"] == "fail" and "nothing answered" in step["error"], step
    assert [c["name"] for c in step["checks"] if c["status"] == "pass"] == []
