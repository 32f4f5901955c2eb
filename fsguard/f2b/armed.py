"""Is fsguard armed? Every running fsguard jail has fsguard's action, and every address fail2ban
holds banned in those jails is in the kernel ban set (contract 4).

fail2ban drops a Python action that lacks ``reload``/``clearAllParams`` at ``fail2ban-client
reload`` (an action rendered by an older fsguard, or one that failed to load): fail2ban then still
bans, but nothing reaches the kernel and no evidence is written, and fail2ban's own status looks
fine. ``check`` finds both differences (``fsguard status``); ``repair`` fixes them (``fsguard
service`` each tick, ``fsguard install`` after its reload) and says what it did:

- a jail without the action is restarted (``fail2ban-client restart <jail>``): only a restart
  loads an action again (a reload never adds a new action to a running jail); its bans are
  restored from fail2ban's database and go through the action again;
- a banned address missing from the kernel set is put back for the rest of its ban, with an
  evidence row saying so. Whitelisted addresses are left out, as the action itself does.
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fsguard import settings
from fsguard.f2b.client import Client, Fail2banError

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.service")
ACTION = "fsguard_action"  # fail2ban names a Python action after its file (action.d/fsguard_action.py)


@dataclass
class JailState:
    jail: str
    has_action: bool
    banned: dict[str, int | None] = field(default_factory=dict)  # ip -> seconds left (None: permanent)
    missing: list[str] = field(default_factory=list)  # banned by fail2ban, not in the kernel set


@dataclass
class Armed:
    jails: list[JailState] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(j.has_action and not j.missing for j in self.jails)

    def problems(self) -> list[str]:
        out = list(self.errors)
        for j in self.jails:
            if not j.has_action:
                out.append(f"{j.jail}: fsguard's action is not loaded (bans reach no kernel set)")
            if j.missing:
                out.append(f"{j.jail}: banned by fail2ban but not in the kernel set: {', '.join(j.missing)}")
        return out


def _left(entry: str, now: float) -> tuple[str, int | None] | None:
    """One ``get <jail> banip --with-time`` entry: ``IP \\tSTART + SECONDS = END`` (local time)."""
    try:
        ip, rest = entry.split("\t", 1) if "\t" in entry else entry.split(" ", 1)
        seconds = int(rest.split("+", 1)[1].split("=", 1)[0])
        end_text = rest.split("=", 1)[1].strip()
    except (IndexError, ValueError):
        return None
    if seconds < 0:
        return ip.strip(), None
    try:
        end = time.mktime(time.strptime(end_text, "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return ip.strip(), seconds
    return ip.strip(), max(1, int(end - now))


def _firewall_on(cfg: Config) -> bool:
    return settings.F2B_FIREWALL.get(cfg)


def _netns(cfg: Config) -> str | None:
    return settings.F2B_NETNS.get(cfg) or None


def _whitelisted(cfg: Config, ip: str) -> bool:
    try:
        from fs_python import whitelist

        return bool(whitelist.check(ip, state_dir=cfg.state_dir).whitelisted)
    except Exception:  # a broken snapshot: treat as not whitelisted, as the action does
        return False


def check(cfg: Config, client: Client, jails: list[str] | tuple[str, ...], now: float | None = None) -> Armed:
    from fsguard.firewall import bans

    now = time.time() if now is None else now
    out = Armed()
    try:
        running = set(client.jails())
    except Fail2banError as exc:
        out.errors.append(str(exc))
        return out
    for jail in jails:
        if jail not in running:
            continue
        try:
            actions = client.send(["get", jail, "actions"])
            state = JailState(jail, ACTION in [str(a) for a in (actions or [])])
            for entry in client.send(["get", jail, "banip", "--with-time"]) or []:
                parsed = _left(str(entry), now)
                if parsed:
                    state.banned[parsed[0]] = parsed[1]
        except Fail2banError as exc:
            out.errors.append(f"{jail}: {exc}")
            continue
        if _firewall_on(cfg):
            for ip in state.banned:
                try:
                    if not bans.is_banned(cfg, ip, netns=_netns(cfg)) and not _whitelisted(cfg, ip):
                        state.missing.append(ip)
                except Exception as exc:  # a kernel query failing is itself a finding
                    out.errors.append(f"{jail}: kernel set check of {ip}: {exc}")
        out.jails.append(state)
    return out


def restart_jail(client: Client, jail: str, conf_dir: Path | None) -> None:
    """``fail2ban-client restart <jail>``: the client reads the jail's config and streams it."""
    cmd = ["fail2ban-client"] + (["-c", str(conf_dir)] if conf_dir else []) + ["-s", client.socket_path,
                                                                             "restart", jail]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise Fail2banError(f"fail2ban-client restart {jail}: {exc}") from None
    if proc.returncode != 0:
        raise Fail2banError(f"fail2ban-client restart {jail}: {(proc.stderr or proc.stdout).strip()[-300:]}")


RESTART_EVERY = 600.0  # seconds: an action that fails to load is not restarted in a loop


def repair(cfg: Config, client: Client, store: Store | None, armed: Armed, *,
           conf_dir: Path | None, restarted: dict[str, float] | None = None) -> tuple[list[str], list[str]]:
    """Fix what ``check`` found; return (what was done, what failed), one line each.

    ``restarted`` (jail -> time of fsguard's last restart of it, kept by the caller) limits jail
    restarts to one per RESTART_EVERY: an action that does not load after a restart is reported
    (fail2ban's log says why) instead of restarting the jail, and re-applying its bans, again."""
    restarted = {} if restarted is None else restarted
    from fsguard import evidence
    from fsguard.firewall import bans

    done: list[str] = []
    failed: list[str] = []
    for state in armed.jails:
        if not state.has_action:
            last = restarted.get(state.jail)
            if last is not None and time.time() - last < RESTART_EVERY:
                failed.append(f"{state.jail}: fsguard's action did not load after a restart "
                              f"{time.time() - last:.0f} s ago: see fail2ban's log (`fsguard_action`)")
                continue
            restarted[state.jail] = time.time()
            try:
                restart_jail(client, state.jail, conf_dir)
                done.append(f"{state.jail}: fsguard's action was not loaded; jail restarted "
                            f"({len(state.banned)} bans restored through it)")
            except Fail2banError as exc:
                failed.append(f"{state.jail}: fsguard's action is not loaded and the restart failed: {exc}")
            continue  # the restart re-applies every ban through the action
        for ip in state.missing:
            seconds = state.banned.get(ip)
            try:
                bans.add_ban(cfg, ip, seconds, netns=_netns(cfg))
            except Exception as exc:
                failed.append(f"{state.jail}: could not put {ip} back into the kernel set: {exc}")
                continue
            done.append(f"{state.jail}: {ip} was banned by fail2ban but not in the kernel set; put back"
                         + (f" for {seconds} s" if seconds else ""))
            if store is None:
                continue
            try:
                if not [r for r in evidence.active_bans(store, ip) if r["jail"] == state.jail]:
                    start = time.time()
                    evidence.record_ban(store, ip=ip, jail=state.jail, start=start, seconds=seconds, failures=0,
                                        matches=[], users=[], agents=[], restored=True, status="banned")
            except Exception as exc:
                failed.append(f"{state.jail}: {ip} put back, but no evidence row: {exc}")
    return done, failed


def conf_dir_of(cfg: Config) -> Path | None:
    """fail2ban's config dir (the parent of ``[fail2ban] jail_dir``), for ``fail2ban-client -c``."""
    jail_dir = settings.F2B_JAIL_DIR.get(cfg)
    return Path(jail_dir).parent if jail_dir else None

