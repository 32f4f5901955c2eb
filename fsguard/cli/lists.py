"""``fsguard allow|deny add|del|list``: the admin whitelist and blacklist.

An adapter over :func:`fsguard.ops.lists.change` (the GUI queue runs the same): input is validated
before anything is written; the whitelist snapshot (contract 2) is rewritten after every change;
whitelisting a single address lifts its bans; when the firewall has been applied before, it is
re-applied so the change takes effect at once (``--no-apply`` skips that).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime
from typing import Any

from fs_python import config as config_mod
from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit, error

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


def _run(args: argparse.Namespace) -> int:
    from fsguard.ops import lists as ops_lists
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
        expires = parse_expiry(args.expires) if args.action == "add" else None
        res = ops_lists.change(cfg, store, args.list_name, args.action, args.cidr,
                               label=getattr(args, "label", "") or "", expires=expires, apply=not args.no_apply)
        if args.action == "del" and not res.deleted:
            error(res.message())
            return int(Exit.NOT_FOUND)
        emit(args, res, res.message())
        return int(Exit.OK)
    except config_mod.ConfigError as exc:
        error(str(exc))
        return int(Exit.CONFIG_ERROR)
    except (lists.ListError, ValueError) as exc:
        error(str(exc))
        return int(Exit.BAD_INPUT)
    except StoreError as exc:
        error(str(exc))
        return int(Exit.STORE_ERROR)
    finally:
        store.close()


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
