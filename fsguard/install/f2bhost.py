"""The host's fail2ban during install and uninstall: config test, reload, release of fsguard's jails.

- ``config_test``: ``fail2ban-client -t`` on the tree just written must pass before anything
  reloads. When it fails, the host's config is tested without fsguard's files and fsguard's files
  on their own (a private copy with only fsguard's jails plus the host's fail2ban.conf/jail.conf
  defaults), and the failure is named: which jail, why, the usual fix. The install then stops with
  nothing installed, and the operator decides.
- ``reload``: ``fail2ban-client reload``, then fsguard's jails are checked to be armed (an action
  rendered by an older fsguard lacks what fail2ban's reload needs and is dropped: the jail is
  restarted with the new one, see :mod:`fsguard.f2b.armed`).
- ``release``: before uninstall drops fsguard's tables, fsguard's bans are lifted through fail2ban
  (its action still has its store), removed from fail2ban's database (``unbanip`` deletes them;
  the expired history that ``bantime.increment`` would count is deleted from the ``bans``/``bips``
  tables), and fsguard's jails are stopped. A re-install starts with no old bans.
- ``check_backend``: without ``python3-pyinotify`` fail2ban's ``auto`` backend polls the log about
  once a second, and a password guesser gets 15-56 answered guesses before the ban.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from fsguard import settings
from fsguard.f2b import armed, render
from fsguard.f2b.client import Client, Fail2banError
from fsguard.install.live import Step, _run
from fsguard.install.target import Misconfigured, Target

if TYPE_CHECKING:
    from fs_python.config import Config

SOCKET = "/var/run/fail2ban/fail2ban.sock"
OURS = re.compile(r"^(jail|filter|action)\.d/fsguard[^/]*$")
KNOWN_FIXES = {
    "sshd": ("Debian 12's default [sshd] jail (jail.d/defaults-debian.conf) reads /var/log/auth.log, which a "
             "host that logs only to journald (no rsyslog) does not have. Usual fix: add\n"
             "    [sshd]\n    backend = systemd\n"
             "to /etc/fail2ban/jail.local (needs python3-systemd), or install rsyslog"),
}


def _exe() -> str | None:
    return shutil.which("fail2ban-client")


def _copy(conf: Path, dest: Path, *, keep: str, t: Target) -> Path:
    """A private copy of ``conf``: ``keep`` = "host" (without fsguard's files) or "fsguard" (only
    fsguard's jails, on the host's fail2ban.conf/jail.conf defaults and filter/action dirs)."""
    shutil.copytree(conf, dest, symlinks=True)
    for p in sorted(dest.rglob("*")):
        rel = p.relative_to(dest).as_posix()
        if not p.is_file():
            continue
        if keep == "host" and OURS.match(rel):
            p.unlink()
        elif keep == "fsguard" and (rel.startswith("jail.d/") and not OURS.match(rel)
                                    or rel in ("jail.local",)):
            p.unlink()
    if not t.live:
        # a target tree: the jails name host paths; point fsguard's at the tree's own log
        from fsguard.install.sources import F2B_PLACEHOLDER

        for jail in dest.glob("jail.d/fsguard*"):
            text = jail.read_text(encoding="utf-8")
            text = text.replace(f"logpath = {t.log_file}\n", f"logpath = {t.r(t.log_file)}\n")
            jail.write_text(text.replace(f" {F2B_PLACEHOLDER}\n", f" {t.r(F2B_PLACEHOLDER)}\n"), encoding="utf-8")
    return dest


def _test(exe: str, conf: Path) -> tuple[int, str]:
    return _run([exe, "-c", str(conf), "-t"], timeout=120)


def explain(output: str) -> str:
    """Name the failing jail and the usual fix from ``fail2ban-client -t``'s output."""
    m = re.search(r"Have not found any log file for (\S+) jail", output)
    if m:
        jail = m.group(1)
        why = (f"jail [{jail}] is enabled but none of its log files exists (fail2ban 1.0.2 then refuses to "
               "start at all)")
        fix = KNOWN_FIXES.get(jail, f"give [{jail}] an existing logpath or `backend = systemd`, or set "
                                    f"`enabled = false` for it, in /etc/fail2ban/jail.local")
        return f"{why}. {fix}."
    errors = [ln.split("ERROR", 1)[1].strip() for ln in output.splitlines() if "ERROR" in ln]
    return "; ".join(e for e in errors if "test configuration failed" not in e) or output.strip()[-500:]


def config_test(t: Target) -> Step:
    conf = t.r("/etc/fail2ban")
    exe = _exe()
    if exe is None or not (conf / "jail.conf").exists():
        return Step("fail2ban-client -t", "skipped", "fail2ban not installed")
    with tempfile.TemporaryDirectory(prefix="fsguard-f2b-") as tmp:
        rc, out = _test(exe, conf if t.live else _copy(conf, Path(tmp) / "all", keep="all", t=t))
        if rc == 0:
            return Step("fail2ban-client -t", "done", out[-2000:])
        host_rc, host_out = _test(exe, _copy(conf, Path(tmp) / "host", keep="host", t=t))
        own_rc, own_out = _test(exe, _copy(conf, Path(tmp) / "fsguard", keep="fsguard", t=t))
    if host_rc != 0 and own_rc == 0:
        detail = ("the host's own fail2ban configuration is already broken, without fsguard: "
                  f"{explain(host_out)}\nfsguard's own jails pass `fail2ban-client -t` on their own (tested on a "
                  "private copy with only fsguard's jails and the host's fail2ban.conf/jail.conf). Fix the host's "
                  "config (check with `fail2ban-client -t`), then run the install again.")
    elif own_rc != 0:
        detail = f"fsguard's own fail2ban files fail `fail2ban-client -t` on their own: {explain(own_out)}"
    else:
        detail = f"fsguard's files together with the host's config fail: {explain(out)}"
    return Step("fail2ban-client -t", "failed", detail)


