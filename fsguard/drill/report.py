"""Step results and the drill report: text for people, a plain structure for ``--json``.

A step passes only when every one of its checks passed; a check that could not be made (a missing
dependency, an earlier failure) is ``skipped`` with the reason, and a skipped check fails the
drill too: the exit code says "every protection held", and an unproven one did not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

PASS, FAIL, SKIP = "pass", "fail", "skipped"


@dataclass
class Check:
    name: str
    status: str  # pass | fail | skipped
    detail: str = ""
    seconds: float = 0.0


def setup_part(setup: list[Check], name: str, fn: Callable[[], object]) -> bool:
    """Bring up one part of a drill environment: its outcome (or why it failed) joins ``setup``."""
    t0 = time.monotonic()
    try:
        detail = fn() or ""
    except Exception as exc:
        setup.append(Check(name, "fail", f"{type(exc).__name__}: {exc}", time.monotonic() - t0))
        return False
    setup.append(Check(name, "pass", str(detail), round(time.monotonic() - t0, 3)))
    return True


@dataclass
class Step:
    number: int
    name: str
    status: str = SKIP
    seconds: float = 0.0
    checks: list[Check] = field(default_factory=list)
    error: str = ""

    def check(self, name: str, ok: bool, detail: str = "", seconds: float = 0.0) -> bool:
        self.checks.append(Check(name, PASS if ok else FAIL, detail, round(seconds, 3)))
        return ok

    def skip(self, name: str, reason: str) -> None:
        self.checks.append(Check(name, SKIP, reason))

    def finish(self) -> None:
        if self.error or any(c.status == FAIL for c in self.checks):
            self.status = FAIL
        elif not self.checks or any(c.status == SKIP for c in self.checks):
            self.status = SKIP
        else:
            self.status = PASS


@dataclass
class DrillReport:
    mode: str  # simulate | host
    run_id: str
    started: float
    seconds: float = 0.0
    steps: list[Step] = field(default_factory=list)
    setup: list[Check] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    cleanup_ok: bool = True
    log_excerpt: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # role -> throwaway address, "pbx" -> target

    @property
    def passed(self) -> bool:
        return (bool(self.steps) and all(s.status == PASS for s in self.steps)
                and all(c.status == PASS for c in self.setup) and self.cleanup_ok)

    def as_dict(self) -> dict[str, object]:
        from fsguard.cli.output import to_jsonable

        d = to_jsonable(self)
        assert isinstance(d, dict)
        d["passed"] = self.passed
        return d


@contextmanager
def timed_step(report: DrillReport, number: int, name: str) -> Iterator[Step]:
    """Run a step's body; an exception fails the step (with its message) but not the drill run."""
    step = Step(number, name)
    report.steps.append(step)
    t0 = time.monotonic()
    try:
        yield step
    except StepAbort as exc:
        step.error = str(exc)
    except Exception as exc:  # a broken dependency fails its step; later steps still run
        step.error = f"{type(exc).__name__}: {exc}"
    finally:
        step.seconds = round(time.monotonic() - t0, 3)
        step.finish()


class StepAbort(Exception):
    """Stop a step: what it needed is missing. The message says what."""


_MARK = {PASS: "PASS", FAIL: "FAIL", SKIP: "SKIP"}


def render_text(report: DrillReport) -> str:
    out: list[str] = []
    out.append(f"fsguard drill ({report.mode}, run {report.run_id})")
    ok = [f"{c.name} {c.seconds:.1f} s" for c in report.setup if c.status == PASS]
    if ok:
        out.append("setup: " + ", ".join(ok))
    for c in report.setup:
        if c.status != PASS:
            out.append(f"  setup  {_MARK[c.status]}  {c.name}: {c.detail}")
    for s in report.steps:
        out.append("")
        out.append(f"{_MARK[s.status]}  step {s.number}: {s.name}  ({s.seconds:.1f} s)")
        for c in s.checks:
            took = f"  [{c.seconds:.2f} s]" if c.seconds else ""
            out.append(f"   {_MARK[c.status]:4}  {c.name}{took}")
            if c.detail:
                out.append(f"         {c.detail}")
        if s.error:
            out.append(f"   step stopped: {s.error}")
    out.append("")
    if report.untested:
        out.append("not covered in this mode:")
        out.extend(f"  - {u}" for u in report.untested)
    clean = "everything the drill created was removed" if report.cleanup_ok else "CLEANUP INCOMPLETE"
    out.append(f"cleanup: {clean}" + (f" ({'; '.join(report.cleanup)})" if report.cleanup else ""))
    verdict = "every protection held" if report.passed else "A PROTECTION DID NOT HOLD (or could not be proven)"
    out.append(f"result: {verdict}  ({report.seconds:.1f} s)")
    return "\n".join(out) + "\n"
