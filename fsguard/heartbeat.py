"""The service loop's heartbeat: ``<state_dir>/service.heartbeat``, written at the end of each tick.

``fsguard status`` reads it to tell a running service loop from one that never started (no
systemd, no cron line) or stopped: without the loop the ignore list goes stale, evidence lines are
not stored and queued GUI actions are not carried out, while fail2ban itself keeps banning.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

NAME = "service.heartbeat"
STALE_AFTER = 120.0  # seconds: many ticks (5 s) missed, or a tick stuck


def beat(state_dir: Path, now: float, errors: int) -> None:
    from fsguard import safefs

    try:
        safefs.write_text(Path(state_dir) / NAME, json.dumps({"time": now, "pid": os.getpid(), "errors": errors}))
    except OSError:
        pass  # a full or read-only state dir must not stop the loop; status then reports it stale


def read(state_dir: Path, now: float | None = None) -> tuple[str, str]:
    """(state, detail) for ``fsguard status``: ok | warn | fail."""
    now = time.time() if now is None else now
    path = Path(state_dir) / NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        when = float(data["time"])
        errors = int(data.get("errors", 0))
    except FileNotFoundError:
        return "fail", (f"not running: {path} was never written (start it: systemctl enable --now "
                        "fsguard-service, or the cron line in /etc/cron.d/fsguard)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return "fail", f"{path} unreadable: {exc}"
    age = now - when
    if age > STALE_AFTER:
        return "fail", f"not running: last tick {age:.0f} s ago ({path})"
    if errors:
        return "warn", f"running (last tick {age:.0f} s ago) with {errors} error(s): see its log"
    return "ok", f"running (last tick {age:.0f} s ago)"
