"""``fsguard drill [--simulate | --host] [--json]``: prove the protection works, end to end.

``--simulate`` (the default when no FreeSWITCH is found on this machine) plays the drill against a
stand-in PBX in namespaces of its own; ``--host`` aims it at the FreeSWITCH running here. The exit
code is 0 only when every protection held (Exit.DRILL_FAILED otherwise, Exit.INTERRUPTED on ^C);
``--cleanup`` only removes what an earlier, killed drill left behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from fsguard.cli.exitcodes import Exit
from fsguard.cli.output import emit, error


def freeswitch_found() -> tuple[bool, str]:
    """Is a FreeSWITCH running here? (fs_cli present and a freeswitch process alive)."""
    running = False
    try:
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/comm", encoding="ascii", errors="replace") as fh:
                        if fh.read().strip() == "freeswitch":
                            running = True
                            break
                except OSError:
                    continue
    except OSError:
        pass
    if not running:
        return False, "no freeswitch process"
    if shutil.which("fs_cli") is None:
        return False, "freeswitch runs but fs_cli is missing"
    return True, "freeswitch running"


def run(args: argparse.Namespace) -> int:
    from fsguard.drill import ledger
    from fsguard.drill.report import render_text
    from fsguard.drill.runner import run_drill

    if os.geteuid() != 0:
        error("the drill needs root (it creates network namespaces and firewall rules inside them)")
        return int(Exit.PREFLIGHT_FAILED)
    if args.cleanup:
        from fsguard.drill.runner import undo_item

        done = ledger.sweep(undo_item, orphans=True)
        # a leftover that could not be undone stays in its state file: say so with the exit code
        stuck = [d for d in done if "problems:" in d or "left in place" in d
                 or (d.startswith("orphan namespace") and not d.endswith(" removed"))]
        emit(args, {"cleaned": done, "ok": not stuck}, "\n".join(done) or "nothing left over")
        return int(Exit.OK if not stuck else Exit.DRILL_FAILED)
    if getattr(args, "nodes", 1) > 1:  # cluster: N simulated nodes on a private PostgreSQL (fsguard.cluster.drill)
        from fsguard.cluster import drill as cluster_drill

        rep = cluster_drill.run(args.nodes)
        emit(args, rep.as_dict(), rep.text())
        return int(Exit.OK if rep.passed else Exit.DRILL_FAILED)
    missing = [t for t in ("ip", "nft" if args.backend == "nftables" else "iptables", "fail2ban-server")
               if shutil.which(t) is None]
    if missing:
        error("missing tools: " + ", ".join(missing) + " (run the setup command: bash .ci/setup.sh)")
        return int(Exit.PREFLIGHT_FAILED)
    simulate = args.simulate
    if simulate is None:
        found, why = freeswitch_found()
        simulate = not found
        if not getattr(args, "json", False):
            sys.stderr.write(f"fsguard drill: {why}: {'simulated PBX' if simulate else 'real FreeSWITCH'}\n")
    steps = tuple(int(s) for s in args.step) if args.step else None
    progress = None
    if not getattr(args, "json", False) and sys.stderr.isatty():
        def progress(step: Any) -> None:
            sys.stderr.write(f"  step {step.number}: {step.status} ({step.seconds:.1f} s)\n")
    report = run_drill(simulate=simulate, backend=args.backend, steps=steps, on_step=progress)
    emit(args, report.as_dict(), render_text(report))
    if any(c.name == "interrupted" for c in report.setup):
        return int(Exit.INTERRUPTED)
    if report.passed:
        return int(Exit.OK)
    if any(c.status != "pass" for c in report.setup) and not any(s.checks for s in report.steps):
        return int(Exit.PREFLIGHT_FAILED)  # nothing could be tried: what is missing is in the report
    return int(Exit.DRILL_FAILED)


def register(sub: Any) -> None:
    p = sub.add_parser("drill", help="play a short attack and prove each protection holds")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--simulate", dest="simulate", action="store_true", default=None,
                      help="stand-in PBX in namespaces of its own (default when no FreeSWITCH runs here)")
    mode.add_argument("--host", dest="simulate", action="store_false",
                      help="aim at the FreeSWITCH running on this host")
    mode.add_argument("--cleanup", action="store_true", help="only remove what an earlier drill left behind")
    # SUPPRESS: `fsguard --json drill` and `fsguard drill --json` both work (a default here
    # would overwrite the top-level flag).
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the report as JSON")
    p.add_argument("--backend", choices=("nftables", "iptables"), default="nftables",
                   help="firewall backend of the simulated PBX (default nftables)")
    p.add_argument("--step", action="append", choices=("1", "2", "3", "4"), help="run only this step (repeatable)")
    p.add_argument("--nodes", type=int, default=1, help="with --simulate, N>1: the cluster drill (fsguard.cluster)")
    p.set_defaults(func=run)

