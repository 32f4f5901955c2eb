"""The full ``fsguard`` command line: every area's sub-commands, ``--json`` handling, exit codes.

``fsguard.cli.main`` comes here for everything but the plain ``ignore-check`` (see there).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from fsguard.cli import cluster, config, drill, fail2ban, feeds, firewall, install, lists, output, status, token
from fsguard.cli.exitcodes import Exit

# Areas, in the order their commands are listed in --help.
AREAS = (lists, feeds, firewall, fail2ban, install, drill, status, cluster, config, token)


class UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``--json`` can report a usage error as JSON
    (every sub-command parser is of this class too: add_subparsers uses the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fsguard", description="fsguard: SIP perimeter for FreeSWITCH/FusionPBX")
    parser.add_argument("--config", help="config file (default /etc/fsguard/fsguard.conf or $FSGUARD_CONFIG)")
    parser.add_argument("--json", action="store_true", help="print results as JSON (one object, errors included)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        area.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so a usage error is JSON too (``drill`` also takes --json after it).
    output.begin("--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv)
    code, ok = _run(argv)
    output.finish(code, ok)
    return code


def _run(argv: list[str]) -> tuple[int, bool]:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        output.error(str(exc))
        return int(Exit.BAD_INPUT), False
    if args.config:
        import os

        os.environ["FSGUARD_CONFIG"] = args.config
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        output.error("no command given")
        return int(Exit.BAD_INPUT), False
    try:
        code = int(func(args))
    except KeyboardInterrupt:
        output.error("interrupted")
        return int(Exit.INTERRUPTED), False
    except Exception as exc:
        if not getattr(args, "json", False):
            raise
        import traceback

        traceback.print_exc()
        output.error(f"internal error: {type(exc).__name__}: {exc}")
        return int(Exit.INTERNAL), False
    # ignore-check's "not ignored" (1) is an answer, not a failure
    return code, code == Exit.OK or (args.command == "ignore-check" and code == Exit.NOT_IGNORED)
