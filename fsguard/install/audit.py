"""``fsguard status --audit``: who could change what root runs or reads.

Checked: the product root runs (``/usr/lib/fsguard``, the CLI wrapper, units, cron), every
directory on root's import path (the isolated system interpreter's own ``sys.path`` plus
fsguard's and fail2ban's ``pythonpath``), the config, fsguard's fail2ban files (the events filter
carries the token: root's only), the state dir and what root keeps in it. Each finding names the
path, what is wrong and the command that fixes it. FreeSWITCH's own trees (owned by www-data on
FusionPBX) are not findings: root reads only the log from them, as untrusted input, and the
registrations snapshot from ``<state_dir>/fs``.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fs_python import config as fsconfig
from fsguard.install import sources
from fsguard.install.installer import CONFIG, STATE_DIR
from fsguard.install.target import Target


@dataclass
class Finding:
    path: str
    problem: str
    fix: str


def _who(st: os.stat_result) -> str:
    return f"owner uid {st.st_uid}, gid {st.st_gid}, mode {st.st_mode & 0o7777:o}"


def _check(t: Target, host: str, out: list[Finding], *, secret: bool = False, tree: bool = False) -> None:
    """``host`` (and, with ``tree``, everything under it) root's and writable by root alone;
    ``secret``: not readable by others either."""
    real = t.r(host)
    paths = [real]
    if tree and real.is_dir() and not real.is_symlink():
        paths += sorted(real.rglob("*"))
    for p in paths:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        shown = "/" + p.relative_to(t.root).as_posix() if t.root != Path("/") else str(p)
        if stat.S_ISLNK(st.st_mode):
            out.append(Finding(shown, "a symlink where fsguard keeps a file of its own",
                               f"rm {shown}; fsguard install"))
        elif st.st_uid != 0 or st.st_mode & 0o022:
            out.append(Finding(shown, f"root runs or reads it, but another user can change it ({_who(st)})",
                               f"chown root:root {shown}; chmod go-w {shown}"))
        elif secret and st.st_mode & 0o004:
            out.append(Finding(shown, f"holds the event token but everyone can read it ({_who(st)})",
                               f"chmod o-rwx {shown}"))


def _chain(t: Target, host: str, out: list[Finding], why: str) -> None:
    """Every existing directory from / down to ``host`` must be root's alone."""
    parts = Path(host).parts
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[1:i])
        try:
            st = os.stat(t.r(d))
        except OSError:
            return
        if st.st_uid != 0 or st.st_mode & 0o022:
            out.append(Finding(d, f"{why}, and another user can write it ({_who(st)})",
                               f"chown root:root {d}; chmod go-w {d}"))
            return


def _root_sys_path() -> list[str]:
    try:
        proc = subprocess.run(["/usr/bin/python3", "-I", "-c", "import sys; print('\\n'.join(sys.path))"],
                              capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return []
    return [p for p in proc.stdout.splitlines() if p]


def audit(t: Target) -> list[Finding]:
    out: list[Finding] = []
    for host in (sources.LIB_DIR, sources.CLI, "/etc/cron.d/fsguard"):
        _chain(t, str(Path(host).parent), out, f"on the way to {host}, which root runs")
        _check(t, host, out, tree=True)
    units = t.r("/etc/systemd/system")
    for unit in sorted(units.glob("fsguard*")) if units.is_dir() else []:
        _check(t, f"/etc/systemd/system/{unit.name}", out)
    # root's import path: the isolated interpreter's own entries are host paths (not in a tree)
    for entry in _root_sys_path():
        st_ok = Target(Path("/"), t.kind, t.conf_dir, t.scripts_dir, t.log_file, t.mod_dir)
        _chain(st_ok, entry, out, "on root's Python import path")
    _chain(t, sources.LIB_DIR, out, "on root's Python import path")
    cfg_real = t.r(CONFIG)
    _chain(t, "/etc/fsguard", out, "holds fsguard's config")
    _check(t, "/etc/fsguard", out)
    _check(t, CONFIG, out, secret=True)
    try:
        cfg = fsconfig.load(cfg_real) if cfg_real.exists() else None
    except fsconfig.ConfigError:
        cfg = None
    from fsguard.install import trust
    from fsguard.install.target import Misconfigured

    pypaths = {cfg.get("fail2ban", "pythonpath")} if cfg is not None else set()
    jail = t.r("/etc/fail2ban/jail.d/fsguard.local")
    if jail.is_file():  # what the running fail2ban was actually given (an older install's render)
        pypaths |= set(re.findall(r'pythonpath="([^"]*)"', jail.read_text(encoding="utf-8", errors="replace")))
    for pypath in sorted(p for p in pypaths if p):
        try:
            trust.check_pythonpath(t, pypath)
        except Misconfigured as exc:
            out.append(Finding(pypath, "fail2ban (root) imports fsguard from here: " + str(exc).split(": ", 1)[-1],
                               f"set `pythonpath = {sources.LIB_DIR}` in {CONFIG}, then fsguard install"))
    f2b = t.r("/etc/fail2ban")
    for sub in ("filter.d", "jail.d", "action.d"):
        for p in sorted((f2b / sub).glob("fsguard*")) if (f2b / sub).is_dir() else []:
            _check(t, f"/etc/fail2ban/{sub}/{p.name}", out, secret=p.name == "fsguard-events.conf")
    _state(t, out)
    return out


def _state(t: Target, out: list[Finding]) -> None:
    state = t.r(STATE_DIR)
    if not state.is_dir():
        return
    _chain(t, STATE_DIR, out, "holds what root keeps and reads back")
    fix = f"fsguard install (it makes {STATE_DIR} root's and removes what another user left in it)"
    for p in sorted(state.iterdir()):
        if p.name == "fs":
            continue  # FreeSWITCH's own place: root reads registrations.json from it as untrusted input
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
            out.append(Finding(f"{STATE_DIR}/{p.name}", f"in root's state dir but not root's alone ({_who(st)})", fix))
        elif p.is_dir():
            _check(t, f"{STATE_DIR}/{p.name}", out, tree=True)
    man = state / "install-manifest.json"
    if man.exists() and os.lstat(man).st_mode & 0o077:
        out.append(Finding(f"{STATE_DIR}/install-manifest.json", "readable by others", "chmod 600 " + str(man)))
    st = os.stat(state)
    if st.st_uid != 0 or st.st_mode & 0o022:
        out.append(Finding(STATE_DIR, f"root's state dir is writable by another user ({_who(st)})", fix))
