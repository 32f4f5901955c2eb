"""Latency: a failure line written to the FreeSWITCH log -> the address in fsguard's kernel ban set.

A private fail2ban-server with fsguard's rendered config and its real Python action (firewall on,
nftables inside a network namespace ``fsg3-bench-*`` created here and always deleted). For each
of N fresh scanner addresses the second not-found event line (fsguard-scan: maxretry 2) is
written, then the set is polled over netlink every 5 ms. Also measured: the time to fail2ban's own
"Ban" log line (its detection, before any action), to show what fsguard's action adds.
Usage: bench_f2b_latency.py [--quick]. Goal: p95 < 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from f2b_bench_common import event_line, make_config, start_server, stop_server


def pct(values: list[float], p: float) -> float:
    vals = sorted(values)
    return vals[min(len(vals) - 1, int(round(p / 100.0 * (len(vals) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 10 if args.quick else 60
    ns = "fsg3-bench-" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix="fsg3-bench-") as d:
            cfg, conf, log = make_config(Path(d), f"netns = {ns}\n[firewall]\nbackend = nftables\n")
            proc = start_server(conf)
            from fsguard.firewall import bans

            lat: list[float] = []
            det: list[float] = []
            try:
                for i in range(n):
                    ip = f"198.51.100.{10 + i}"
                    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".000001"
                    with open(log, "a", encoding="utf-8") as fh:
                        fh.write(event_line("not-found", ip, ts, number="1"))
                    time.sleep(0.05)
                    f2blog = (conf / "fail2ban.log").read_text()
                    mark = len(f2blog)
                    t0 = time.monotonic()
                    with open(log, "a", encoding="utf-8") as fh:
                        fh.write(event_line("not-found", ip, ts, number="2"))
                    seen_ban = None
                    while time.monotonic() - t0 < 10:
                        if seen_ban is None and f"Ban {ip}" in (conf / "fail2ban.log").read_text()[mark:]:
                            seen_ban = time.monotonic() - t0
                        if bans.is_banned(cfg, ip, netns=ns):
                            break
                        time.sleep(0.005)
                    else:
                        raise RuntimeError(f"{ip} never reached the ban set")
                    lat.append(time.monotonic() - t0)
                    det.append(seen_ban if seen_ban is not None else lat[-1])
            finally:
                stop_server(conf, proc)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    p50, p95 = pct(lat, 50), pct(lat, 95)
    print(f"{n} bans: line written -> fail2ban 'Ban' logged: p50 {pct(det, 50):.3f} s, p95 {pct(det, 95):.3f} s")
    print(f"{n} bans: line written -> address in kernel set: p50 {p50:.3f} s, p95 {p95:.3f} s,"
          f" mean {statistics.mean(lat):.3f} s, max {max(lat):.3f} s")
    print(f"RESULT latency: line -> kernel set p50 {p50:.3f} s, p95 {p95:.3f} s = {p95 / 1.5:.2f}x the 1.5 s goal"
          f" (baseline: fail2ban's own detection p95 {pct(det, 95):.3f} s)")


if __name__ == "__main__":
    main()
