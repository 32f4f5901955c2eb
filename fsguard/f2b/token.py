"""``fsguard token rotate``: a new event token without losing a failure or restarting FreeSWITCH.

1. ``begin``: the config gets the new token, keeps the old one as ``event_token_previous`` (with
   ``event_token_previous_until``), the events filter accepts both, fail2ban reloads.
   FreeSWITCH's code re-reads the config when its mtime changes (``fs_python.fslog``, checked every
   few seconds), so it switches to the new token by itself; lines it wrote with the old one in the
   meantime still count, in fail2ban and in the service's tail.
2. after the grace period, ``finish``: the old token is dropped from the config and the filter,
   fail2ban reloads again. From then on a line with the old token counts nowhere.

Files are written as root through :mod:`fsguard.safefs` (owner and mode kept; the filter stays
0600). The install manifest's hash of the filter follows, so the next ``fsguard install`` sees
fsguard's own content, not an operator's edit.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fs_python import config, eventline
from fsguard import safefs
from fsguard.f2b import filters

FILTER = "filter.d/fsguard-events.conf"
DEFAULT_GRACE = 30.0  # > fslog's re-check (5 s) + fail2ban's polling of the log (about 1 s)


@dataclass
class Rotation:
    config_path: Path
    f2b_dir: Path
    socket: str = ""
    state_dir: Path | None = None
    steps: list[str] = field(default_factory=list)


def _set_keys(text: str, values: dict[str, str | None]) -> str:
    """``text`` (the operator's file) with keys of [fsguard] set or removed, everything else kept."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(r"\s*\[fsguard\]\s*$", ln)), None)
    if start is None:
        lines[:0] = ["[fsguard]\n"]
        start = 0
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
    todo = dict(values)
    for i in range(start + 1, end):
        m = re.match(r"\s*([A-Za-z0-9_]+)\s*[=:]", lines[i])
        if m and m.group(1) in todo:
            value = todo.pop(m.group(1))
            lines[i] = "" if value is None else f"{m.group(1)} = {value}\n"
    add = [f"{k} = {v}\n" for k, v in todo.items() if v is not None]
    lines[end:end] = add
    return "".join(lines)


def _write_config(path: Path, values: dict[str, str | None]) -> None:
    st = os.stat(path)
    text = _set_keys(path.read_text(encoding="utf-8"), values)
    configparser.ConfigParser(interpolation=None).read_string(text)  # never write a file that will not load
    safefs.write_text(path, text, st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)


def _write_filter(rot: Rotation, *tokens: str) -> None:
    from fsguard.install import files

    path = rot.f2b_dir / FILTER
    old = path.read_bytes() if path.exists() else None
    text = filters.events_filter(*tokens)
    safefs.write_text(path, text, 0o600)
    if rot.state_dir is None or old is None:
        return
    try:
        m = files.Manifest.load(rot.state_dir)
    except OSError:
        return
    rec = m.files.get("/etc/fail2ban/" + FILTER)
    if m.exists and rec is not None and rec.get("sha256") == files.sha256(old):
        rec["sha256"] = files.sha256(text.encode())
        safefs.write_file(m.path, m.dump(), 0o600)


def _reload(rot: Rotation) -> None:
    exe = shutil.which("fail2ban-client")
    if exe is None:
        rot.steps.append("fail2ban reload: skipped (fail2ban not installed)")
        return
    base = [exe, "-c", str(rot.f2b_dir)] + (["-s", rot.socket] if rot.socket else [])
    if subprocess.run([*base, "ping"], capture_output=True, timeout=30).returncode != 0:
        rot.steps.append("fail2ban reload: skipped (server not running)")
        return
    proc = subprocess.run([*base, "reload"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"fail2ban-client reload failed: {(proc.stdout + proc.stderr).strip()[-300:]}")
    rot.steps.append("fail2ban reloaded")


def begin(rot: Rotation, grace: float = DEFAULT_GRACE, now: float | None = None) -> str:
    """Switch to a new token, the old one still accepted; returns the new token."""
    cfg = config.load(rot.config_path)
    old = cfg.event_token
    if not eventline.TOKEN_RE.match(old):
        raise ValueError(f"{rot.config_path}: no valid [fsguard] event_token to rotate from (run fsguard install)")
    new = config.new_token()
    until = (time.time() if now is None else now) + grace
    _write_config(rot.config_path, {"event_token": new, "event_token_previous": old,
                                    "event_token_previous_until": f"{until:.0f}"})
    _write_filter(rot, new, old)
    rot.steps.append("new token in the config; the events filter accepts both until the grace period ends")
    _reload(rot)
    return new


def finish(rot: Rotation) -> None:
    """Drop the old token everywhere."""
    cfg = config.load(rot.config_path)
    _write_config(rot.config_path, {"event_token_previous": None, "event_token_previous_until": None})
    _write_filter(rot, cfg.event_token)
    rot.steps.append("old token dropped from the config and the events filter")
    _reload(rot)
