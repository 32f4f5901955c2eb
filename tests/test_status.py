"""`fsguard status` reports each stage separately and exits non-zero when one is broken."""

import json
import time
from pathlib import Path

import pytest

from fsguard.cli import main


def _conf(tmp_path: Path, token: str = "abcdef123456") -> Path:
    conf = tmp_path / "fsguard.conf"
    conf.write_text(f"[fsguard]\nstate_dir = {tmp_path}\nevent_token = {token}\n")
    return conf


def test_status_reports_each_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FSGUARD_CONFIG", str(_conf(tmp_path)))
    now = time.time()
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "registrations.json").write_text(json.dumps({
        "version": 1, "written": now, "registrations": [
            {"ip": "203.0.113.5", "user": "1000", "realm": "a", "expires": now + 60},
            {"ip": "203.0.113.6", "user": "1001", "realm": "a", "expires": now - 60},
        ]}))
    main(["--json", "status"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["event token"]["state"] == "ok"
    assert checks["registrations.json"]["detail"].startswith("1 live registrations")
    assert checks["whitelist.json"]["state"] == "warn"
    assert checks["store"]["state"] == "ok"


def test_status_fails_without_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FSGUARD_CONFIG", str(_conf(tmp_path, token="")))
    rc = main(["status"])
    out = capsys.readouterr().out
    assert rc != 0
    assert "FAIL  event token" in out


def test_status_reports_unreadable_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FSGUARD_CONFIG", str(_conf(tmp_path)))
    (tmp_path / "whitelist.json").write_text("{not json")
    rc = main(["status"])
    assert rc != 0
    assert "FAIL  whitelist.json" in capsys.readouterr().out
