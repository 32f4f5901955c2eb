"""``fsguard allow|deny add|del|list``: the admin whitelist and blacklist.

Input is validated before anything is written; the whitelist snapshot (contract 2) is rewritten
after every change and, when the firewall has been applied before, it is re-applied so the
change takes effect at once (``--no-apply`` skips that).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fs_python import config as config_mod
from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit, error
from fsguard.cluster import hooks as cluster_hooks

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

_DUR = re.compile(r"^(\d{1,6})([smhdw])$")
_MULT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(text: str | None, now: float | None = None) -> float | None:
    """``30d``/``12h``/``90m``/``45s``/``2w`` from now, or an ISO date/time (UTC); None = never."""
    if not text:
        return None
    now = time.time() if now is None else now
    m = _DUR.match(text.strip())
    if m:
        return now + int(m.group(1)) * _MULT[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--expires: not a duration (30d, 12h) or ISO date: {text[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _when(expires: float | None) -> str:
    return "never" if expires is None else datetime.fromtimestamp(expires, UTC).isoformat(timespec="minutes")


def _reapply(cfg: Config, args: argparse.Namespace) -> str:
    from fsguard.firewall import FirewallError, engine

    if getattr(args, "no_apply", False) or not (engine.state_dir(cfg) / "last-good.json").exists():
        return ""
    try:
        engine.apply(cfg)
        return "firewall re-applied"
    except FirewallError as exc:
        return f"firewall NOT re-applied: {exc}"


def _run(args: argparse.Namespace) -> int:
    from fsguard.perimeter import lists
    from fsguard.store import StoreError, open_store

    try:
        cfg = config_mod.load()
        store = open_store(cfg)
    except (config_mod.ConfigError, StoreError) as exc:
        error(str(exc))
        return int(Exit.CONFIG_ERROR if isinstance(exc, config_mod.ConfigError) else Exit.STORE_ERROR)
    try:
        if args.action == "list":
            rows = lists.entries(store, args.list_name, include_expired=args.all, cfg=cfg)
            text = "\n".join(
                f"{e.cidr:<40} {e.label or '-':<24} {_when(e.expires)}{'' if e.enabled else ' (disabled)'}"
                for e in rows) or f"({args.list_name} list is empty)"
            emit(args, rows, text)
            return int(Exit.OK)
        if args.action == "add":
            entry, created = lists.add(store, cfg, args.list_name, args.cidr, args.label or "",
                                       parse_expiry(args.expires))
            note = _after_change(cfg, store, args)
            emit(args, {"entry": entry, "created": created, "note": note},
                 f"{'added' if created else 'updated'} {args.list_name} {entry.cidr}" + (f"; {note}" if note else ""))
            return int(Exit.OK)
        n = lists.delete(store, cfg, args.list_name, args.cidr)
        if not n:
            error(f"{args.cidr} is not on the {args.list_name} list")
            return int(Exit.NOT_FOUND)
        note = _after_change(cfg, store, args)
        emit(args, {"deleted": n, "note": note}, f"removed {args.cidr} from {args.list_name}" + (
            f"; {note}" if note else ""))
        return int(Exit.OK)
    except (lists.ListError, ValueError) as exc:
        error(str(exc))
        return int(Exit.BAD_INPUT)
    except StoreError as exc:
        error(str(exc))
        return int(Exit.STORE_ERROR)
    finally:
        store.close()


def _after_change(cfg: Config, store: Store, args: argparse.Namespace) -> str:
    from fsguard.perimeter import snapshot

    snapshot.write_from_store(cfg, store)
    cluster_hooks.lists_changed(cfg)  # cluster: every node rebuilds its snapshot and ruleset
    return _reapply(cfg, args)


def register(sub: Any) -> None:
    for name, what in (("allow", "admin whitelist (never blocked, never banned)"),
                       ("deny", "admin blacklist (dropped on the protected ports)")):
        p = sub.add_parser(name, help=what)
        acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        a = acts.add_parser("add", help="add an address or CIDR")
        a.add_argument("cidr")
        a.add_argument("--label", default="", help="why (shown by `fsguard why`)")
        a.add_argument("--expires", help="30d, 12h, 90m, or an ISO date (UTC); default never")
        a.add_argument("--no-apply", action="store_true", help="do not re-apply the firewall")
        d = acts.add_parser("del", help="remove an address or CIDR")
        d.add_argument("cidr")
        d.add_argument("--no-apply", action="store_true")
        ls = acts.add_parser("list", help="list entries")
        ls.add_argument("--all", action="store_true", help="include expired and disabled entries")
        p.set_defaults(func=_run, list_name=name)
