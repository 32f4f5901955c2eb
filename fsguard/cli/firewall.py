"""``fsguard firewall render|apply|status|remove``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fs_python import config as config_mod
from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit, error


def _cfg() -> config_mod.Config:
    return config_mod.load()


def _render(args: argparse.Namespace) -> int:
    from fsguard.firewall import FirewallError, engine, registry

    cfg = _cfg()
    try:
        rs, _data = engine.build_ruleset(cfg)
    except (FirewallError, ValueError) as exc:
        error(str(exc))
        return int(Exit.CONFIG_ERROR)
    chosen = registry.create(args.backend, cfg) if args.backend else engine.get_backend(cfg)
    backend, text = chosen.name, chosen.render(rs)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    if args.json:  # the ruleset inside the one JSON object
        emit(args, {"backend": backend, "output": args.output, "ruleset": None if args.output else text,
                    "warnings": rs.warnings}, "")
    elif not args.output:
        sys.stdout.write(text)
    for w in rs.warnings:
        sys.stderr.write(f"fsguard: warning: {w}\n")
    return int(Exit.OK)


def _apply(args: argparse.Namespace) -> int:
    from fsguard.firewall import FirewallError
    from fsguard.ops import perimeter

    cfg = _cfg()
    try:
        res = perimeter.firewall_apply(cfg, netns=args.netns)
    except FirewallError as exc:
        error(str(exc))
        return int(Exit.FIREWALL_ERROR)
    text = [f"applied ({res.backend}{', from the last good ruleset' if res.from_last_good else ''}) "
            f"in {res.seconds:.2f} s"]
    text += [f"  {name:<10} {n:>8}" for name, n in res.sets.items() if n]
    text += [f"  warning: {w}" for w in res.warnings]
    emit(args, res, "\n".join(text))
    return int(Exit.OK)


def _status(args: argparse.Namespace) -> int:
    from fsguard.firewall import FirewallError, engine

    try:
        st = engine.status(_cfg(), netns=args.netns)
    except FirewallError as exc:
        error(str(exc))
        return int(Exit.FIREWALL_ERROR)
    last = st["last_apply"]
    lines = [f"backend {st['backend']}: {'loaded' if st['loaded'] else 'NOT loaded'}"]
    if last:
        lines.append(f"last apply: {sum(last.get('sets', {}).values())} set entries, warnings: "
                     f"{'; '.join(last.get('warnings', [])) or 'none'}")
    lines += [f"  {c['packets']:>10} pkts  {c['chain']:<20} {c['rule']}" for c in st["counters"]]
    emit(args, st, "\n".join(lines))
    return int(Exit.OK if st["loaded"] or st["backend"] == "dry-run" else Exit.FIREWALL_ERROR)


def _remove(args: argparse.Namespace) -> int:
    from fsguard.firewall import FirewallError, engine

    try:
        found = engine.remove(_cfg(), netns=args.netns)
    except FirewallError as exc:
        error(str(exc))
        return int(Exit.FIREWALL_ERROR)
    emit(args, {"removed": found}, "fsguard's table/chains/sets removed" if found else "nothing to remove")
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("firewall", help="fsguard's kernel ruleset (nftables or ipset+iptables)")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = acts.add_parser("render", help="print the ruleset that apply would load")
    r.add_argument("--backend", choices=("nftables", "iptables"))
    r.add_argument("--output", "-o", help="write to a file instead of stdout")
    r.set_defaults(func=_render)
    for name, func, what in (("apply", _apply, "build and load atomically (rollback on failure)"),
                             ("status", _status, "loaded?, counters per rule"),
                             ("remove", _remove, "remove fsguard's table/chains/sets (nothing else)")):
        a = acts.add_parser(name, help=what)
        a.add_argument("--netns", help="run inside this network namespace (tests, drill)")
        a.set_defaults(func=func)
