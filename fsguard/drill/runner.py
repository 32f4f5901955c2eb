"""Run the drill: sweep leftovers, build the world, play the steps, always clean up, report.

Cleanup is guaranteed three ways: ``try/finally`` around everything; SIGTERM (and SIGHUP) turned
into an exception so the ``finally`` runs on ``kill`` too (SIGINT already is one); and the ledger
(state file) listing every namespace, process and directory before it exists, swept at the start
of every later run when a run was killed with SIGKILL or the machine lost power mid-drill.
During cleanup further signals are ignored so a second ^C cannot leave half a cleanup.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import Any

from fsguard.drill import ledger as ledger_mod
from fsguard.drill.report import PASS, Check, DrillReport, StepAbort, timed_step
from fsguard.drill.steps import STEPS


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """SIGTERM/SIGHUP arrived: stop the drill, clean up, report."""


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def _handled(sigs: tuple[signal.Signals, ...], handler: Any) -> Iterator[None]:
    """``handler`` for ``sigs`` while the block runs, the previous handlers restored after it."""
    try:
        old = {s: signal.signal(s, handler) for s in sigs}
    except ValueError:  # not the main thread (embedded use): rely on try/finally and the ledger
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def signals_to_exceptions() -> AbstractContextManager[None]:
    return _handled((signal.SIGTERM, signal.SIGHUP), _raise_interrupt)


def signals_ignored() -> AbstractContextManager[None]:
    return _handled((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), signal.SIG_IGN)


def run_drill(*, simulate: bool = True, backend: str = "nftables", steps: tuple[int, ...] | None = None,
              on_step: Callable[[Any], None] | None = None, env_class: Any = None) -> DrillReport:
    """Run the drill and return its report (cleanup done, whatever happened).

    ``env_class`` replaces :class:`SimEnv` (tests use it to break one protection on purpose and
    prove the drill then fails)."""
    from fsguard.drill.env import SimEnv

    run_id = ledger_mod.new_run_id()
    report = DrillReport(mode="simulate" if simulate else "host", run_id=run_id, started=time.time())
    t0 = time.monotonic()
    swept = ledger_mod.sweep(undo_item)
    report.cleanup.extend(f"earlier run: {s}" for s in swept)
    if simulate:
        report.untested = [
            "FreeSWITCH itself: a stand-in answers as 1.10.12 does (reference samples), fs_python's real "
            "monitor and not-found handler run behind it through the stand-in freeswitch module",
            "IPv6 beyond the scanner (lists, countries, carriers and TCP flags are probed over IPv4), "
            "TLS/WebSocket transports and fail2ban's journald backend",
        ]
    else:
        report.untested = ["real-host mode has never run against a real FreeSWITCH (none can run where "
                           "fsguard is developed): see fsguard/drill/hostenv.py for what it does"]
    led = ledger_mod.Ledger(run_id)
    env: Any = None
    interrupted: BaseException | None = None
    try:
        with signals_to_exceptions():
            if simulate:
                env = (env_class or SimEnv)(led, backend=backend)
            else:
                from fsguard.drill.hostenv import HostEnv

                env = HostEnv(led)
            env.up()
            report.setup = env.setup
            report.addresses = {"pbx": env.topo.pbx_ip, **env.topo.roles}
            if simulate and env.topo.pbx_ip6 is None:
                report.untested.append(f"IPv6: not available here ({env.topo.ipv6_error[:120]})")
            elif simulate:
                report.addresses.update({"pbx6": env.topo.pbx_ip6, **env.topo.roles6})
            failed = {c.name for c in env.setup if c.status != PASS}
            for number, (name, fn, needs) in enumerate(STEPS, start=1):
                if steps and number not in steps:
                    continue
                with timed_step(report, number, name) as step:
                    missing = [n for n in needs if n in failed] if env.mode == "simulate" else sorted(failed)
                    if missing:
                        raise StepAbort(f"setup failed: {', '.join(missing)}")
                    fn(env, step)
                if on_step:
                    on_step(report.steps[-1])
    except (KeyboardInterrupt, Interrupted) as exc:
        interrupted = exc
        report.cleanup.append(f"interrupted ({type(exc).__name__} {exc}): cleaning up")
    finally:
        with signals_ignored():
            problems: list[str] = []
            if env is not None:
                report.log_excerpt = _excerpt(env)
                problems += env.down()
            problems += led.undo_all(undo_item)
            report.cleanup_ok = not problems
            report.cleanup.extend(problems)
            report.seconds = round(time.monotonic() - t0, 2)
    if interrupted is not None:
        report.setup.append(Check("interrupted", "fail", "the drill was interrupted before it finished"))
    return report


def _excerpt(env: Any, n: int = 12) -> list[str]:
    """The last FreeSWITCH log lines about the scanner: what an operator would grep for."""
    try:
        ip = env.topo.roles["scanner"]
        with open(env.logpath, encoding="utf-8", errors="replace") as fh:
            lines = [line.rstrip("\n") for line in fh if ip in line]
        return lines[:n]
    except OSError:
        return []


def undo_item(item: dict[str, Any]) -> None:
    """Items outside the namespaces (real-host mode): bans and list entries of drill addresses."""
    kind = item.get("kind")
    if kind == "link":
        from fsguard.drill.netns import ip_cmd

        name = str(item.get("name", ""))
        if not name.startswith("fd") or len(name) > 15:
            raise ValueError(f"refusing to delete link {name!r}")
        ip_cmd(["ip", "link", "del", name], check=False)
        return
    from fsguard.drill import deps

    deps.undo_host_item(item)
