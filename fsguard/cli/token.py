"""``fsguard token rotate``: see :mod:`fsguard.f2b.token`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit


def run(args: argparse.Namespace) -> int:
    from fs_python import config
    from fsguard.f2b import token

    cfg = config.load()
    rot = token.Rotation(cfg.path, Path(args.fail2ban_dir), cfg.get("fail2ban", "socket"), cfg.state_dir)
    try:
        token.begin(rot, args.grace)
        time.sleep(max(0.0, args.grace))  # FreeSWITCH re-reads the config within a few seconds
        token.finish(rot)
    except (OSError, ValueError, RuntimeError) as exc:
        rot.steps.append(f"failed: {exc}")
        emit(args, {"rotated": False, "steps": rot.steps}, "\n".join(rot.steps))
        return int(Exit.CONFIG_ERROR if isinstance(exc, ValueError) else Exit.FAIL2BAN_ERROR)
    emit(args, {"rotated": True, "steps": rot.steps}, "token rotated:\n  " + "\n  ".join(rot.steps))
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="the event token (the secret in every fsguard log line)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    r = tsub.add_parser("rotate", help="new token: filter re-rendered, fail2ban reloaded, FreeSWITCH picks it up "
                                       "without a restart; the old one counts during --grace seconds only")
    r.add_argument("--grace", type=float, default=30.0, help="seconds the old token still counts (default 30)")
    r.add_argument("--fail2ban-dir", default="/etc/fail2ban", help="fail2ban's config dir (default /etc/fail2ban)")
    r.set_defaults(func=run)
