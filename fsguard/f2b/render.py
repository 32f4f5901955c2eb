"""Render fsguard's fail2ban configuration (contract 6).

``render_config(cfg, out_dir, logpath=..., private=False)`` writes fsguard's own files only
(``filter.d/fsguard-*.conf``, ``jail.d/fsguard.local``, ``action.d/fsguard_action.py``), never a stock
file; with ``private=True`` it also writes a minimal ``fail2ban.conf`` / ``jail.conf`` so the
directory works as ``fail2ban-server -c out_dir`` (own socket, ``dbfile = :memory:``), which the
tests and benchmarks use.

fail2ban 1.0.2 refuses to start when an enabled jail's ``logpath`` matches no file (1.1.1 added
``skip_if_nologs``). The FreeSWITCH log is FreeSWITCH's to create (root creating it, in a directory
FreeSWITCH's user owns, is how a symlink there hands that user any file), so the installed jails
name a second, always-present log: an empty root-owned ``placeholder`` (``/usr/lib/fsguard``) that
nobody writes. fail2ban then starts while FreeSWITCH's log is missing, and ``fsguard service``
adds the real log to the jails (``addlogpath``) once FreeSWITCH has created it. The journald
variant (``backend = systemd``) has no logpath at all.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fs_python.config import ConfigError
from fsguard import safefs, settings
from fsguard.f2b import filters

if TYPE_CHECKING:
    from fs_python.config import Config

JAILS = settings.F2B_JAILS_ALL
ENABLED_JAILS = ("fsguard-auth", "fsguard-scan")
SECTION = "fail2ban"


class RenderError(Exception):
    """A setting makes the fail2ban config impossible to render."""


def _backend(cfg: Config) -> str:
    try:
        return settings.F2B_BACKEND.get(cfg)
    except ConfigError as exc:
        raise RenderError(str(exc)) from None


def action_py() -> str:
    """action.d/fsguard_action.py: a thin fail2ban Python action delegating to fsguard.f2b.action.

    A Python action runs without the shell and without fail2ban's global command lock. fail2ban
    imports the file under its own base name, so it must not be ``fsguard.py``: that module would
    shadow the ``fsguard`` package the action imports."""
    return '''# fsguard's fail2ban action (rendered by fsguard; do not edit, re-render with fsguard).
# Records every ban/unban with its evidence and puts bans into fsguard's kernel sets.
import sys

from fail2ban.server.actions import ActionBase


class FsguardAction(ActionBase):
    def __init__(self, jail, name, config="", pythonpath="", netns="", firewall="on"):
        super().__init__(jail, name)
        if pythonpath and pythonpath not in sys.path:
            sys.path.insert(0, pythonpath)
        from fsguard.f2b.action import Recorder

        self._impl = Recorder(jail.name, config=config, netns=netns or None,
                              firewall=firewall, log=self._logSys)

    # fail2ban keeps a Python action across `fail2ban-client reload` only if it has both
    # clearAllParams() and reload() (server/actions.py: Actions.add(reload=True), 1.0.2 and 1.1.x);
    # otherwise the action counts as obsolete: its bans are lifted through it, it is removed, and
    # later bans reach no kernel set and leave no evidence until fail2ban restarts.
    def clearAllParams(self):
        pass

    def reload(self, config="", pythonpath="", netns="", firewall="on"):
        # the options may have changed (re-rendered jail): re-read them; bans in force stay
        if pythonpath and pythonpath not in sys.path:
            sys.path.insert(0, pythonpath)
        from fsguard.f2b.action import Recorder

        old, self._impl = self._impl, Recorder(self._jail.name, config=config, netns=netns or None,
                                               firewall=firewall, log=self._logSys)
        old.stop()

    def start(self):
        # bans go to the kernel when the filter decides them, not when the actions thread polls
        from fsguard.f2b import prompt

        prompt.install(self._jail, self._logSys)
        self._impl.start()

    def stop(self):
        self._impl.stop()

    def ban(self, aInfo):
        self._impl.ban(aInfo)

    def unban(self, aInfo):
        self._impl.unban(aInfo)

    # bantime.increment: fail2ban computes a repeat offender's longer ban after the ban and
    # calls prolong() with it (within 10 s); the kernel set entry and the evidence follow.
    @property
    def _prolongable(self):
        return True

    def prolong(self, aInfo):
        self._impl.prolong(aInfo)


Action = FsguardAction
'''


def _q(value: str) -> str:
    if any(c in value for c in "\"'\n\r,[]"):
        raise RenderError(f"unsafe character in fail2ban action option: {value!r}")
    return f'"{value}"'


def jail_local(cfg: Config, *, logpath: Path, config_path: str, pythonpath: str, placeholder: str = "") -> str:
    backend = _backend(cfg)
    ignoreip = " ".join(settings.F2B_IGNOREIP.get(cfg))
    netns = settings.F2B_NETNS.get(cfg)
    firewall = "on" if settings.F2B_FIREWALL.get(cfg) else "off"
    action = "fsguard_action.py[config=%s, pythonpath=%s, netns=%s, firewall=%s]" % (
        _q(config_path), _q(pythonpath), _q(netns), _q(firewall))
    paths = f"logpath = {logpath}\n" + (f"          {placeholder}\n" if placeholder else "")
    src = f"backend = {backend}\n" + ("" if backend == "systemd" else paths)
    common = (
        f"{src}port = {settings.F2B_PORTS.get(cfg)}\nprotocol = udp,tcp\n"
        f"usedns = no\nignoreip = {ignoreip}\nignorecommand =\naction = {action}\n"
        # Escalation for repeat offenders: every new ban of an address lasts longer (all jails).
        "bantime.increment = true\nbantime.factor = 1\n"
        f"bantime.maxtime = {settings.F2B_BANTIME_MAX.get(cfg)}\nbantime.overalljails = true\n"
    )
    auth = settings.F2B_AUTH_MAXRETRY.get(cfg)
    scan = settings.F2B_SCAN_MAXRETRY.get(cfg)
    return f"""# fsguard's jails (rendered by fsguard; do not edit: re-render with fsguard).
