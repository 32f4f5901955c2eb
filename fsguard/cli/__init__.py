"""``fsguard``: a thin CLI over the core modules.

Each area owns one module under ``fsguard.cli`` defining ``register(subparsers)``; its
sub-commands call the core, get a result object back, and print it as text or (``--json``) JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fsguard.cli import cluster, drill, fail2ban, feeds, firewall, install, lists, status
from fsguard.cli.exitcodes import Exit

# Areas, in the order their commands are listed in --help.
AREAS = (lists, feeds, firewall, fail2ban, install, drill, status, cluster)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsguard", description="fsguard: SIP perimeter for FreeSWITCH/FusionPBX")
    parser.add_argument("--config", help="config file (default /etc/fsguard/fsguard.conf or $FSGUARD_CONFIG)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        area.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config:
        import os

        os.environ["FSGUARD_CONFIG"] = args.config
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return int(Exit.BAD_INPUT)
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return int(Exit.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
