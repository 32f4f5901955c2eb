"""Settings declared once (fs_python.config + fsguard.settings), read through typed accessors;
``fsguard config show`` (values, sources, secrets masked) and ``fsguard config test`` (named exit)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fs_python import config
from fsguard import settings
from fsguard.cli import main
from fsguard.cli.exitcodes import Exit

ROOT = Path(__file__).resolve().parent.parent
SECRET_TEXT = ("tok3nS3cr3t0001", "pgPassw0rdSecret", "ApibanKeySecret123")


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "fsguard.conf"
    p.write_text(text)
    return p


def test_declarations_are_complete_and_typed() -> None:
    assert len(settings.SETTINGS) >= 60
    for (section, key), s in settings.SETTINGS.items():
        assert (s.section, s.key) == (section, key) and s.doc, (section, key)
        probe = config.load(Path("/nonexistent"))
        assert s.get(probe) == s.default  # absent: the default, typed
        if s.kind == "int":
            assert isinstance(s.default, int) and not isinstance(s.default, bool)
        if s.kind == "choice":
            assert s.default in s.choices
    # the firewall backend default lives in one place
    assert settings.FIREWALL_BACKEND.get(config.load(Path("/nonexistent"))) == "nftables"


def test_typed_accessors_parse_and_refuse(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, "[feeds]\ntimeout = 12\nvoipbl = off\nextra = a=/x, b=/y\n"
                                       "[firewall]\nban_grace = soon\n"))
    assert settings.FEEDS_TIMEOUT.get(cfg) == 12 and settings.FEEDS_VOIPBL.get(cfg) is False
    assert settings.FEEDS_EXTRA.get(cfg) == ("a=/x", "b=/y")
    with pytest.raises(config.ConfigError, match=r"\[firewall\] ban_grace: not a whole number"):
        settings.FIREWALL_BAN_GRACE.get(cfg)


def test_no_literal_default_reads_left() -> None:
    """A setting read with a literal default bypasses the declaration."""
    # (``parser.get`` is the raw INI access code uses to *edit* a file, not to read a setting)
    pat = re.compile(r"(?<!parser)\.get(?:_int|_bool|_list)?\(\s*(?:render\.SECTION|SECTION|\"[a-z_0-9]+\"),"
                     r"\s*\"[a-z_0-9]+\",")
    hits = []
    for path in list((ROOT / "fsguard").rglob("*.py")) + list((ROOT / "fs_python").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pat.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_show_masks_secrets_and_names_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, f"[fsguard]\nevent_token = {SECRET_TEXT[0]}\n[store]\nkind = pgsql\n"
                            f"password = {SECRET_TEXT[1]}\n[feeds]\napiban_key = {SECRET_TEXT[2]}\n"
                            "[firewall]\nbackend = iptables\n")
    monkeypatch.setenv("FSGUARD_CONFIG", str(path))
    assert main(["config", "show"]) == 0
    text = capsys.readouterr().out
    assert main(["--json", "config", "show"]) == 0
    data = json.loads(capsys.readouterr().out)
    for secret in SECRET_TEXT:
        assert secret not in text and secret not in json.dumps(data)
    rows = {(s["section"], s["key"]): s for s in data["settings"]}
    assert rows[("firewall", "backend")]["value"] == "iptables" and rows[("firewall", "backend")]["source"] == "file"
    assert rows[("feeds", "timeout")]["source"] == "default"
    assert rows[("feeds", "apiban_key")]["value"] == "********"
    assert "backend = iptables    # file;" in text and "timeout = 30    # default;" in text


def test_config_test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "[fsguard]\nstate_dir = /tmp/x\n[firewall]\nbackend = dry-run\nprotected_ports = all\n")
    assert main(["config", "test", str(good)]) == Exit.OK
    bad = tmp_path / "bad.conf"
    bad.write_text("[firewall]\nbackend = ipfw\nban_grace = soon\n[fail2ban]\nsocker = /x\n[nosuch]\na = 1\n")
    capsys.readouterr()
    assert main(["--json", "config", "test", str(bad)]) == Exit.CONFIG_ERROR
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["exit"] == Exit.CONFIG_ERROR
    assert data["problems"] == ["[firewall] backend: must be one of nftables, iptables, dry-run, not 'ipfw'",
                                "[firewall] ban_grace: not a whole number: 'soon'",
                                "[fail2ban] socker: unknown key", "[nosuch]: unknown section"]
    broken = tmp_path / "broken.conf"
    broken.write_text("this is not ini\n")
    assert main(["config", "test", str(broken)]) == Exit.CONFIG_ERROR
    assert main(["config", "test", str(tmp_path / "missing.conf")]) == Exit.CONFIG_ERROR


def test_installer_written_config_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert main(["render", "--root", str(root), "--kind", "fusionpbx"]) == 0
    assert main(["config", "test", str(root / "etc/fsguard/fsguard.conf")]) == Exit.OK


def test_jail_dir_written_empty_means_no_file(tmp_path: Path) -> None:
    """``jail_dir =`` switches the ignore-list file off; only an absent key means the host default."""
    off = tmp_path / "off.conf"
    off.write_text("[fail2ban]\njail_dir =\n")
    absent = tmp_path / "absent.conf"
    absent.write_text("[fail2ban]\n")
    assert settings.F2B_JAIL_DIR.get(config.load(off)) == ""
    assert settings.F2B_JAIL_DIR.get(config.load(absent)) == "/etc/fail2ban/jail.d"
