"""Filters: ``fail2ban-regex`` lines/s and match counts, fsguard's filters vs Debian's packaged
``freeswitch`` filter (fail2ban 1.0.2, default ``mode = extra``), on the same 200k-line log.

The log is what a FreeSWITCH with fsguard writes: per failure the sofia records (challenge, then
the auth failure; an unknown user adds ``Can't find user`` and its two continuation lines) plus
fsguard's event line, among ordinary records (DEBUG lines, uuid-prefixed call lines); plus normal
successful registrations (a challenge only). Written twice: pre-1.10.7 (no idle-CPU field, where
the packaged filter works) and 1.10.7+ (with it).

Counted: "failures" = the failure events in the log; a filter should match each exactly once and
never a challenge. Goal: fsguard's default filter >= 1.0x the packaged one's speed, 100 % of the
failures matched, 0 challenge lines counted. Usage: bench_f2b_filters.py [--quick].
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import tempfile
from pathlib import Path

from f2b_bench_common import event_line, make_config

DEBIAN = Path("/etc/fail2ban/filter.d/freeswitch.conf")
UUID = "ede10837-a2a5-4649-9bf0-5199a1b1cdeb"


def build_log(path: Path, total: int, idle: bool) -> dict[str, int]:
    rnd = random.Random(7)
    counts = {"failures": 0, "challenges": 0, "lines": 0}
    pct = "48.13% " if idle else ""
    with open(path, "w", encoding="utf-8") as fh:
        i = 0
        while counts["lines"] < total:
            i += 1
            ts = "2026-11-26 19:%02d:%02d.%06d" % (i // 3600 % 60, i // 60 % 60, i % 1_000_000)
            ip = "198.18.%d.%d" % (i // 250 % 250, 1 + i % 250)
            user = str(1000 + i % 90)
            kind = rnd.random()
            rec: list[str] = []
            if kind < 0.35:  # wrong password
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:1842 SIP auth challenge (REGISTER) on sofia profile"
                           f" 'internal' for [{user}@pbx.example.com] from ip {ip}\n")
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:1787 SIP auth failure (REGISTER) on sofia profile"
                           f" 'internal' for [{user}@pbx.example.com] from ip {ip}\n")
                rec.append(event_line("auth-failure", ip, ts, idle, profile="internal", method="REGISTER",
                                      user=user, domain="pbx.example.com", ua="friendly-scanner"))
                counts["failures"] += 1
                counts["challenges"] += 1
            elif kind < 0.5:  # unknown user
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:1842 SIP auth challenge (REGISTER) on sofia profile"
                           f" 'internal' for [x{user}@pbx.example.com] from ip {ip}\n")
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:3210 Can't find user [x{user}@pbx.example.com] from {ip}\n"
                           f"You must define a domain called 'pbx.example.com' in your directory and add a user with"
                           f" the id=\"x{user}\" attribute\nand you must configure your device to use the proper"
                           f" domain in its authentication credentials.\n")
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:1787 SIP auth failure (REGISTER) on sofia profile"
                           f" 'internal' for [x{user}@pbx.example.com] from ip {ip}\n")
                rec.append(event_line("auth-failure", ip, ts, idle, profile="internal", method="REGISTER",
                                      user="x" + user, domain="pbx.example.com", ua="sipcli"))
                counts["failures"] += 1
                counts["challenges"] += 1
            elif kind < 0.7:  # a normal registration: challenged, then accepted
                rec.append(f"{ts} {pct}[WARNING] sofia_reg.c:1842 SIP auth challenge (REGISTER) on sofia profile"
                           f" 'internal' for [{user}@pbx.example.com] from ip 203.0.113.{i % 200 + 1}\n")
                counts["challenges"] += 1
            else:  # ordinary records, some inside calls
                rec.append(f"{ts} {pct}[DEBUG] sofia.c:10554 verifying acl \"domains\" for ip/port {ip}:0.\n")
                rec.append(f"{UUID} {ts} {pct}[DEBUG] switch_core_state_machine.c:581 (sofia/external/x@{ip})"
                           f" Running State Change CS_NEW (Cur 1 Tot 1)\n")
            for r in rec:
                fh.write(r)
                counts["lines"] += r.count("\n")
    return counts


def regex_run(log: Path, flt: str) -> tuple[int, float]:
    proc = subprocess.run(["fail2ban-regex", "--print-no-missed", str(log), flt], capture_output=True, text=True,
                          timeout=1200)
    # "Failregex: N total" counts failures (a multi-line match is one failure over several lines)
    m = re.search(r"^Failregex: (\d+) total", proc.stdout, re.M)
    t = re.search(r"\[processed in ([\d.]+) sec\]", proc.stdout)
    if not m or not t:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return int(m.group(1)), float(t.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    total = 20_000 if args.quick else 200_000
    with tempfile.TemporaryDirectory(prefix="fsg3-bench-") as d:
        tmp = Path(d)
        _, conf, _ = make_config(tmp)
        events = str(conf / "filter.d" / "fsguard-events.conf")
        sofia = str(conf / "filter.d" / "fsguard-sofia.conf")
        rates: dict[tuple[str, str], tuple[int, float]] = {}
        for fmt, idle in (("pre-1.10.7", False), ("1.10.7+", True)):
            log = tmp / f"fs-{fmt}.log"
            c = build_log(log, total, idle)
            print(f"{fmt} log: {c['lines']} lines, {c['failures']} failures, {c['challenges']} challenge lines",
                  flush=True)
            for name, flt in (("debian freeswitch", str(DEBIAN)), ("fsguard-events", events),
                              ("fsguard-sofia", sofia)):
                matched, secs = regex_run(log, flt)
                rates[(fmt, name)] = (matched, c["lines"] / secs)
                print(f"  {name:<18} matched {matched:>7} ({100.0 * matched / c['failures']:.1f} % of failures)"
                      f"  {c['lines'] / secs:>9,.0f} lines/s", flush=True)
        deb_m, deb = rates[("pre-1.10.7", "debian freeswitch")]
        ev_m, ev = rates[("pre-1.10.7", "fsguard-events")]
        so_m, so = rates[("pre-1.10.7", "fsguard-sofia")]
        new_deb, _ = rates[("1.10.7+", "debian freeswitch")]
        new_ev, _ = rates[("1.10.7+", "fsguard-events")]
        new_so, _ = rates[("1.10.7+", "fsguard-sofia")]
    print(f"RESULT filters (pre-1.10.7 log): fsguard-events {ev:,.0f} lines/s = {ev / deb:.2f}x Debian's freeswitch"
          f" filter {deb:,.0f} lines/s (goal >= 1.0; fsguard-sofia {so / deb:.2f}x); matched failures: fsguard-events"
          f" {ev_m}, fsguard-sofia {so_m}, Debian {deb_m} (it counts challenges and unknown users twice);"
          f" 1.10.7+ log: fsguard-events {new_ev}, fsguard-sofia {new_so}, Debian {new_deb}")


if __name__ == "__main__":
    main()
