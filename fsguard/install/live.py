"""Steps that act on running services: config tests, reloads, rescans, cache clearing.

Reloads and rescans run only when installing onto the live host (``--root /``) and report
"skipped" with the reason otherwise (FreeSWITCH not running, tool missing, target tree).
Commands are argument lists, never shell strings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fsguard.install import verify
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


# FusionPBX's file cache names a key's file after the key with ':' -> '.'. The sofia profile is
# cached under "<hostname>:configuration:sofia.conf" on 5.5 (fusionpbx.md, "Observed on a real
# FusionPBX 5.5"), under "configuration:sofia.conf" on older ones; the public dialplan under
# "dialplan:public" and, in single dialplan mode, "dialplan:public:<number>".
_CACHE_RE = re.compile(r"^(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*\.)?configuration\.sofia\.conf(?:\..*)?$"
                       r"|^dialplan\.public(?:\..*)?$")


def clear_fusion_cache(t: Target) -> Step:
    """FusionPBX caches dialplans (``dialplan:public``...) and sofia.conf; a stale cache hides our rows."""
    if t.kind != "fusionpbx":
        return Step("clear FusionPBX cache", "skipped", "not FusionPBX")
    if t.cache_method == "file":
        d = t.r(t.cache_dir)
        if not d.is_dir():
            return Step("clear FusionPBX cache", "done", f"{t.cache_dir} does not exist: nothing cached")
        removed, failed = [], []
        for p in sorted(d.iterdir()):
            if p.is_file() and _CACHE_RE.match(p.name):
                try:
                    p.unlink()
                    removed.append(p.name)
                except OSError as exc:
                    failed.append(f"{p.name} ({exc.strerror})")
        if failed:
            return Step("clear FusionPBX cache", "failed", f"could not remove {', '.join(failed)}"
                        + (f"; removed {', '.join(removed)}" if removed else ""))
        return Step("clear FusionPBX cache", "done",
                    f"removed {', '.join(removed)}" if removed else
                    f"no cached sofia profile or public dialplan in {t.cache_dir}")
    # memcache: the same keys; the hostname one is FreeSWITCH's switchname (what FusionPBX's lua uses)
    name = fs_cli(t, "switchname")
    keys = ["dialplan:public", "configuration:sofia.conf"]
    if name.status == "done" and re.fullmatch(r"[A-Za-z0-9_.-]{1,253}", name.detail):
        keys.append(f"{name.detail}:configuration:sofia.conf")
    results = [fs_cli(t, f"memcache delete {k}") for k in keys]
    status = "done" if all(r.status == "done" for r in results) else results[0].status
    detail = "; ".join(f"{k}: {r.detail or r.status}" for k, r in zip(keys, results, strict=True))
    return Step("clear FusionPBX cache", status, detail)


def auth_logging(t: Target, want: bool | None) -> Step:
    """Ask FreeSWITCH whether the internal profile now logs auth failures (see install.verify)."""
    name = "FreeSWITCH: internal profile log-auth-failures"
    status, out = fs_cli_text(t, "sofia status profile internal")
    if status.status != "done":
        return Step(name, "skipped", f"FreeSWITCH not reachable, not checked: {status.detail}")
    addr = verify.profile_address(out)
    if addr is None:
        return Step(name, "skipped", "the internal profile is not running (no URL in `sofia status profile internal`)")
    seen, detail = verify.probe(addr[0], addr[1], t.r(t.log_file))
    if seen is None:
        return Step(name, "skipped", f"not checked: {detail}")
    return _judged(name, seen, want, detail)


def auth_logging_now(t: Target) -> tuple[bool | None, str]:
    """What FreeSWITCH runs now (None: could not tell, with the reason)."""
    step = auth_logging(t, None)
    if step.status != "done":
        return None, step.detail
    return step.detail.startswith("true"), step.detail


def _judged(name: str, seen: bool, want: bool | None, detail: str) -> Step:
    if want is None:
        return Step(name, "done", f"{'true' if seen else 'false'} ({detail}); the value before install is unknown")
    if seen == want:
        return Step(name, "done", f"{'true' if seen else 'false'}, as wanted: {detail}")
    return Step(name, "failed", f"{'true' if seen else 'false'}, wanted {'true' if want else 'false'}: {detail}; "
                "FreeSWITCH still runs the old profile: flush FusionPBX's cache (Status > SIP Status > Flush Cache) "
                "and run `fs_cli -x 'sofia profile internal restart'`")


def fs_cli(t: Target, command: str) -> Step:
    return fs_cli_text(t, command)[0]


def fs_cli_text(t: Target, command: str) -> tuple[Step, str]:
    """The step (detail cut to 200 characters) and fs_cli's whole answer."""
    if not t.live:
        return Step(f"fs_cli {command}", "skipped", f"target tree {t.root}, not the live host"), ""
    exe = shutil.which("fs_cli")
    if exe is None:
        return Step(f"fs_cli {command}", "skipped", "fs_cli not found"), ""
    argv = [exe, "-x", command]
    if t.esl:
        argv = [exe, "-H", t.esl["host"], "-P", t.esl["port"], "-p", t.esl["password"], "-x", command]
    rc, out = _run(argv, timeout=15)
    # fs_cli exits 0 whatever the answer, 255 when it cannot connect (freeswitch.md section 6)
    if rc != 0 or "[ERROR]" in out or "Error Connecting" in out:
        return Step(f"fs_cli {command}", "skipped", f"FreeSWITCH not running or unreachable: {out[:200]}"), out
    if out.startswith("-ERR"):
        return Step(f"fs_cli {command}", "failed", out[:200]), out
    return Step(f"fs_cli {command}", "done", out[:200]), out


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
