"""Cost per call of the ``fs_python.not_found`` dialplan handler, through the stand-in module.

Each call: 7 getVariable, one event line rendered (attacker text escaped) and handed to
consoleLog2, one hangup (SIP 404), all against fakefs' freeswitch module writing mod_logfile
records to memory. Measured three ways in the same run:

- handler only: ``handler(session, args)`` on prepared calls (the figure; goal < 100 µs/call);
- mod_python3's per-call reload of the entry module (informational: the real module pays it too,
  which is why ``fs_python/not_found.py`` is a two-line module over ``fs_python.dialplan``);
- the whole harness call (EXECUTE line, import + reload, handler, channel teardown).

Usage: bench_not_found.py [--quick]. Prints the handler cost last, with its ratio to the goal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fs_python import fslog  # noqa: E402
from fsguard.fakefs import FakeSwitch, Harness  # noqa: E402
from fsguard.fakefs.session import Session, new_channel  # noqa: E402

GOAL_US = 100.0


def variables(i: int, rnd: random.Random) -> dict[str, str]:
    hostile = rnd.random() < 0.3
    ua = ("bad\udcff\udcfe" + "x] from ip 198.51.100.9 [" * 20) if hostile else "friendly-scanner"
    return {"sip_network_ip": "198.18.%d.%d" % (i // 250 % 250, 1 + i % 250), "destination_number": "00972%07d" % i,
            "sip_user_agent": ua, "sip_from_user": "%d" % (100 + i % 900), "sip_to_user": "00972%07d" % i,
            "sip_to_host": "203.0.113.1", "sofia_profile_name": "external"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, to prove it runs")
    n = 500 if ap.parse_args().quick else 20_000
    tmp = Path(tempfile.mkdtemp(prefix="fsg2-bench-nf-"))
    (tmp / "fsguard.conf").write_text("[fsguard]\nevent_token = benchToken0123\nstate_dir = %s\n" % tmp)
    os.environ["FSGUARD_CONFIG"] = str(tmp / "fsguard.conf")
    fslog.reset()
    h = Harness(FakeSwitch(None))
    rnd = random.Random(1)
    import fs_python.not_found as nf

    # handler only, on prepared sessions
    sessions = [Session._attach(new_channel(variables(i, rnd), "sofia/external/x@198.18.0.1:5060")) for i in range(n)]
    nf.handler(sessions[0], "")  # warm-up
    t0 = time.perf_counter()
    for s in sessions[1:]:
        nf.handler(s, "")
    handler_us = (time.perf_counter() - t0) / (n - 1) * 1e6
    answered = sum(1 for s in sessions if s._ch.sip == ["404"])
    events = h.switch.text().count(" fsguard:1 FSGUARD ")
    assert answered == n and events == n and h.switch.crashed is None, (answered, events)
    h.switch.clear_log()

    # mod_python3's reload of the entry module, alone
    reloads = max(200, n // 10)
    t0 = time.perf_counter()
    for _ in range(reloads):
        importlib.reload(nf)
    reload_us = (time.perf_counter() - t0) / reloads * 1e6

    # the whole call as FreeSWITCH makes it
    calls = max(200, n // 10)
    t0 = time.perf_counter()
    for i in range(calls):
        c = h.dialplan("fs_python.not_found", variables=variables(i, rnd))  # type: ignore[arg-type]
        if c.final != 404:
            raise SystemExit("call %d answered %s" % (i, c.sip))
    full_us = (time.perf_counter() - t0) / calls * 1e6

    print("calls: %d handler, %d reloads, %d full harness calls; every call answered 404, one event each" % (
        n, reloads, calls))
    print("entry-module reload (mod_python3, per call): %.1f us" % reload_us)
    print("full harness call (EXECUTE + import/reload + handler + teardown): %.1f us" % full_us)
    print("not_found handler cost: %.1f us/call = %.2fx the %.0f us goal (%s)" % (
        handler_us, handler_us / GOAL_US, GOAL_US, "met" if handler_us < GOAL_US else "NOT met"))


if __name__ == "__main__":
    main()