def _client(cfg: Config | None = None) -> Client | None:
    if _exe() is None:
        return None
    client = Client(settings.F2B_SOCKET.get(cfg) if cfg is not None else SOCKET)
    try:
        client.send(["ping"])
    except Fail2banError:
        return None
    return client


def reload(t: Target, cfg: Config | None) -> list[Step]:
    if not t.live:
        return [Step("fail2ban reload", "skipped", f"target tree {t.root}, not the live host")]
    exe = _exe()
    client = _client(cfg)
    if exe is None or client is None:
        return [Step("fail2ban reload", "skipped", "fail2ban not installed" if exe is None
                     else "fail2ban server not running")]
    rc, out = _run([exe, "-s", client.socket_path, "reload"], timeout=120)
    steps = [Step("fail2ban reload", "done" if rc == 0 else "failed", out[-500:])]
    if rc != 0 or cfg is None:
        return steps
    state = armed.check(cfg, client, render.JAILS)
    done, failed = armed.repair(cfg, client, None, state, conf_dir=None)
    if done or failed or not state.ok:
        steps.append(Step("fsguard's jails armed", "failed" if failed else "done",
                          "\n".join(done + failed + ([] if done or failed else state.problems()))))
    return steps


def _dbfile(client: Client) -> Path | None:
    try:
        value = client.send(["get", "dbfile"])
    except Fail2banError:
        return None
    return Path(str(value)) if value and str(value) not in ("None", ":memory:") else None


def _conf_dbfile(conf: Path) -> Path | None:
    """dbfile from fail2ban.conf / fail2ban.d/*.conf|*.local (last one wins, as fail2ban reads them)."""
    value = None
    for f in [conf / "fail2ban.conf", conf / "fail2ban.local", *sorted((conf / "fail2ban.d").glob("*.conf")),
              *sorted((conf / "fail2ban.d").glob("*.local"))]:
        if f.is_file():
            for m in re.finditer(r"(?m)^\s*dbfile\s*=\s*(\S+)\s*$", f.read_text(encoding="utf-8", errors="replace")):
                value = m.group(1)
    return Path(value) if value and value not in ("None", ":memory:") else None


def purge_db(db: Path, jails: tuple[str, ...] = render.JAILS) -> int:
    """Delete fsguard's jails' rows from fail2ban's ``bans``/``bips`` tables; return how many."""
    con = sqlite3.connect(str(db), timeout=30)
    try:
        n = 0
        with con:
            for table in ("bans", "bips"):
                if con.execute("select 1 from sqlite_master where type = 'table' and name = ?", (table,)).fetchone():
                    n += con.execute(f"delete from {table} where jail in ({','.join('?' * len(jails))})",  # noqa: S608
                                     jails).rowcount
        return n
    finally:
        con.close()


def release(t: Target, client: Client | None = None) -> list[Step]:
    """Before fsguard's tables go: lift fsguard's bans through fail2ban, forget them, stop its jails."""
    if not t.live and client is None:
        return [Step("release fsguard's fail2ban jails", "skipped", f"target tree {t.root}, not the live host")]
    client = client or _client()
    if client is None:
        db = _conf_dbfile(t.r("/etc/fail2ban"))
        if db is None or not db.is_file():
            return [Step("release fsguard's fail2ban jails", "skipped", "fail2ban server not running, no database")]
        try:
            n = purge_db(db)
        except sqlite3.Error as exc:
            return [Step("forget fsguard's bans", "failed", f"{db}: {exc}")]
        return [Step("forget fsguard's bans", "done", f"fail2ban not running: {n} rows of fsguard's jails "
                                                      f"deleted from {db}")]
    steps = []
    try:
        running = [j for j in client.jails() if j in render.JAILS]
    except Fail2banError as exc:
        return [Step("release fsguard's fail2ban jails", "failed", str(exc))]
    lifted = 0
    for jail in running:
        try:
            banned = client.banned(jail)
            if banned:  # through fsguard's action: kernel entries lifted, evidence closed, DB rows gone
                client.send(["set", jail, "unbanip", *banned])
                lifted += len(banned)
            client.send(["stop", jail])
        except Fail2banError as exc:
            steps.append(Step(f"stop fail2ban jail {jail}", "failed", str(exc)))
    steps.append(Step("release fsguard's fail2ban jails", "done",
                      f"stopped {', '.join(running) or 'none running'}; {lifted} bans lifted"))
    db = _dbfile(client)
    if db is not None and db.is_file():
        try:
            n = purge_db(db)
            steps.append(Step("forget fsguard's bans", "done", f"{n} history rows deleted from {db}"))
        except sqlite3.Error as exc:
            steps.append(Step("forget fsguard's bans", "failed", f"{db}: {exc}"))
    return steps


def check_backend(cfg: Config) -> None:
    """Preflight: the file backend must not poll (inotify through python3-pyinotify)."""
    backend = settings.F2B_BACKEND.get(cfg)
    if backend not in ("auto", "pyinotify") or _exe() is None:
        return
    py = render.python_for_fail2ban()
    try:
        ok = subprocess.run([py, "-c", "import pyinotify"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        raise Misconfigured(
            "python3-pyinotify is not installed: fail2ban would poll FreeSWITCH's log about once a second, and a "
            "password guesser gets 15-56 answered guesses before the ban instead of a few. Install it "
            "(apt install python3-pyinotify), or set [fail2ban] backend = systemd (FreeSWITCH logging to journald) "
            "or backend = polling (accepting the delay) in /etc/fsguard/fsguard.conf")
