"""``--json``: every sub-command prints exactly one JSON object on stdout, errors included
(``{"ok": false, "error": ..., "exit": ...}``), usage errors too. Runs in a sandbox config:
dry-run firewall, a fail2ban socket nobody listens on, SQLite in the test's directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from fsguard.cli import build_parser, main
from fsguard.cli.exitcodes import Exit


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [prefix]
    out: list[tuple[str, ...]] = []
    for name, sub in subs[0].choices.items():
        out += _leaves(sub, prefix + (name,))
    return out


COMMANDS = _leaves(build_parser())

# A real run of each command that is safe in the sandbox (nothing outside tmp_path is changed).
# ``drill`` and ``token rotate`` act on the host's FreeSWITCH/fail2ban: only their usage errors are checked.
USAGE_ONLY = {("drill",), ("token", "rotate")}
SAFE_ARGS: dict[tuple[str, ...], list[str]] = {
    ("allow", "add"): ["198.51.100.9", "--label", "office"], ("allow", "del"): ["198.51.100.10"],
    ("allow", "list"): [], ("deny", "add"): ["203.0.113.0/24"], ("deny", "del"): ["203.0.113.0/24"],
    ("deny", "list"): [], ("feeds", "update"): ["--quiet"], ("feeds", "status"): [],
    ("firewall", "render"): [], ("firewall", "apply"): [], ("firewall", "status"): [], ("firewall", "remove"): [],
    ("ignore-check",): ["192.0.2.1"], ("why",): ["198.51.100.9"], ("unban",): ["198.51.100.77"],
    ("offenders",): [], ("service",): ["--once"], ("install",): ["--dry-run", "--root", "{tmp}/empty"],
    ("uninstall",): ["--dry-run", "--root", "{tmp}/empty"], ("render",): ["--root", "{tmp}/render", "--kind",
                                                                         "freeswitch"],
    ("status",): [], ("cluster", "status"): [], ("config", "show"): [], ("config", "test"): [],
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "empty").mkdir()
    cfg = tmp_path / "fsguard.conf"
    cfg.write_text(
        f"[fsguard]\nstate_dir = {state}\nevent_token = j50nt0k3n000\n[store]\nkind = sqlite\npath = {state}/s.db\n"
        f"[fail2ban]\nsocket = {tmp_path}/none.sock\nlogpath = {tmp_path}/fs.log\njail_dir = {tmp_path}/jail.d\n"
        "firewall = off\n[firewall]\nbackend = dry-run\n[feeds]\nvoipbl = no\naccept_test_ranges = yes\n")
    monkeypatch.setenv("FSGUARD_CONFIG", str(cfg))
    return tmp_path


def _one_object(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = main(argv)
    out = capsys.readouterr().out
    obj = json.loads(out)  # the whole of stdout is one JSON document ...
    assert isinstance(obj, dict), out[:300]  # ... and it is an object
    assert obj["exit"] == code and isinstance(obj["ok"], bool), obj
    return code, obj


def test_every_command_is_covered() -> None:
    assert set(SAFE_ARGS) | USAGE_ONLY == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_usage_error_is_one_json_object(command: tuple[str, ...], sandbox: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, obj = _one_object(capsys, ["--json", *command, "--no-such-option"])
    assert code == Exit.BAD_INPUT and obj["ok"] is False and obj["error"]


@pytest.mark.parametrize("command", sorted(SAFE_ARGS), ids=" ".join)
def test_real_run_is_one_json_object(command: tuple[str, ...], sandbox: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{tmp}", str(sandbox)) for a in SAFE_ARGS[command]]
    code, obj = _one_object(capsys, ["--json", *command, *args])
    assert obj["ok"] is (code == 0 or (command == ("ignore-check",) and code == Exit.NOT_IGNORED))
    if not obj["ok"]:
        assert obj.get("error"), obj


def test_known_errors(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, obj = _one_object(capsys, ["--json", "why", "notanip"])  # printed nothing before
    assert (code, obj) == (Exit.BAD_INPUT, {"ok": False, "error": "not an IP address: 'notanip'", "exit": 2})
    code, obj = _one_object(capsys, ["--json"])
    assert code == Exit.BAD_INPUT and obj["error"] == "no command given"
    code, obj = _one_object(capsys, ["--json", "unban", "198.51.100.77"])
    assert code == Exit.NOT_FOUND and obj["op"] == "unban" and obj["ok"] is False
    code, obj = _one_object(capsys, ["--json", "allow", "list"])
    assert code == 0 and obj["result"] == []
