"""``fsguard config show|test``: the settings in force, and a check of a config file.

``show`` lists every declared setting (:mod:`fsguard.settings`, :mod:`fs_python.config`) with
its value and where it came from (``default`` / ``file``); secrets are masked. ``test [FILE]``
reads a file (default: the one in use) and exits ``CONFIG_ERROR`` when it has an unknown key or
section, a value of the wrong type or outside its choices, or cannot be read at all (as the
CrowdSec bouncer's ``-t``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from fs_python import config as fsconfig
from fsguard.cli import output
from fsguard.cli.exitcodes import Exit

MASK = "********"


@dataclass
class Shown:
    section: str
    key: str
    type: str
    value: Any
    default: Any
    source: str  # default | file
    doc: str
    secret: bool = False
    error: str = ""


@dataclass
class Checked:
    path: str
    exists: bool
    problems: list[str] = field(default_factory=list)
    settings: list[Shown] = field(default_factory=list)


def _settings() -> dict[tuple[str, str], fsconfig.Setting[Any]]:
    from fsguard import settings

    return settings.SETTINGS


def check(cfg: fsconfig.Config) -> Checked:
    """Every declared setting's value in ``cfg`` and every problem with the file."""
    declared = _settings()
    res = Checked(str(cfg.path), cfg.path.exists())
    order = list(dict.fromkeys(sec for sec, _ in declared))  # sections in first-declared order
    for (section, key), s in sorted(declared.items(), key=lambda kv: order.index(kv[0][0])):
        in_file = cfg.get(section, key, "") != ""
        shown = Shown(section, key, s.kind, None, s.default, "file" if in_file else "default", s.doc, s.secret)
        try:
            shown.value = s.get(cfg)
        except fsconfig.ConfigError as exc:
            shown.error = str(exc)
            res.problems.append(str(exc))
        if s.secret and shown.value:
            shown.value = MASK
        if s.secret and shown.default:
            shown.default = MASK
        res.settings.append(shown)
    sections = {sec for sec, _ in declared}
    for section in cfg.parser.sections():
        if section not in sections:
            res.problems.append(f"[{section}]: unknown section")
            continue
        for key in cfg.parser.options(section):
            if (section, key) not in declared:
                res.problems.append(f"[{section}] {key}: unknown key")
    return res


def _load(path: str | None) -> fsconfig.Config:
    return fsconfig.load(path) if path else fsconfig.load()


def _fmt(v: Any) -> str:
    if isinstance(v, tuple | list):
        return ", ".join(str(x) for x in v)
    return str(v)


def cmd_show(args: argparse.Namespace) -> int:
    try:
        res = check(_load(None))
    except fsconfig.ConfigError as exc:
        output.error(str(exc))
        return int(Exit.CONFIG_ERROR)
    lines = [f"# {res.path}" + ("" if res.exists else " (not found: all defaults)")]
    section = ""
    for s in res.settings:
        if s.section != section:
            section = s.section
            lines.append(f"[{section}]")
        value = f"INVALID ({s.error})" if s.error else _fmt(s.value)
        lines.append(f"{s.key} = {value}    # {s.source}; {s.doc}")
    lines += [f"# problem: {p}" for p in res.problems]
    output.emit(args, res, "\n".join(lines))
    return int(Exit.OK)


def cmd_test(args: argparse.Namespace) -> int:
    try:
        cfg = _load(args.file)
        if args.file and not cfg.path.exists():
            raise fsconfig.ConfigError(f"{cfg.path}: no such file")
        res = check(cfg)
    except fsconfig.ConfigError as exc:
        output.error(str(exc))
        return int(Exit.CONFIG_ERROR)
    for p in res.problems:
        output.error(f"{res.path}: {p}")
    ok = not res.problems
    output.emit(args, {"path": res.path, "valid": ok, "problems": res.problems},
                f"{res.path}: " + ("OK" if ok else f"{len(res.problems)} problem(s)"))
    return int(Exit.OK if ok else Exit.CONFIG_ERROR)


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="the settings in force (show) and a check of a config file (test)")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = acts.add_parser("show", help="every setting with its value and source (default/file); secrets masked")
    s.set_defaults(func=cmd_show)
    t = acts.add_parser("test", help="validate a config file: unknown keys, bad types or values (exit 4 if bad)")
    t.add_argument("file", nargs="?", help="the file to check (default: the one in use)")
    t.set_defaults(func=cmd_test)
