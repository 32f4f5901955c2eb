"""Ingest: failures/s a real fail2ban-server processes from fsguard event lines.

(a) no whitelisting; (b) fsguard's auto-whitelisting: 5,000 registered IPs in the registrations
snapshot, synced into fail2ban's ignoreip by the fsguard service (a hash-set lookup per failure);
(c) the seed's approach: an uncached ``ignorecommand`` that forks per failure (as ``fs_cli``
would; here the cheapest possible fork+exec, ``/usr/bin/test``, so (c) is an upper bound for the
seed), measured on a sample and reported as a rate.

The attacking addresses are not registered (every failure is checked and counted), and maxretry
is set out of reach so the figure is the filter's ingest, not the ban action's.
Usage: bench_f2b_ingest.py [--quick]. Goal: (b)/(a) >= 0.8.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import tempfile
import time
from pathlib import Path

from f2b_bench_common import client, event_line, make_config, start_server, stop_server

JAIL = "fsguard-auth"


def write_lines(log: Path, n: int, addrs: int) -> None:
    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".000001"
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    with open(log, "a", encoding="utf-8") as fh:
        for i in range(n):
            ip = str(ipaddress.IPv4Address(base + 1 + i % addrs))
            fh.write(event_line("auth-failure", ip, ts, user=str(1000 + i % 50), domain="pbx.example.com",
                                ua="friendly-scanner"))


def total_failed(conf: Path) -> tuple[int, int]:
    out = client(conf, "status", JAIL).stdout
    failed = re.search(r"Total failed:\s+(\d+)", out)
    return (int(failed.group(1)) if failed else 0), 0


def run(tmp: Path, n: int, addrs: int, mode: str, registered: int) -> float:
    extra = "auth_maxretry = 100000000\nscan_enabled = false\n"
    cfg, conf, log = make_config(tmp, extra)
    if mode == "seed":
        local = conf / "jail.d" / "fsguard.local"
        text = local.read_text().replace("ignorecommand =\n", "ignorecommand = /usr/bin/test <ip> = 0.0.0.0\n", 1)
        local.write_text(text)
    proc = start_server(conf)
    store = None
    try:
        if mode == "fsguard":
            from fsguard.service import Service
            from fsguard.store import open_store

            now = time.time()
            regs = [{"ip": str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("100.64.0.0")) + i)),
                     "user": str(i), "realm": "pbx.example.com", "expires": now + 3600, "port": "5060",
                     "proto": "udp", "profile": "internal"} for i in range(registered)]
            cfg.fs_dir.mkdir(parents=True, exist_ok=True)
            (cfg.fs_dir / "registrations.json").write_text(json.dumps(
                {"version": 1, "written": now, "registrations": regs}))
            store = open_store(cfg)
            svc = Service(cfg, store)
            res = svc.tick()
            assert not res.errors, res.errors
            assert res.ignore_added >= registered, res
        start = time.monotonic()
        write_lines(log, n, addrs)
        last, stalled = -1, time.monotonic()
        while True:
            done, _ = total_failed(conf)
            if done >= n:
                break
            if done != last:
                last, stalled = done, time.monotonic()
            elif time.monotonic() - stalled > 30:
                raise RuntimeError(f"{mode}: stalled at {done}/{n}")
            time.sleep(0.25)
        elapsed = time.monotonic() - start
    finally:
        stop_server(conf, proc)
        if store is not None:
            store.close()
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, addrs, registered, sample = (20_000, 200, 500, 300) if args.quick else (200_000, 2_000, 5_000, 3_000)
    with tempfile.TemporaryDirectory(prefix="fsg3-bench-") as d:
        tmp = Path(d)
        a = run(tmp / "a", n, addrs, "none", 0)
        print(f"(a) no whitelisting: {n} failures from {addrs} addresses: {a:,.0f} failures/s", flush=True)
        b = run(tmp / "b", n, addrs, "fsguard", registered)
        print(f"(b) fsguard auto-whitelist ({registered} registered IPs in ignoreip): {b:,.0f} failures/s", flush=True)
        c = run(tmp / "c", sample, min(addrs, sample), "seed", 0)
        print(f"(c) seed: uncached ignorecommand forking per failure (sample of {sample}): {c:,.0f} failures/s;"
              f" {n} failures would take {n / c:,.0f} s", flush=True)
    print(f"RESULT ingest: (b) fsguard auto-whitelist {b:,.0f} failures/s = {b / a:.2f}x of (a) no whitelisting"
          f" {a:,.0f}/s (goal >= 0.8); {b / c:.1f}x the seed's forking ignorecommand (c) {c:,.0f}/s")


if __name__ == "__main__":
    main()
