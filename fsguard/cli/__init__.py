"""``fsguard``: a thin CLI over the core modules.

Each area owns one module under ``fsguard.cli`` defining ``register(subparsers)``; its
sub-commands call the core (mostly :mod:`fsguard.ops`), get a result object back, and print it as
text or (``--json``) JSON. The parser and dispatch live in :mod:`fsguard.cli.app`.

This module stays tiny on purpose: fail2ban may run ``fsguard ignore-check <ip>`` once per
failure, so that command is answered from :mod:`fsguard.cli.ignorecheck` (config + whitelist
snapshots, standard library only) without importing the other areas or argparse.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # typing is not imported: ignore-check must start fast

if TYPE_CHECKING:
    import argparse


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _ignore_check(args)
    if fast is not None:
        from fsguard.cli import ignorecheck

        return ignorecheck.run(*fast)
    from fsguard.cli import app

    return app.main(args)


def build_parser() -> argparse.ArgumentParser:
    from fsguard.cli import app

    return app.build_parser()


def _ignore_check(args: list[str]) -> tuple[str, str | None] | None:
    """(ip, config) for exactly ``[--config FILE] ignore-check IP``; anything else (``--json``,
    ``-h``, a typo) goes through the full parser."""
    config = None
    if len(args) == 4 and args[0] == "--config":
        config, args = args[1], args[2:]
    elif len(args) == 3 and args[0].startswith("--config="):
        config, args = args[0].split("=", 1)[1], args[1:]
    if len(args) == 2 and args[0] == "ignore-check" and not args[1].startswith("-"):
        return args[1], config
    return None


if __name__ == "__main__":
    sys.exit(main())
