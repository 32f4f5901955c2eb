"""Install and the host's fail2ban: a host config that is already broken is named (jail, why, the
usual fix) with nothing installed; the inotify preflight; units or cron depending on whether
systemd is running; one service loop per host. Real fail2ban-client, real interpreters."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fs_python import config
from fsguard.cli import main
from fsguard.f2b import render
from fsguard.install import f2bhost, installer
from fsguard.install.result import InstallError
from fsguard.install.target import Misconfigured
from tests.f2b_common import write_config
from tests.installtree import freeswitch_tree, tree_state

needs_f2b = pytest.mark.skipif(not Path("/etc/fail2ban/jail.conf").exists() or not shutil.which("fail2ban-client"),
                               reason="fail2ban not installed")


@needs_f2b
def test_broken_host_jail_is_named_and_nothing_installed(tmp_path: Path) -> None:
    root = freeswitch_tree(tmp_path / "root")
    # Debian 12's default sshd jail on a journald-only host: enabled, and its log does not exist
    (root / "etc/fail2ban/jail.d/defaults-debian.conf").write_text("[sshd]\nenabled = true\n")
    (root / "etc/fail2ban/jail.local").write_text(f"[sshd]\nlogpath = {tmp_path / 'no-auth.log'}\n")
    before = tree_state(root)
    with pytest.raises(InstallError) as err:
        installer.install(root)
    msg = str(err.value)
    assert "the host's own fail2ban configuration is already broken, without fsguard" in msg
    assert "jail [sshd] is enabled but none of its log files exists" in msg
    assert "backend = systemd" in msg and "jail.local" in msg
    assert "fsguard's own jails pass `fail2ban-client -t` on their own" in msg
    assert tree_state(root) == before  # nothing half-installed
    # the same host, fixed as the message says: the install goes through
    (root / "etc/fail2ban/jail.local").write_text("[sshd]\nenabled = false\n")
    res = installer.install(root)
    assert [s["status"] for s in res.steps if s["name"] == "fail2ban-client -t"] == ["done"]


def test_explain_names_other_jails_and_errors() -> None:
    out = "ERROR   Failed during configuration: Have not found any log file for nginx-http-auth jail\n"
    text = f2bhost.explain(out)
    assert "[nginx-http-auth]" in text and "enabled = false" in text
    assert f2bhost.explain("x ERROR   Unable to read the filter 'nope'\ny ERROR   ERROR: test configuration failed") \
        == "Unable to read the filter 'nope'"


@needs_f2b
def test_preflight_requires_inotify_unless_told_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(write_config(tmp_path))
    lacking = sys.executable  # this interpreter has no pyinotify (Debian's python3 gets the package)
    if subprocess.run([lacking, "-c", "import pyinotify"], capture_output=True).returncode == 0:
        pytest.skip("this interpreter has pyinotify")
    monkeypatch.setattr(render, "python_for_fail2ban", lambda: lacking)
    with pytest.raises(Misconfigured, match="python3-pyinotify is not installed.*apt install python3-pyinotify"):
        f2bhost.check_backend(cfg)
    for backend in ("polling", "systemd"):  # the operator chose: no check
        f2bhost.check_backend(config.load(write_config(tmp_path / backend, extra=f"backend = {backend}\n")))
    monkeypatch.undo()
    if subprocess.run([render.python_for_fail2ban(), "-c", "import pyinotify"], capture_output=True).returncode == 0:
        f2bhost.check_backend(cfg)  # fail2ban's own interpreter has it: passes


def test_units_only_where_systemd_runs_else_cron_with_the_service_loop(tmp_path: Path) -> None:
    running = freeswitch_tree(tmp_path / "running")
    (running / "run/systemd/system").mkdir(parents=True)
    (running / "etc/cron.d").mkdir(parents=True)
    installer.install(running)
    assert (running / "etc/systemd/system/fsguard.service").is_file()
    assert not (running / "etc/cron.d/fsguard").exists()

    # Debian without a running systemd (container, chroot): /etc/systemd exists, nothing would start units
    idle = freeswitch_tree(tmp_path / "idle")
    (idle / "etc/systemd/system").mkdir(parents=True)
    (idle / "etc/cron.d").mkdir(parents=True)
    res = installer.install(idle)
    assert sorted((idle / "etc/systemd/system").iterdir()) == []
    cron = (idle / "etc/cron.d/fsguard").read_text()
    assert "* * * * * root /usr/local/sbin/fsguard service --if-not-running" in cron
    assert any("systemd is not running" in n and "cron starts the service loop" in n for n in res.notes)


def test_one_service_loop_per_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfgpath = write_config(tmp_path, extra="jail_dir =\nfirewall = off\n")
    monkeypatch.setenv("FSGUARD_CONFIG", str(cfgpath))
    cfg = config.load(cfgpath)
    with open(cfg.state_dir / "service.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a running loop holds it
        assert main(["service", "--if-not-running"]) == 0  # cron's start: quietly nothing
        assert main(["service"]) != 0
        assert "another `fsguard service` is running" in capsys.readouterr().err
