"""Steps that act on running services: config tests, reloads, rescans, cache clearing.

Reloads and rescans run only when installing onto the live host (``--root /``) and report
"skipped" with the reason otherwise (FreeSWITCH not running, tool missing, target tree).
Commands are argument lists, never shell strings.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fsguard.install.target import Target


@dataclass
class Step:
    name: str
    status: str  # done | skipped | failed
    detail: str = ""


def _run(argv: list[str], timeout: float = 30) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 255, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def clear_fusion_cache(t: Target) -> Step:
    """FusionPBX caches dialplans (``dialplan:public``...) and sofia.conf; a stale cache hides our rows."""
    if t.kind != "fusionpbx":
        return Step("clear FusionPBX cache", "skipped", "not FusionPBX")
    if t.cache_method == "file":
        d = t.r(t.cache_dir)
        removed = []
        for p in sorted(d.glob("*")) if d.is_dir() else []:
            if p.is_file() and (p.name == "dialplan.public" or p.name.startswith(("dialplan.public.",
                                                                                   "configuration.sofia.conf"))):
                p.unlink()
                removed.append(p.name)
        return Step("clear FusionPBX cache", "done", f"removed {', '.join(removed) or 'nothing (cache was empty)'}")
    res = fs_cli(t, "memcache delete dialplan:public")
    return Step("clear FusionPBX cache", res.status, res.detail)


def fs_cli(t: Target, command: str) -> Step:
    if not t.live:
        return Step(f"fs_cli {command}", "skipped", f"target tree {t.root}, not the live host")
    exe = shutil.which("fs_cli")
    if exe is None:
        return Step(f"fs_cli {command}", "skipped", "fs_cli not found")
    argv = [exe, "-x", command]
    if t.esl:
        argv = [exe, "-H", t.esl["host"], "-P", t.esl["port"], "-p", t.esl["password"], "-x", command]
    rc, out = _run(argv, timeout=15)
    if rc != 0 or "[ERROR]" in out or "Error Connecting" in out:
        return Step(f"fs_cli {command}", "skipped", f"FreeSWITCH not running or unreachable: {out[:200]}")
    if out.startswith("-ERR"):
        return Step(f"fs_cli {command}", "failed", out[:200])
    return Step(f"fs_cli {command}", "done", out[:200])


def systemd(t: Target, units: list[str], *, enable: bool) -> list[Step]:
    """daemon-reload, then enable --now (install) or disable --now (uninstall, before the files go)."""
    name = "systemctl " + ("enable --now " if enable else "disable --now ") + " ".join(units)
    if not t.live:
        return [Step(name, "skipped", f"target tree {t.root}, not the live host")]
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").exists():
        return [Step(name, "skipped", "systemd not running")]
    steps = []
    if enable:
        rc, out = _run(["systemctl", "daemon-reload"])
        steps.append(Step("systemctl daemon-reload", "done" if rc == 0 else "failed", out))
    # timers are started, the services they trigger only enabled through them
    startable = [u for u in units if u.endswith(".timer") or not any(
        x.endswith(".timer") and x[:-6] == u[:-8] for x in units)]
    rc, out = _run(["systemctl", "enable" if enable else "disable", "--now", *startable], timeout=60)
    steps.append(Step(name, "done" if rc == 0 else "failed", out[-300:]))
    if not enable:
        rc, out = _run(["systemctl", "daemon-reload"])
        steps.append(Step("systemctl daemon-reload", "done" if rc == 0 else "failed", out))
    return steps
