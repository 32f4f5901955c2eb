"""Helpers to hold the stand-in to the real 1.10.12 recordings (samples/mod_python3-probe)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from fsguard.fakefs import FakeSwitch, Harness
from fsguard.fakefs.session import PHRASES

PROBE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "samples" / "mod_python3-probe"
if not PROBE.is_dir():
    PROBE = Path("/work/shared/reference/samples/mod_python3-probe")
REAL_SCRIPTS = "/usr/share/freeswitch/scripts"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d{1,3}\.\d\d%")
_RECORD = re.compile(r"^(?:%s )?<TS> " % _UUID)
# Sources the stand-in simulates: mod_python3 itself, the SWIG layer (switch_cpp.cpp), the
# applications Python executes, consoleLog2 files of the probe, and the core's app/hangup lines.
_SIMULATED = re.compile(
    r"<TS> \[[A-Z]+\] (?:(?:mod_python3\.c|switch_cpp\.cpp|mod_dptools\.c|cmpfile\.py|y\.py):\d+"
    r"|switch_event\.c:2196|mod_sofia\.c:(?:2350|2416)|switch_core_session\.c:(?:2749|2766|2767|2963|2979)) "
)
_EXEC = re.compile(r"^(%s) EXECUTE \[depth=0\] \S+ ([a-z_0-9]+)\(" % _UUID)


def mask(text: str, scripts_dir: str | None = None) -> list[str]:
    if scripts_dir:
        text = text.replace(scripts_dir, REAL_SCRIPTS)
    lines = _TS.sub("<TS>", text).split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def kept(lines: list[str]) -> list[str]:
    """The physical lines of records the stand-in simulates, uuids masked.

    A continuation line (no timestamp) belongs to the record before it; EXECUTE lines count from
    the call's ``python(...)`` action on (the dialplan's own earlier actions are not simulated)."""
    out: list[str] = []
    keep_prev = False
    in_python: set[str] = set()
    for line in lines:
        m = _EXEC.match(line)
        if m:
            uuid, app = m.groups()
            if app == "python":
                in_python.add(uuid)
            keep_prev = uuid in in_python
        elif "Dialplan: " in line[:48]:
            keep_prev = False
        elif _RECORD.match(line) or _TS.search(line[:80] or "") or "<TS>" in line[:60]:
            um = re.match(_UUID, line)
            # a call's records count from its python(...) action on
            keep_prev = bool(_SIMULATED.search(line)) and (um is None or um.group(0) in in_python)
        # else: continuation line, inherits keep_prev
        if keep_prev:
            out.append(re.sub(_UUID, "<UUID>", line))
    return out


def run_scenario(tmp: Path) -> tuple[Harness, str]:
    """scenario.txt through the harness, as RECORDED.md describes (0.7 s apart is not needed)."""
    for name in ("fakefs_cmp", "fakefs_cmp_state", "fakefs_cmp2"):
        sys.modules.pop(name, None)
    h = Harness(FakeSwitch(tmp / "freeswitch.log"), scripts_dir=PROBE)
    answers: list[str] = []
    for line in (PROBE / "scenario.txt").read_text().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "api":
            answers.append(">>> %s\n%s\n" % (line, h.api(rest)))
        elif kind == "app":
            call = h.dialplan(rest, destination="7780", from_user="sipp")
            code = call.final or 0
            answers.append(">>> %s\nSIP/2.0 %d %s\r\n" % (line, code, PHRASES.get(code, "")))
        elif kind == "pyrun":
            h.pyrun(rest)
            deadline = time.monotonic() + 5
            while "bound to CUSTOM" not in h.switch.text() and time.monotonic() < deadline:
                time.sleep(0.01)
    return h, "".join(answers)


CASES2 = {"7781": "ans", "7782": "pre", "7783": "respond", "7784": "badapp", "7785": "hangupapp", "7786": "remote"}


def run_cases2(tmp: Path) -> tuple[Harness, dict[str, list[str]]]:
    """The real2 recording: INVITEs to 7781..7786, each routed to ``python fakefs_cmp2 <case>``."""
    sys.modules.pop("fakefs_cmp2", None)
    h = Harness(FakeSwitch(tmp / "freeswitch2.log"), scripts_dir=PROBE)
    seen: dict[str, list[str]] = {}
    for number, case in CASES2.items():
        call = h.dialplan("fakefs_cmp2 " + case, destination=number, from_user="sipp")
        seen[number] = call.sip
    return h, seen


def real_sipp() -> dict[str, list[str]]:
    """real2_sipp.txt: ``>>> 7781 SIP/2.0 200  BYE  SIP/2.0 200`` -> {"7781": ["200", "BYE", "200"]}."""
    out: dict[str, list[str]] = {}
    for line in (PROBE / "real2_sipp.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == ">>>":
            out[parts[1]] = [p for p in parts[2:] if p != "SIP/2.0"]
    return out
