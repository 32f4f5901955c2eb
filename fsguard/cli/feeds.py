"""``fsguard feeds update|status``: refresh block lists (and country data), then the firewall.

``update`` is an adapter over :func:`fsguard.ops.perimeter.feeds_refresh` (the GUI queue's
"refresh feeds" runs the same)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from fs_python import config as config_mod
from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit, error


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if getattr(args, "quiet", False):
        return None

    def say(msg: str) -> None:
        sys.stderr.write(f"  {msg}\n")
        sys.stderr.flush()

    return say


def _update(args: argparse.Namespace) -> int:
    from fsguard.ops import perimeter
    from fsguard.store import StoreError, open_store

    cfg = config_mod.load()
    try:
        store = open_store(cfg)
    except StoreError as exc:
        store = None
        sys.stderr.write(f"fsguard: store unavailable ({exc}); feed status rows not written\n")
    try:
        res = perimeter.feeds_refresh(cfg, store, only=args.feed, force=args.force, apply=not args.no_apply,
                                      progress=_progress(args))
    except (ValueError, config_mod.ConfigError) as exc:
        error(str(exc))
        return int(Exit.CONFIG_ERROR)
    finally:
        if store is not None:
            store.close()
    lines = []
    for r in res.feeds:
        lines.append(f"{r.name}: {r.status}, {r.entries} entries in force, +{r.added} -{r.removed}, "
                     f"{r.rejected} rejected" + (f" -- {r.error}" if r.error else ""))
        for why, n in sorted(r.reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"    rejected {n:>7}  {why}")
        lines += [f"    e.g. {ex}" for ex in r.examples[:5]]
    cd = res.countries
    if cd:
        lines.append(f"countries {', '.join(cd['countries'])}: {cd['v4']} IPv4 + {cd['v6']} IPv6 ranges"
                     + (f" ({len(cd['errors'])} source errors)" if cd["errors"] else ""))
    lines += res.notes
    if res.firewall is not None:
        fw = res.firewall
        lines.append(f"firewall ({fw.backend}) applied in {fw.seconds:.2f} s: {sum(fw.sets.values())} set entries, "
                     f"{fw.whitelisted_out} whitelisted addresses kept out of the drop sets")
        lines += [f"  warning: {w}" for w in fw.warnings]
    if res.firewall_error:
        lines.append(f"firewall NOT applied: {res.firewall_error}")
    emit(args, res, "\n".join(lines))
    if res.firewall_error:
        return int(Exit.FIREWALL_ERROR)
    return int(Exit.OK if res.feeds_ok else Exit.FEED_ERROR)


def _status(args: argparse.Namespace) -> int:
    from fsguard.perimeter import feeds
    from fsguard.store import StoreError, open_store

    cfg = config_mod.load()
    rows: list[dict[str, Any]] = []
    try:
        store = open_store(cfg)
        rows = store.query("select feed_name, feed_url, last_attempt, last_success, last_status, last_error, "
                           "entry_count, added_count, removed_count, rejected_count from v_fsguard_feeds "
                           "order by feed_name")
        store.close()
    except StoreError as exc:
        error(str(exc))
    known = {r["feed_name"] for r in rows}
    try:
        for spec in feeds.specs(cfg):
            if spec.name not in known:
                doc = feeds.load_cache(cfg, spec.name)
                rows.append({"feed_name": spec.name, "feed_url": spec.source, "last_status": "never updated"
                             if not doc else "cached", "entry_count": doc.get("count", 0)})
    except ValueError as exc:
        error(str(exc))
        return int(Exit.CONFIG_ERROR)
    import time

    def age(t: Any) -> str:
        return "never" if not t else f"{(time.time() - float(t)) / 3600:.1f} h ago"

    text = "\n".join(
        f"{r['feed_name']:<12} {r.get('last_status') or '-':<10} {r.get('entry_count') or 0:>8} entries  "
        f"last success {age(r.get('last_success'))}" + (f"  error: {r['last_error']}" if r.get("last_error") else "")
        for r in rows) or "no feeds configured"
    emit(args, rows, text)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("feeds", help="block-list feeds (VoIP Blacklist, APIBAN, URLs, files) and country data")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    u = acts.add_parser("update", help="fetch feeds + country data, then re-apply the firewall")
    u.add_argument("--feed", help="only this feed")
    u.add_argument("--force", action="store_true", help="re-fetch country data even if fresh")
    u.add_argument("--no-apply", action="store_true", help="do not re-apply the firewall")
    u.add_argument("--quiet", action="store_true", help="no progress lines")
    u.set_defaults(func=_update)
    s = acts.add_parser("status", help="last result of each feed")
    s.set_defaults(func=_status)
