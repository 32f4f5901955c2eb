"""``fsguard status --audit``: clean on a fresh install (plain FreeSWITCH and FusionPBX layouts),
still clean after FusionPBX's ``chown -R www-data`` of the FreeSWITCH trees, and each thing another
user could change is named with its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fsguard.cli import main
from fsguard.install import audit, installer, sources
from fsguard.install.target import detect
from tests.installtree import freeswitch_tree, frozen_package, fusion_tree
from tests.pgfix import fusion_db, pg_role  # noqa: F401
from tests.secfix import Attacker, attacker, open_tmp  # noqa: F401


@pytest.fixture(autouse=True)
def _frozen_sources(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(sources, "PKG_DIR", frozen_package(tmp_path_factory))


def _fusion_chown(root: Path, atk: Attacker) -> None:
    for d in ("etc/freeswitch", "usr/share/freeswitch", "var/log/freeswitch"):
        atk.chown_tree(root / d)


def _audit(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["--json", "status", "--audit", "--root", str(root)])
    return code, json.loads(capsys.readouterr().out)


def test_audit_clean_on_plain_freeswitch_and_names_each_problem_with_its_fix(  # noqa: F811
        open_tmp: Path, attacker: Attacker, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    installer.install(root)
    assert audit.audit(detect(root)) == []
    _fusion_chown(root, attacker)  # even with FreeSWITCH's trees given to the PBX user
    code, doc = _audit(root, capsys)
    assert code == 0 and doc["audit"] == "clean", doc
    # what another user could change is named, with the fix
    os.chmod(root / "usr/lib/fsguard/fsguard/cli/__init__.py", 0o666)
    os.chown(root / "var/lib/fsguard", 0, attacker.gid)
    os.chmod(root / "var/lib/fsguard", 0o2775)
    os.chmod(root / "etc/fail2ban/filter.d/fsguard-events.conf", 0o644)
    conf = root / "etc/fsguard/fsguard.conf"
    conf.write_text(conf.read_text().replace(f"pythonpath = {sources.LIB_DIR}",
                                             "pythonpath = /usr/share/freeswitch/scripts"))
    code, doc = _audit(root, capsys)
    found = {f["path"]: f for f in doc["findings"]}  # type: ignore[union-attr]
    assert code != 0
    assert "chmod go-w" in found["/usr/lib/fsguard/fsguard/cli/__init__.py"]["fix"]
    assert "fsguard install" in found["/var/lib/fsguard"]["fix"]
    assert "token" in found["/etc/fail2ban/filter.d/fsguard-events.conf"]["problem"]
    assert sources.LIB_DIR in found["/usr/share/freeswitch/scripts"]["fix"]


def test_audit_clean_on_fusionpbx_after_the_chown(open_tmp: Path, attacker: Attacker,  # noqa: F811
                                                 fusion_db: dict[str, str]) -> None:  # noqa: F811
    root = fusion_tree(open_tmp / "root", fusion_db)
    _fusion_chown(root, attacker)
    installer.install(root)
    _fusion_chown(root, attacker)  # FreeSWITCH restarted: FusionPBX re-chowns its trees
    assert audit.audit(detect(root)) == []
