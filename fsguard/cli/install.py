"""``fsguard install``, ``fsguard uninstall``, ``fsguard render --root DIR``."""

from __future__ import annotations

import argparse
from typing import Any

from fsguard.cli import output
from fsguard.cli.exitcodes import Exit
from fsguard.install import installer
from fsguard.install.target import PreflightError
from fsguard.store import StoreError


def register(sub: Any) -> None:
    p = sub.add_parser("install", help="install fsguard onto FusionPBX or plain FreeSWITCH")
    p.add_argument("--root", default="/", help="target tree (default /: this host)")
    p.add_argument("--dry-run", action="store_true", help="show a diff of every file and row; change nothing")
    p.add_argument("--force", action="store_true", help="overwrite files the operator edited")
    p.set_defaults(func=_install)
    u = sub.add_parser("uninstall", help="remove fsguard, restoring every file and row it changed")
    u.add_argument("--root", default="/", help="target tree (default /: this host)")
    u.add_argument("--dry-run", action="store_true", help="show what would be removed or restored")
    u.add_argument("--force", action="store_true", help="also remove/restore files the operator edited")
    u.add_argument("--keep-data", action="store_true", help="keep fsguard's tables and state directory")
    u.set_defaults(func=_uninstall)
    r = sub.add_parser("render", help="write every file install would write into DIR")
    r.add_argument("--root", required=True, help="target tree to write into")
    r.add_argument("--kind", choices=("fusionpbx", "freeswitch"), default="",
                   help="layout to render when neither DIR nor this host has FreeSWITCH")
    r.set_defaults(func=_render)


def _run(args: argparse.Namespace, fn: Any, **kw: Any) -> int:
    try:
        res = fn(args.root, **kw)
    except PreflightError as exc:
        output.error(f"preflight ({exc.kind}): {exc}")
        output.emit(args, {"error": exc.kind, "message": str(exc)}, "") if args.json else None
        return int(Exit.PREFLIGHT_FAILED)
    except installer.UserEdited as exc:
        output.emit(args, exc.result, exc.result.text())
        output.error(f"refused: {exc}")
        return int(Exit.USER_EDITED)
    except StoreError as exc:
        output.error(f"database: {exc}; everything was rolled back")
        return int(Exit.STORE_ERROR)
    except (installer.InstallError, OSError, ValueError) as exc:
        output.error(f"{exc}; everything was rolled back")
        return int(Exit.INSTALL_ERROR)
    output.emit(args, res, res.text())
    if any(f["action"] == "conflict" for f in res.files) and not res.dry_run:
        return int(Exit.USER_EDITED)
    return int(Exit.OK)


def _install(args: argparse.Namespace) -> int:
    return _run(args, installer.install, dry_run=args.dry_run, force=args.force)


def _uninstall(args: argparse.Namespace) -> int:
    return _run(args, installer.uninstall, dry_run=args.dry_run, force=args.force, keep_data=args.keep_data)


def _render(args: argparse.Namespace) -> int:
    return _run(args, installer.render, kind=args.kind)
