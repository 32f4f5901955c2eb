"""``fsguard status``: one screen that says whether every stage is in place.

Each stage is checked independently and reported as ok / warn / fail with a reason, so an operator
sees at once which part is missing (the config, the event token, the registrations snapshot, the
store, fail2ban, the firewall) instead of one opaque error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from fs_python import config as config_mod
from fsguard import settings
from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit


@dataclass
class Check:
    name: str
    state: str  # ok | warn | fail
    detail: str


@dataclass
class StatusResult:
    config_path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.state != "fail" for c in self.checks)


def _snapshot(path: Any, key: str, now: float) -> Check:
    name = path.name
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        items = data.get(key) or []
    except FileNotFoundError:
        return Check(name, "warn", f"{path} not written yet")
    except (OSError, ValueError, AttributeError) as exc:
        return Check(name, "fail", f"{path}: unreadable ({exc})")
    age = now - float(data.get("written") or 0)
    if key == "registrations":
        live = [r for r in items if float(r.get("expires") or 0) > now]
        return Check(name, "ok", f"{len(live)} live registrations (snapshot {age:.0f} s old)")
    return Check(name, "ok", f"{len(items)} entries (snapshot {age:.0f} s old)")


def _fail2ban(cfg: config_mod.Config) -> list[Check]:
    """fail2ban runs fsguard's jails, each with fsguard's action, and every address it holds
    banned there is in the kernel set (a reload can silently drop an action: fsguard.f2b.armed)."""
    from fsguard.f2b import armed
    from fsguard.f2b.client import Client, Fail2banError

    if shutil.which("fail2ban-client") is None:
        return [Check("fail2ban", "fail", "fail2ban-client not installed")]
    client = Client(settings.F2B_SOCKET.get(cfg))
    try:
        jails = client.jails()
    except Fail2banError as exc:
        return [Check("fail2ban", "fail", f"fail2ban-server not running ({exc})")]
    ours = [j for j in jails if j.startswith("fsguard")]
    if not ours:
        return [Check("fail2ban", "warn", "running, but no fsguard jail is enabled")]
    out = [Check("fail2ban", "ok", "jails: " + ", ".join(ours))]
    state = armed.check(cfg, client, ours)
    banned = sum(len(j.banned) for j in state.jails)
    out.append(Check("fail2ban armed", "ok" if state.ok else "fail",
                     f"every jail has fsguard's action; {banned} bans, all in the kernel set" if state.ok
                     else "; ".join(state.problems()) + " (`fsguard service` repairs this at its next check)"))
    return out


def collect(now: float | None = None) -> StatusResult:
    now = time.time() if now is None else now
    path = config_mod.config_path()
    result = StatusResult(str(path))
    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        result.checks.append(Check("config", "fail", str(exc)))
        return result
    result.checks.append(Check("config", "ok" if path.exists() else "warn",
                               str(path) if path.exists() else f"{path} missing: defaults in use"))
    result.checks.append(Check("event token", "ok" if cfg.event_token else "fail",
                               "set" if cfg.event_token else "no [fsguard] event_token: no evidence lines"))
    result.checks.append(_snapshot(cfg.fs_dir / "registrations.json", "registrations", now))
    result.checks.append(_snapshot(cfg.state_dir / "whitelist.json", "entries", now))
    try:
        from fsguard.store import StoreError, open_store

        store = open_store(cfg)
        try:
            row = store.query_one(
                "select count(*) as n from v_fsguard_bans where ban_status = :s", {"s": "banned"})
            result.checks.append(Check("store", "ok", f"{cfg.store_kind}: {row['n'] if row else 0} active bans"))
        finally:
            store.close()
    except (StoreError, config_mod.ConfigError) as exc:
        result.checks.append(Check("store", "fail", str(exc)))
    result.checks += _fail2ban(cfg)
    from fsguard import heartbeat

    result.checks.append(Check("service loop", *heartbeat.read(cfg.state_dir, now)))
    return result


def run_audit(args: argparse.Namespace) -> int:
    from fsguard.install import audit, target

    try:
        t = target.detect(args.root)
    except target.PreflightError as exc:
        emit(args, {"audit": "failed", "error": str(exc)}, f"audit: {exc}")
        return int(Exit.PREFLIGHT_FAILED)
    found = audit.audit(t)
    text = "\n".join(f"FAIL  {f.path}: {f.problem}\n      fix: {f.fix}" for f in found)
    emit(args, {"audit": "clean" if not found else "findings", "findings": found},
         text or f"audit: clean (everything root runs or reads under {args.root} is root's alone)")
    return int(Exit.OK if not found else Exit.PREFLIGHT_FAILED)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "audit", False):
        return run_audit(args)
    result = collect()
    width = max(len(c.name) for c in result.checks)
    text = "\n".join(f"{c.state.upper():4}  {c.name:<{width}}  {c.detail}" for c in result.checks)
    emit(args, result, text)
    return int(Exit.OK if result.ok else Exit.PREFLIGHT_FAILED)


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="is every stage of fsguard in place?")
    p.add_argument("--audit", action="store_true", help="ownership and modes of everything root runs or reads, "
                                                        "each problem with its fix")
    p.add_argument("--root", default="/", help="with --audit: a target tree instead of this host")
    p.set_defaults(func=run)
