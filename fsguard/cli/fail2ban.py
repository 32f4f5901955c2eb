"""fail2ban commands: ``ignore-check``, ``why``, ``unban``, ``offenders``, ``service``.

``why`` and ``unban`` are adapters over :mod:`fsguard.ops.bans` (the GUI queue and the drill use
the same functions); this module parses arguments and prints."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fs_python import config as fsconfig
from fsguard.cli import output
from fsguard.cli.exitcodes import Exit
from fsguard.ops.bans import UnbanResult, WhyResult, unban, why

__all__ = ["UnbanResult", "WhyResult", "register", "unban", "why"]

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store



def register(sub: Any) -> None:
    p = sub.add_parser("ignore-check", help="fail2ban ignorecommand: exit 0 ignore, 1 not ignored, 2 bad input")
    p.add_argument("ip")
    p.set_defaults(func=cmd_ignore_check)
    p = sub.add_parser("why", help="is an IP banned or whitelisted, and why (with the evidence)")
    p.add_argument("ip")
    p.set_defaults(func=cmd_why)
    p = sub.add_parser("unban", help="lift a ban: fail2ban, the kernel set and the evidence row")
    p.add_argument("ip")
    p.set_defaults(func=cmd_unban)
    p = sub.add_parser("offenders", help="failures from whitelisted IPs, per user identity")
    p.add_argument("--ip", help="only this address")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_offenders)
    p = sub.add_parser("service", help="run fsguard's background loop (ignore sync, offenders, queue)")
    p.add_argument("--once", action="store_true", help="one tick, then exit")
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--if-not-running", action="store_true",
                   help="exit quietly when a service loop already runs (cron starts it every minute)")
    p.set_defaults(func=cmd_service)


def _ip(text: str) -> str | None:
    from fs_python import whitelist

    try:
        return str(whitelist.parse_ip(text))
    except ValueError:
        return None


def _load() -> Config:
    return fsconfig.load()


# -- ignore-check: fail2ban's ignorecommand contract (stdlib + snapshots only: fast) --------------
def cmd_ignore_check(args: argparse.Namespace) -> int:
    from fsguard.cli import ignorecheck

    try:
        verdict = ignorecheck.verdict(args.ip)
    except (ValueError, fsconfig.ConfigError) as exc:
        output.error(str(exc))
        return int(Exit.BAD_INPUT)
    output.emit(args, verdict, "; ".join(verdict.reasons) if verdict.whitelisted else "")
    return int(Exit.OK if verdict.whitelisted else Exit.NOT_IGNORED)


# -- why -----------------------------------------------------------------------------------------
def _fmt(epoch: Any) -> str:
    if epoch is None:
        return "never (permanent)"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))


def _safe(text: object) -> str:
    """Attacker text (log lines, user names) printed for a person: no terminal control bytes."""
    from fs_python import eventline

    return eventline.escape(str(text), 2000)[0]


def why_text(r: WhyResult) -> str:
    out = [f"{r.ip}: " + ("BANNED" if r.banned else "not banned")
           + (" (jails: " + ", ".join(r.jails) + ")" if r.jails else "")]
    if r.kernel_banned is not None:
        out.append(f"  kernel ban set: {'yes' if r.kernel_banned else 'no'}")
    out.append("  whitelisted: " + ("; ".join(r.whitelist_reasons) if r.whitelisted else "no"))
    for m in r.memberships:
        out.append(f"  list {m['list']} ({m['source']}): {m['detail']}")
    for b in r.bans:
        out.append(f"  ban [{b['jail']}] {b['ban_status']} from {_fmt(b['ban_start'])} until {_fmt(b['ban_end'])}"
                   f" after {b['failure_count']} failures" + (" (restored)" if b.get("restored") else "")
                   + (f" -- NOT in the kernel set ({_safe(str(b['kernel_status']))})"
                      if str(b.get("kernel_status") or "").startswith("failed") else ""))
        users = json.loads(b.get("user_names") or "[]")
        agents = json.loads(b.get("user_agents") or "[]")
        if users:
            out.append("    users tried: " + ", ".join(_safe(u) for u in users[:10]))
        if agents:
            out.append("    user agents: " + ", ".join(_safe(a) for a in agents[:5]))
        for line in json.loads(b.get("matches") or "[]")[-5:]:
            out.append("    | " + _safe(line))
        if b.get("unban_time"):
            out.append(f"    lifted {_fmt(b['unban_time'])}: {b.get('unban_reason') or ''}")
    for o in r.offenders:
        out.append(f"  offender {_safe(o['user_identity'])} ({o['event_kind']}): {o['failure_count']} failures,"
                   f" last {_fmt(o['last_seen'])}")
    out += [f"  note: {n}" for n in r.notes]
    out += [f"  run: {c}" for c in r.commands]
    return "\n".join(out)


def _with_store(args: argparse.Namespace, ip_text: str | None, body: Callable[[Any, Any, str | None], int]) -> int:
    """Validate the optional IP argument, open the store, run ``body(cfg, store, ip)``, close it.

    One place for the exit codes every store-backed command shares: a malformed IP is BAD_INPUT
    before anything is opened, an unreachable or failing store is STORE_ERROR."""
    from fsguard.store import StoreError, open_store

    ip = None
    if ip_text is not None:
        ip = _ip(ip_text)
        if ip is None:
            output.error(f"not an IP address: {ip_text[:60]!r}")
            return int(Exit.BAD_INPUT)
    try:
        cfg = _load()
        store = open_store(cfg)
    except fsconfig.ConfigError as exc:
        output.error(str(exc))
        return int(Exit.CONFIG_ERROR)
    except Exception as exc:
        output.error(str(exc))
        return int(Exit.STORE_ERROR)
    try:
        return body(cfg, store, ip)
    except fsconfig.ConfigError as exc:
        output.error(str(exc))
        return int(Exit.CONFIG_ERROR)
    except StoreError as exc:
        output.error(str(exc))
        return int(Exit.STORE_ERROR)
    finally:
        store.close()


def cmd_why(args: argparse.Namespace) -> int:
    def body(cfg: Config, store: Store, ip: str | None) -> int:
        assert ip is not None
        res = why(cfg, store, ip)
        output.emit(args, res, why_text(res))
        return int(Exit.OK)

    return _with_store(args, args.ip, body)


# -- unban ---------------------------------------------------------------------------------------
def cmd_unban(args: argparse.Namespace) -> int:
    def body(cfg: Config, store: Store, ip: str | None) -> int:
        assert ip is not None
        res = unban(cfg, store, ip, reason="fsguard unban (operator)")
        output.emit(args, res, res.message())
        if not res.ok:
            return int(Exit.FIREWALL_ERROR)
        return int(Exit.OK if res.found else Exit.NOT_FOUND)

    return _with_store(args, args.ip, body)


# -- offenders / service -------------------------------------------------------------------------
def cmd_offenders(args: argparse.Namespace) -> int:
    from fsguard import evidence

    def body(cfg: Config, store: Store, ip: str | None) -> int:
        rows = evidence.offenders(store, ip=ip, limit=args.limit)
        lines = [f"{r['ip_address']:<40} {r['user_identity']:<40} {r['event_kind']:<18} {r['failure_count']:>7}"
                 f"  last {_fmt(r['last_seen'])}  ({r['whitelist_reason']})" for r in rows]
        output.emit(args, rows, "\n".join(lines) if lines else "no offenders behind whitelisted addresses")
        return int(Exit.OK)

    return _with_store(args, args.ip or None, body)


def cmd_service(args: argparse.Namespace) -> int:
    import logging

    from fsguard.service import Service
    from fsguard.store import open_store

    logging.basicConfig(level=logging.INFO, format="fsguard service: %(message)s")
    try:
        cfg = _load()
        store = open_store(cfg)
    except Exception as exc:
        output.error(str(exc))
        return int(Exit.STORE_ERROR)
    lock = None
    if not args.once:
        # one loop per host: cron may start one every minute (`--if-not-running`)
        import fcntl

        lock = open(cfg.state_dir / "service.lock", "a")  # noqa: SIM115 (held for the process's life)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            store.close()
            if args.if_not_running:
                return int(Exit.OK)
            output.error(f"another `fsguard service` is running (lock {cfg.state_dir / 'service.lock'})")
            return int(Exit.FAIL2BAN_ERROR)
    svc = Service(cfg, store)
    if args.once:
        res = svc.tick()
        output.emit(args, res, f"ignore +{res.ignore_added}/-{res.ignore_removed}, unbanned {len(res.unbanned)},"
                               f" events {res.events}, offences {res.offences}, queue {res.queue}"
                               + "".join(f"\n  repaired: {r}" for r in res.repaired)
                               + "".join(f"\n  error: {e}" for e in res.errors))
        return int(Exit.OK if not res.errors else Exit.FAIL2BAN_ERROR)
    svc.run(interval=max(1.0, args.interval))
    return int(Exit.OK)
