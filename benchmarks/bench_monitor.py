"""Monitor throughput: sofia events/s the ``fs_python.monitor`` loop handles, with no event lost.

The monitor runs as a startup-script thread of the stand-in FreeSWITCH (fakefs). A burst of N
events (40 % register_failure -> auth-failure line, 20 % pre_register to an IP literal ->
ip-literal-domain line, 30 % register, 10 % unregister) is queued while the monitor is still
seeding (its ``show registrations`` is held back), then released: the figure is the drain rate,
the monitor's own work per event, because in FreeSWITCH the producer is C code that does not
compete for the GIL. Also measured in the same run, for information: the end-to-end rate with
the events produced by Python in the same process at the same time.

Loss check: every event handled, the consumer dropped none, one line per line-producing event.
Usage: bench_monitor.py [--quick]. Prints the throughput last, with its ratio to the goal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fs_python import fslog  # noqa: E402
from fs_python.registry import REGISTRY  # noqa: E402
from fsguard.fakefs import FakeSwitch, Harness  # noqa: E402

GOAL = 20_000.0


def burst(h: Harness, n: int, offset: int = 0) -> int:
    """Fire n events; returns how many should produce an event line."""
    lines = 0
    for j in range(n):
        i = j + offset
        ip = "198.18.%d.%d" % (i // 250 % 250, 1 + i % 250)
        k = i % 10
        if k < 4:
            h.switch.fire("sofia::register_failure", {
                "profile-name": "internal", "to-user": str(1000 + i % 50), "to-host": "pbx.example.com",
                "network-ip": ip, "user-agent": "friendly-scanner", "registration-type": "REGISTER"})
            lines += 1
        elif k < 6:
            h.switch.fire("sofia::pre_register", {"profile-name": "internal", "from-user": "100",
                                                  "from-host": "203.0.113.1", "to-host": "203.0.113.1",
                                                  "network-ip": ip, "user-agent": "sipvicious"})
            lines += 1
        elif k < 9:
            h.switch.fire("sofia::register", {"username": str(i % 3000), "realm": "pbx.example.com",
                                              "network-ip": ip, "network-port": "5060", "expires": "300",
                                              "profile-name": "internal"})
        else:
            h.switch.fire("sofia::unregister", {"username": str((i - 3) % 3000), "realm": "pbx.example.com",
                                                "network-ip": ip})
    return lines


def wait_handled(target: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while REGISTRY.handled + REGISTRY.bad_events < target and time.perf_counter() < deadline:
        time.sleep(0.001)
    return time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, to prove it runs")
    n = 2_000 if ap.parse_args().quick else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="fsg2-bench-mon-"))
    (tmp / "fsguard.conf").write_text("[fsguard]\nevent_token = benchToken0123\nstate_dir = %s\n" % tmp)
    os.environ["FSGUARD_CONFIG"] = str(tmp / "fsguard.conf")
    fslog.reset()
    h = Harness(FakeSwitch(None))
    release = threading.Event()
    h.switch.api_commands["show"] = lambda args: (release.wait(120), '{"row_count": 0}\n')[1]
    h.pyrun("fs_python.monitor")
    while "bound to CUSTOM sofia::expire" not in h.switch.text():
        time.sleep(0.005)

    # (1) drain rate: the burst is queued before the monitor starts popping
    expected = burst(h, n)
    t0 = time.perf_counter()
    release.set()
    t1 = wait_handled(n, 300)
    drain = n / (t1 - t0)
    handled, bad = REGISTRY.handled, REGISTRY.bad_events

    # (2) end-to-end with a Python producer competing for the GIL (informational)
    m = max(1_000, n // 5)
    t0 = time.perf_counter()
    expected += burst(h, m, offset=n)
    t1 = wait_handled(n + m, 300)
    e2e = m / (t1 - t0)

    h.switch.shutdown()
    h.join(3)
    text = h.switch.text()
    emitted = text.count(" fsguard:1 FSGUARD ")
    dropped = text.count("Cannot queue any more events")
    lost = (n + m) - (REGISTRY.handled + REGISTRY.bad_events) + dropped
    print("events: %d burst + %d streamed; handled %d, malformed %d, dropped by the queue %d, lines %d/%d" % (
        n, m, REGISTRY.handled, REGISTRY.bad_events, dropped, emitted, expected))
    print("registrations tracked at the end: %d" % len(REGISTRY.rows()))
    print("end-to-end with a Python producer in-process: %.0f events/s" % e2e)
    if lost or bad or emitted != expected or handled != n:
        print("LOSS: %d events lost" % lost)
    print("monitor throughput: %.0f events/s = %.2fx the %.0f events/s goal, %d lost (%s)" % (
        drain, drain / GOAL, GOAL, lost, "met" if drain >= GOAL and not lost else "NOT met"))


if __name__ == "__main__":
    main()
