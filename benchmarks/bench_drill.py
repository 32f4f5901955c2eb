"""How long ``fsguard drill --simulate`` takes, and what the steps cost over bringing the world up.

Goal: the whole drill well under a minute (it is the first command a newcomer runs). Baseline,
measured in the same run: a drill with no step at all (namespaces, stand-in PBX with fs_python's
monitor, country data, fsguard's ruleset, a private fail2ban-server, the service loop, then the
full cleanup). Printed last: the full drill's seconds and its ratio to that baseline.
Usage: bench_drill.py [--quick] (quick: step 1 only).
"""

from __future__ import annotations

import argparse
import time

from fsguard.drill.runner import run_drill


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="step 1 only")
    args = ap.parse_args()
    t0 = time.monotonic()
    bare = run_drill(simulate=True, steps=(99,))  # no step has number 99: setup + cleanup only
    bare_s = time.monotonic() - t0
    print(f"setup + cleanup only: {bare_s:.2f} s (cleanup ok: {bare.cleanup_ok})")
    for c in bare.setup:
        print(f"  {c.name:<18} {c.seconds:6.2f} s  {c.status}")
    t1 = time.monotonic()
    full = run_drill(simulate=True, steps=(1,) if args.quick else None)
    full_s = time.monotonic() - t1
    for s in full.steps:
        print(f"step {s.number}: {s.status:<7} {s.seconds:6.2f} s  {s.name}")
    print(f"passed: {full.passed}; cleanup ok: {full.cleanup_ok}")
    print(f"drill {'(step 1 only) ' if args.quick else ''}total: {full_s:.2f} s = "
          f"{full_s / bare_s:.2f}x the setup+cleanup baseline ({bare_s:.2f} s); goal < 60 s")


if __name__ == "__main__":
    main()
