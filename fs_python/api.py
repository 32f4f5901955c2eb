"""``fs_cli -x "python fs_python.api <verb> ..."``: is an IP whitelisted, and why?

- ``check <ip>``  -> ``true <reason>[; <reason>...]`` or ``false``
- ``registered`` -> the tracked registrations, one per line (``registered json``: contract 1 rows)
- anything else  -> ``-ERR <why>``

Answers from memory (the monitor's registration set, or the snapshot file when no monitor runs)
and the whitelist snapshot; never calls the ``python`` API from Python (that deadlocks), never
touches the network or a database. Every answer is made surrogate-free before stream.write.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fs_python import fslog, whitelist
from fs_python.registry import REGISTRY

USAGE = "-ERR usage: check <ip> | registered [json]\n"


def answer(args: str) -> str:
    words = (args or "").split()
    if not words:
        return USAGE
    verb = words[0].lower()
    if verb == "check":
        if len(words) != 2:
            return "-ERR usage: check <ip>\n"
        cfg = fslog.settings()
        if cfg is None:
            return "-ERR fsguard config unreadable\n"
        try:
            ip = str(whitelist.parse_ip(words[1]))
        except ValueError as exc:
            return "-ERR %s\n" % exc
        regs = REGISTRY.rows_for(ip) if REGISTRY.live else None
        verdict = whitelist.check(ip, state_dir=cfg.state_dir, registrations=regs)
        return ("true %s\n" % "; ".join(verdict.reasons)) if verdict.whitelisted else "false\n"
    if verb == "registered":
        if len(words) == 2 and words[1].lower() == "json":
            rows = REGISTRY.rows() if REGISTRY.live else _snapshot_rows()
            return json.dumps({"version": 1, "written": int(time.time()), "registrations": rows}) + "\n"
        if len(words) != 1:
            return "-ERR usage: registered [json]\n"
        rows = REGISTRY.rows() if REGISTRY.live else _snapshot_rows()
        lines = ["%s %s@%s until %s %s/%s %s" % (r["ip"], r["user"], r["realm"],
                                                  time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r["expires"])),
                                                  r["proto"], r["port"] or "-", r["profile"] or "-") for r in rows]
        state = "" if REGISTRY.live else " (monitor not running)"
        return "%d registrations%s\n%s" % (len(rows), state, "".join(line + "\n" for line in lines))
    return "-ERR unknown verb %s\n" % (ascii(words[0])[:40],) + USAGE


def _snapshot_rows() -> list[dict[str, Any]]:
    """No monitor in this process: the last snapshot file is the best knowledge (unexpired rows)."""
    cfg = fslog.settings()
    if cfg is None:
        return []
    try:
        with open(cfg.fs_dir / "registrations.json", encoding="utf-8") as fh:
            data = json.load(fh)
        rows = [r for r in data.get("registrations", []) if isinstance(r, dict)]
        now = time.time()
        keys = ("ip", "user", "realm", "port", "proto", "profile")
        return [r for r in rows if all(k in r for k in keys) and float(r.get("expires", 0)) > now]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def fsapi(session: Any, stream: Any, env: Any, args: str) -> None:
    """mod_python3's API entry point. Output only through stream.write; never raises."""
    try:
        text = answer(args if isinstance(args, str) else "")
    except BaseException as exc:  # noqa: BLE001 - nothing may reach FreeSWITCH
        text = "-ERR internal error (%s)\n" % type(exc).__name__
    try:
        stream.write(fslog.safe_text(text))
    except Exception:  # noqa: S110 - the stream is gone; fs_cli prints -ERR no reply
        pass
