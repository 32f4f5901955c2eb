"""Cluster (issue 13): three nodes, each in its own network namespace with its own kernel ban
sets, on one real PostgreSQL (a private instance on its own port, fsync on).

1. Propagation: from the deciding node's kernel add (A) to the last other node's kernel add
   (B and C, through NOTIFY and each node's listener), one ban at a time. Goal: p95 < 1 s.
2. Burst: 1,000 bans decided on A within 10 s; every one must reach B's and C's kernel sets.
3. Cost per ban on the deciding node (the fail2ban action's whole ``ban``: kernel add, evidence
   row, publication) with ``[cluster]`` against the same action on a single node (no ``[cluster]``),
   measured in the same run: the last line's ratio.

Run as root: ``.venv/bin/python benchmarks/bench_cluster.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fsguard.cluster import hooks  # noqa: E402
from fsguard.firewall import bans  # noqa: E402
from tests.clusterlab import Node, PrivatePG, close_nodes, wait_until  # noqa: E402


class Clock:
    """Kernel-add times per (node, ip), recorded by each node's listener."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def for_node(self, name: str):  # noqa: ANN201 - a callback
        def applied(kind: str, ip: str, when: float) -> None:
            if kind == "ban":
                with self.lock:
                    self.times.setdefault((name, ip), when)
        return applied


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def decide(node: Node, ip: str, secs: int = 600) -> float:
    """What A's fail2ban action does for one ban, timed from its kernel add."""
    now = time.time()
    bans.add_ban(node.cfg, ip, secs, netns=node.lab.pbx)
    t0 = time.monotonic()
    hooks.banned(node.cfg, "fsguard-sip", {"ip": ip, "time": now, "bantime": secs}, "banned")
    return t0


def ip_of(block: int, i: int) -> str:
    return f"198.18.{block + i // 250}.{i % 250 + 1}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    single_n, prop_n, burst_n, burst_s = (20, 20, 100, 1.0) if args.quick else (200, 200, 1000, 10.0)
    clock = Clock()
    pg = PrivatePG(fsync=True)
    made: list[Node] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fsg-bench-cluster-") as tmpd:
            base = Path(tmpd)
            # -- baseline: the same action on a single node (no [cluster]) --------------------
            solo = Node("s", pg.params(), base, cluster=False)
            made.append(solo)
            single = []
            for i in range(single_n):
                t = time.perf_counter()
                solo.ban(ip_of(10, i))
                single.append(time.perf_counter() - t)
            # -- three nodes ----------------------------------------------------------------
            for name in ("a", "b", "c"):
                made.append(Node(name, pg.params(), base, on_applied=clock.for_node(name)))
            a, b, c = made[1:]
            for n in (a, b, c):
                assert n.start(), f"node {n.name} not ready"
            cost = []
            for i in range(single_n):
                t = time.perf_counter()
                a.ban(ip_of(20, i))
                cost.append(time.perf_counter() - t)
            prop = []
            for i in range(prop_n):
                ip = ip_of(40, i)
                t0 = decide(a, ip)
                assert wait_until(lambda ip=ip: ("b", ip) in clock.times and ("c", ip) in clock.times, 10)
                prop.append(max(clock.times[("b", ip)], clock.times[("c", ip)]) - t0)
            # -- burst ------------------------------------------------------------------------
            # offered at an even rate by 4 deciding threads (fail2ban runs one action thread per
            # jail; a loaded 2-core machine cannot decide 100 bans/s in one thread)
            start = time.monotonic()
            ips = [ip_of(60, i) for i in range(burst_n)]

            def decider(k: int) -> None:
                for i in range(k, burst_n, 4):
                    pause = start + i * burst_s / burst_n - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    decide(a, ips[i])
            threads = [threading.Thread(target=decider, args=(k,)) for k in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            sent = time.monotonic() - start
            wait_until(lambda: all((n, ip) in clock.times for n in ("b", "c") for ip in ips), 60)
            done = time.monotonic() - start
            lost = sum(1 for n in (b, c) for ip in ips if not n.banned(ip))
            print(f"single node: action ban {statistics.median(single) * 1000:.1f} ms median over {single_n}")
            print(f"cluster: action ban on the deciding node {statistics.median(cost) * 1000:.1f} ms median")
            print(f"propagation A kernel add -> last of B, C kernel add over {prop_n}: p50 "
                  f"{pct(prop, 50) * 1000:.1f} ms, p95 {pct(prop, 95) * 1000:.1f} ms, max {max(prop) * 1000:.1f} ms")
            print(f"burst: {burst_n} bans decided in {sent:.1f} s, all in B and C after {done:.1f} s, "
                  f"missing from a kernel set: {lost}")
            ratio = statistics.median(cost) / statistics.median(single)
            print(f"RESULT cluster of 3: propagation p50 {pct(prop, 50) * 1000:.1f} ms p95 {pct(prop, 95) * 1000:.1f}"
                  f" ms (goal p95 < 1000 ms: {pct(prop, 95) / 1.0:.4f}x of it); burst {burst_n - lost // 2}/{burst_n}"
                  f" propagated, {lost} missing; cost per ban {statistics.median(cost) * 1000:.1f} ms vs single "
                  f"node {statistics.median(single) * 1000:.1f} ms: ratio {ratio:.2f}x")
            if lost:
                sys.exit(1)
    finally:
        close_nodes(made)
        pg.close()


if __name__ == "__main__":
    main()
