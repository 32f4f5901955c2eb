"""The drill's report and CLI contract: text and JSON, exit codes, what counts as a pass."""

from __future__ import annotations

import argparse
import json

import pytest

from fsguard.cli import build_parser
from fsguard.cli import drill as cli_drill
from fsguard.cli.exitcodes import Exit
from fsguard.drill import report as rep


def make(statuses: list[list[str]], setup_ok: bool = True, cleanup_ok: bool = True) -> rep.DrillReport:
    r = rep.DrillReport(mode="simulate", run_id="abc123", started=0.0, seconds=1.5)
    r.setup.append(rep.Check("namespaces", "pass" if setup_ok else "fail", "" if setup_ok else "no ip tool"))
    for i, checks in enumerate(statuses, start=1):
        s = rep.Step(i, f"step {i}")
        for j, st in enumerate(checks):
            if st == "skipped":
                s.skip(f"check {j}", "needs something")
            else:
                s.check(f"check {j}", st == "pass", f"saw {j}")
        s.finish()
        r.steps.append(s)
    r.cleanup_ok = cleanup_ok
    return r


def test_passes_only_when_every_check_passed_and_cleanup_is_complete() -> None:
    assert make([["pass", "pass"], ["pass"]]).passed
    assert not make([["pass", "fail"], ["pass"]]).passed
    assert not make([["pass", "skipped"]]).passed  # an unproven protection did not hold
    assert not make([["pass"]], setup_ok=False).passed
    assert not make([["pass"]], cleanup_ok=False).passed
    assert not make([]).passed  # no step, no proof


def test_step_status_from_checks_and_errors() -> None:
    r = rep.DrillReport(mode="simulate", run_id="x1", started=0.0)
    with rep.timed_step(r, 1, "boom") as step:
        step.check("first", True)
        raise RuntimeError("dependency missing")
    with rep.timed_step(r, 2, "abort") as step:
        raise rep.StepAbort("fsguard.f2b.render is not available")
    assert [s.status for s in r.steps] == ["fail", "fail"]
    assert r.steps[0].error == "RuntimeError: dependency missing"
    assert r.steps[1].error == "fsguard.f2b.render is not available"


def test_text_and_json_say_the_same() -> None:
    r = make([["pass", "fail"]])
    text = rep.render_text(r)
    assert "FAIL  step 1: step 1" in text and "   FAIL  check 1" in text and "saw 1" in text
    assert "A PROTECTION DID NOT HOLD" in text
    d = json.loads(json.dumps(r.as_dict()))
    assert d["passed"] is False and d["steps"][0]["status"] == "fail"
    assert [c["status"] for c in d["steps"][0]["checks"]] == ["pass", "fail"]
    ok = rep.render_text(make([["pass"]]))
    assert "every protection held" in ok and "setup: namespaces" in ok


@pytest.mark.parametrize("argv", [["--json", "drill", "--simulate"], ["drill", "--simulate", "--json"]])
def test_json_flag_works_before_and_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.json is True and args.simulate is True and args.func is cli_drill.run


def test_simulate_is_the_default_only_without_freeswitch(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["drill"])
    assert args.simulate is None  # decided at run time from freeswitch_found()
    assert build_parser().parse_args(["drill", "--host"]).simulate is False
    found, why = cli_drill.freeswitch_found()
    assert found is False and "no freeswitch" in why  # none can run on this machine


def test_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import fsguard.drill.runner as runner

    monkeypatch.setattr(cli_drill.os, "geteuid", lambda: 0)
    for statuses, setup_ok, code in (([["pass"]], True, Exit.OK), ([["fail"]], True, Exit.DRILL_FAILED),
                                     ([[]], False, Exit.PREFLIGHT_FAILED)):
        monkeypatch.setattr(runner, "run_drill", lambda **kw: make(statuses, setup_ok))  # noqa: B023
        args = argparse.Namespace(cleanup=False, backend="nftables", simulate=True, step=None, json=True)
        assert cli_drill.run(args) == int(code)
        assert json.loads(capsys.readouterr().out)["passed"] is (code == Exit.OK)


def test_host_mode_preflight_says_what_is_missing(tmp_path) -> None:
    """--host on a machine without FreeSWITCH/fsguard: nothing is tried, each reason is given."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.skip("needs root")
    conf = tmp_path / "fsguard.conf"
    conf.write_text(f"[fsguard]\nstate_dir = {tmp_path}\n[fail2ban]\nlogpath = {tmp_path / 'fs.log'}\n"
                    f"socket = {tmp_path / 'none.sock'}\n")
    env = dict(os.environ, FSGUARD_CONFIG=str(conf), FSGUARD_DRILL_RUN_DIR=str(tmp_path / "run"))
    proc = subprocess.run([sys.executable, "-m", "fsguard.cli", "drill", "--host", "--json"],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == int(Exit.PREFLIGHT_FAILED), proc.stderr
    report = json.loads(proc.stdout)
    reasons = {c["name"]: c["detail"] for c in report["setup"] if c["status"] == "fail"}
    assert "event_token" in reasons["fsguard config"]
    assert "fs_cli" in reasons["FreeSWITCH"]
    assert "fail2ban" in reasons and "firewall ruleset" in reasons
    assert all(s["checks"] == [] and "setup failed" in s["error"] for s in report["steps"])
    assert report["cleanup_ok"] is True and report["mode"] == "host"
