"""Printing result objects: text for people, JSON (``--json``) for scripts.

With ``--json`` every command prints exactly one JSON object on stdout, errors included:
:func:`begin` (called by ``fsguard.cli.main``) holds back what a command emits and every error it
reports; :func:`finish` prints one object -- the command's result with ``ok`` and ``exit`` added,
or ``{"ok": ..., "error": ..., "exit": ...}`` with a listing under ``result``. Errors also go
to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fsguard.ops import jsonable as to_jsonable

__all__ = ["begin", "emit", "error", "finish", "to_jsonable"]


class _State:
    active = False  # inside main() with --json: hold output until finish()
    result: Any = None
    emitted = False
    errors: list[str] = []


def begin(json_mode: bool) -> None:
    _State.active, _State.result, _State.emitted, _State.errors = json_mode, None, False, []


def emit(args: Any, result: Any, text: str) -> None:
    """Print ``result`` as JSON when --json was given, else ``text``."""
    if getattr(args, "json", False):
        if _State.active:
            _State.result, _State.emitted = to_jsonable(result), True
            return
        _dump(to_jsonable(result))
    elif text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def error(message: str) -> None:
    sys.stderr.write(f"fsguard: {message}\n")
    _State.errors.append(message)


def finish(code: int, ok: bool) -> None:
    """The one JSON object of this run (no-op without --json)."""
    if not _State.active:
        return
    _State.active = False
    res = _State.result
    err = "; ".join(_State.errors) or None
    if not err and not ok:
        from fsguard.cli.exitcodes import Exit

        err = Exit(code).name.lower().replace("_", " ") if code in Exit._value2member_map_ else f"exit {code}"
    if isinstance(res, dict):
        out = dict(res, ok=ok, exit=code)
        if not ok:
            out.setdefault("error", err)
    else:
        out = {"ok": ok, "error": err, "exit": code}
        if _State.emitted:
            out["result"] = res
    _dump(out)


def _dump(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
