"""The installer's live steps (issue 12): FusionPBX's sofia cache, and asking FreeSWITCH itself
whether the internal profile logs auth failures (against the stand-in PBX over real UDP)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fsguard.drill.fslog import FsLog
from fsguard.drill.pbx import Directory, StandInPBX
from fsguard.install import live, verify
from fsguard.install.target import Target
from tests.pgfix import fusion_db, pg_role  # noqa: F401
from tests.test_drill_sip import free_port


def _target(root: Path, **kw: str) -> Target:
    t = Target(root, "fusionpbx", "/etc/freeswitch", "/usr/share/freeswitch/scripts",
               "/var/log/freeswitch/freeswitch.log", "/usr/lib/freeswitch/mod")
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def test_every_cached_sofia_profile_is_cleared_and_reported(tmp_path: Path) -> None:
    cache = tmp_path / "var/cache/fusionpbx"
    cache.mkdir(parents=True)
    gone = ["pbx1.example.com.configuration.sofia.conf",  # FusionPBX 5.5: <hostname>:configuration:sofia.conf
            "configuration.sofia.conf", "dialplan.public", "dialplan.public.0046812345"]
    kept = ["dialplan.default", "configuration.acl.conf", "pbx1.example.com.configuration.acl.conf",
            "directory.1000@pbx.example.com", "sofia.conf.xml"]
    for name in gone + kept:
        (cache / name).write_text("x")
    step = live.clear_fusion_cache(_target(tmp_path))
    assert step.status == "done"
    assert sorted(p.name for p in cache.iterdir()) == sorted(kept)
    assert all(n in step.detail for n in gone)
    again = live.clear_fusion_cache(_target(tmp_path))
    assert again.status == "done" and "no cached sofia profile" in again.detail  # never "removed" when nothing was
    missing = live.clear_fusion_cache(_target(tmp_path, cache_dir="/var/cache/nowhere"))
    assert missing.status == "done" and "does not exist" in missing.detail


STATUS = """=================================================================================================
Name             \tinternal
Domain Name      \tN/A
SIP-IP           \t192.0.2.1
URL              \tsip:mod_sofia@192.0.2.1:5060
BIND-URL         \tsip:mod_sofia@192.0.2.1:5060;maddr=192.0.2.1
"""


def test_profile_address_from_sofia_status() -> None:
    assert verify.profile_address(STATUS) == ("192.0.2.1", 5060)
    assert verify.profile_address(STATUS.replace("192.0.2.1:5060", "[2001:db8::1]:5070")) == ("2001:db8::1", 5070)
    assert verify.profile_address("Invalid Profile!") is None


@pytest.mark.parametrize("logging", [True, False])
def test_probe_tells_whether_sofia_logs_challenges(tmp_path: Path, logging: bool) -> None:
    logpath = tmp_path / "freeswitch.log"
    log = FsLog(logpath)
    ports = {"internal": free_port(), "external": free_port()}
    pbx = StandInPBX(log, Directory({}), bind_ip="127.0.0.1", netns=None, ports=ports, tcp=False,
                     log_auth_failures=logging)
    pbx.start()
    try:
        seen, detail = verify.probe("127.0.0.1", ports["internal"], logpath)
    finally:
        pbx.stop()
        log.close()
    assert seen is logging, detail
    assert pbx.answered[401] == 1
    assert ("fsguard-verify-" in logpath.read_text()) is logging


def test_probe_says_when_nothing_answers(tmp_path: Path) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        seen, detail = verify.probe("127.0.0.1", s.getsockname()[1], tmp_path / "freeswitch.log", timeout=0.5)
    finally:
        s.close()
    assert seen is None and "no answer" in detail


def test_auth_logging_on_a_target_tree_is_skipped_with_the_reason(tmp_path: Path) -> None:
    step = live.auth_logging(_target(tmp_path), True)
    assert step.status == "skipped" and "not checked" in step.detail and "not the live host" in step.detail


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    from fsguard.install import sources
    from tests.installtree import frozen_package

    monkeypatch.setattr(sources, "PKG_DIR", frozen_package(tmp_path_factory))


def test_uninstall_removes_fail2ban_s_compiled_action_and_keeps_others(tmp_path: Path, frozen: None) -> None:
    from fsguard.install import installer
    from tests.installtree import freeswitch_tree, tree_state

    root = freeswitch_tree(tmp_path / "root")
    pycache = root / "etc/fail2ban/action.d/__pycache__"
    before = tree_state(root)
    res = installer.install(root)
    assert not any("reload mod_python3" in n for n in res.notes)  # "Module is not unloadable" (freeswitch.md 7)
    assert any("restart FreeSWITCH" in n for n in res.notes)
    pycache.mkdir(parents=True, exist_ok=True)  # what fail2ban leaves after importing the action
    (pycache / "fsguard_action.cpython-311.pyc").write_bytes(b"\x00")
    installer.uninstall(root)
    assert not pycache.exists() and tree_state(root) == before
    # someone else's compiled action stays, and so does the directory
    installer.install(root)
    pycache.mkdir(parents=True, exist_ok=True)
    (pycache / "fsguard_action.cpython-311.pyc").write_bytes(b"\x00")
    (pycache / "other.cpython-311.pyc").write_bytes(b"\x00")
    installer.uninstall(root)
    assert sorted(p.name for p in pycache.iterdir()) == ["other.cpython-311.pyc"]


def test_uninstall_undoes_the_kind_it_recorded(tmp_path: Path, frozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host re-detected differently at uninstall (FusionPBX's config.conf gone) is refused with the
    reason, never uninstalled as the other kind."""
    import json

    from fsguard.install import installer
    from fsguard.install.target import Misconfigured
    from tests.installtree import freeswitch_tree

    root = freeswitch_tree(tmp_path / "root")
    installer.install(root)
    manifest = next((root / "var/lib/fsguard").glob("*.json"))
    data = json.loads(manifest.read_text())
    assert data["kind"] == "freeswitch"
    data["kind"] = "fusionpbx"
    manifest.write_text(json.dumps(data))
    with pytest.raises(Misconfigured, match="installed onto FusionPBX"):
        installer.uninstall(root)


