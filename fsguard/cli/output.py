"""Printing result objects: text for people, JSON (``--json``) for scripts."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def emit(args: Any, result: Any, text: str) -> None:
    """Print ``result`` as JSON when --json was given, else ``text``."""
    if getattr(args, "json", False):
        json.dump(to_jsonable(result), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    elif text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def error(message: str) -> None:
    sys.stderr.write(f"fsguard: {message}\n")