# The ignore list is kept in sync at runtime by `fsguard service` (registered customers, admin
# whitelist, carriers) and written to fsguard.whitelist.local so a restart starts with it.

[fsguard-auth]
# auth failures and unknown users, from fsguard's event lines (token-bound)
enabled = {"true" if settings.F2B_AUTH_ENABLED.get(cfg) else "false"}
filter = fsguard-events[mode=auth]
maxretry = {auth}
findtime = {settings.F2B_AUTH_FINDTIME.get(cfg)}
bantime = {settings.F2B_AUTH_BANTIME.get(cfg)}
{common}
[fsguard-scan]
# not-found numbers and IP-literal domains: scanners, banned quickly
enabled = {"true" if settings.F2B_SCAN_ENABLED.get(cfg) else "false"}
filter = fsguard-events[mode=scan]
maxretry = {scan}
findtime = {settings.F2B_SCAN_FINDTIME.get(cfg)}
bantime = {settings.F2B_SCAN_BANTIME.get(cfg)}
{common}
[fsguard-sofia]
# sofia's own records; opt-in (forged records printed at column 0 cannot be told from real ones)
enabled = {"true" if settings.F2B_SOFIA_ENABLED.get(cfg) else "false"}
filter = fsguard-sofia
maxretry = {auth}
findtime = 600
bantime = 3600
{common}
[fsguard-fusionpbx]
# FusionPBX's "[inbound routes] 404 not found" line; opt-in (fsguard's handler logs event lines)
enabled = {"true" if settings.F2B_FUSIONPBX_ENABLED.get(cfg) else "false"}
filter = fsguard-fusionpbx
maxretry = {scan}
findtime = 600
bantime = 86400
{common}"""


def private_files(out_dir: Path) -> dict[str, str]:
    return {
        "fail2ban.conf": f"""[Definition]
loglevel = INFO
logtarget = {out_dir / 'fail2ban.log'}
syslogsocket = auto
socket = {out_dir / 'fail2ban.sock'}
pidfile = {out_dir / 'fail2ban.pid'}
allowipv6 = auto
dbfile = :memory:
dbpurgeage = 1d
""",
        "jail.conf": """[INCLUDES]
before =

[DEFAULT]
backend = auto
usedns = no
logencoding = utf-8
enabled = false
maxretry = 5
findtime = 10m
bantime = 10m
ignoreself = false
ignoreip =
banaction =
action =
""",
    }


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    safefs.write_text(path, text, mode, create_dirs=True)
    return path


def render_config(cfg: Config, out_dir: Path, *, logpath: Path, private: bool = False,
                  placeholder: str = "") -> list[Path]:
    """Write fsguard's fail2ban files under ``out_dir``; return the paths written. ``placeholder``:
    an always-present empty file the jails also read, so fail2ban starts without FreeSWITCH's log."""
    token = cfg.event_token
    if not token:
        raise RenderError("[fsguard] event_token is not set: install fsguard first")
    out_dir = Path(out_dir)
    logpath = Path(logpath)
    pythonpath = settings.F2B_PYTHONPATH.get(cfg) or str(Path(__file__).resolve().parents[2])
    tokens = [t for t in cfg.event_tokens(time.time()) if t != token]
    written = [
        # root's only: the events filter carries the secret token
        _write(out_dir / "filter.d" / "fsguard-events.conf", filters.events_filter(token, *tokens), 0o600),
        _write(out_dir / "filter.d" / "fsguard-sofia.conf", filters.sofia_filter()),
        _write(out_dir / "filter.d" / "fsguard-fusionpbx.conf", filters.fusionpbx_filter()),
        _write(out_dir / "action.d" / "fsguard_action.py", action_py()),
        _write(out_dir / "jail.d" / "fsguard.local",
               jail_local(cfg, logpath=logpath, config_path=str(cfg.path), pythonpath=pythonpath,
                          placeholder=placeholder)),
    ]
    if private:
        # a private server (tests, the drill) in a directory of the caller's own: the log is the
        # caller's too, created empty if missing (never replaced, never through a symlink)
        if _backend(cfg) != "systemd" and not safefs.exists(logpath):
            with contextlib.suppress(FileExistsError):
                os.close(os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640))
        for name, text in private_files(out_dir).items():
            written.append(_write(out_dir / name, text))
        for sub in ("filter.d", "action.d", "jail.d"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
    return written


def python_for_fail2ban() -> str:
    """fail2ban is a Debian package: its server runs on the system interpreter."""
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