def test_dry_run_shows_no_secret_and_no_token_the_install_would_not_use(
        tmp_path: Path, frozen: None, fusion_db: dict[str, str]) -> None:  # noqa: F811
    import re
    import subprocess
    import sys

    from fs_python import config as fsconfig
    from fsguard.install import installer
    from tests.installtree import fusion_tree

    root = fusion_tree(tmp_path / "root", fusion_db)
    # the CLI's own output of a dry run, text and JSON
    for args in (["install", "--dry-run"], ["--json", "install", "--dry-run"]):
        out = subprocess.run([sys.executable, "-m", "fsguard.cli", *args, "--root", str(root)], capture_output=True,
                             text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
        text = out.stdout + out.stderr
        assert "<event token>" in text and fusion_db["password"] not in text, text[-500:]
        assert not re.search(r"event_token = [0-9a-f]{8}", text)
    dry = installer.install(root, dry_run=True)
    assert fusion_db["password"] not in dry.diff
    assert "password = <database password, as in FusionPBX's config.conf>" in dry.diff
    assert "event_token = <event token>" in dry.diff and "FSGUARD <event token>" in dry.diff
    real = installer.install(root)
    token = fsconfig.load(root / "etc/fsguard/fsguard.conf").event_token
    assert token not in dry.diff and real.changed


def test_fusionpbx_older_than_5_4_is_refused_and_an_unknown_version_said(
        tmp_path: Path, frozen: None, fusion_db: dict[str, str]) -> None:  # noqa: F811
    from fsguard.install.target import SOFTWARE_PHP, Unsupported, detect
    from tests.installtree import fusion_tree

    root = fusion_tree(tmp_path / "root", fusion_db)
    software = root / "var/www/fusionpbx" / SOFTWARE_PHP
    assert not detect(root).warnings  # 5.5.0
    software.write_text(software.read_text().replace("5.5.0", "5.3.0"))
    with pytest.raises(Unsupported, match="FusionPBX 5.3.0 found.*5.4 or later"):
        detect(root)
    software.unlink()
    assert any("version could not be read" in w for w in detect(root).warnings)
