"""Offenders through the service: failures from one admin-whitelisted address, many identities.

1,000,000 auth-failure event lines from one whitelisted address, spread over 10,000 user
identities, are appended to a FreeSWITCH log; the ``fsguard service`` tail (read at most 8 MB per
tick, parse, whitelist check, registration shield, offender upsert into SQLite) drains it tick by
tick. The same run is repeated with 100 identities. The offenders table is bounded (a cap of
identities per address plus one overflow row), so the per-event cost must not depend on how many
identities an attacker sprays: goal ratio (10,000 / 100 identities, per-event cost) <= 1.2.

Usage: bench_offenders.py [--quick] (100,000 failures). Prints events/s and the slowest tick of
each run, the figure (the per-event cost ratio) last.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fs_python import config, eventline, whitelist  # noqa: E402
from fsguard import evidence  # noqa: E402
from fsguard.service import Service, TickResult  # noqa: E402
from fsguard.store import open_store  # noqa: E402

TOKEN = "benchoffenders01"
IP = "192.0.2.10"
GOAL = 1.2


class NoFail2ban:
    """The tail does not talk to fail2ban (the shield only does for registered addresses)."""

    def send(self, cmd: list[str]) -> object:
        return 1

    def jails(self) -> list[str]:
        return []

    def is_banned(self, jail: str, ip: str) -> bool:
        return False


def write_log(path: Path, n: int, identities: int) -> None:
    lines = ["2026-12-03 19:00:00.000001 1.00% [WARNING] fsguard:1 " + eventline.render(
        TOKEN, "auth-failure", IP, {"profile": "internal", "method": "REGISTER", "user": f"u{i:05d}",
                                    "domain": "pbx.example.com", "ua": "sipcli/v1.8"}) for i in range(identities)]
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n, 10_000):
            fh.write("".join(lines[i % identities] for i in range(start, min(n, start + 10_000))))


def run(tmp: Path, n: int, identities: int) -> tuple[float, float, int]:
    """(seconds, slowest tick, offender rows) to drain ``n`` failures over ``identities``."""
    state = tmp / f"state{identities}"
    state.mkdir()
    log = tmp / f"fs{identities}.log"
    (state / "whitelist.json").write_text(json.dumps({"entries": [{"cidr": IP, "source": "allow",
                                                                   "label": "office"}]}))
    cfgpath = tmp / f"fsguard{identities}.conf"
    cfgpath.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = {TOKEN}\n[store]\nkind = sqlite\n"
                       f"path = {state / 'fsguard.db'}\n[fail2ban]\nlogpath = {log}\njail_dir =\nfirewall = off\n")
    cfg = config.load(cfgpath)
    whitelist.clear_cache()
    store = open_store(cfg)
    svc = Service(cfg, store, client=NoFail2ban())  # type: ignore[arg-type]
    log.write_text("")
    svc.read_new_lines()  # the tail starts at the end of the log
    write_log(log, n, identities)
    done, slowest = 0, 0.0
    t0 = time.perf_counter()
    while done < n:
        t = time.perf_counter()
        res = TickResult()
        svc.ingest(svc.read_new_lines(), time.time(), res)
        svc.shield.apply(time.time())
        slowest = max(slowest, time.perf_counter() - t)
        if res.offences == 0:
            raise SystemExit(f"stalled at {done} of {n}: {res.errors}")
        done += res.offences
    total = time.perf_counter() - t0
    rows = len(evidence.offenders(store, ip=IP, limit=1_000_000))
    counted = sum(r["failure_count"] for r in evidence.offenders(store, ip=IP, limit=1_000_000))
    store.close()
    assert counted == n, (counted, n)
    return total, slowest, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="fsg-bench-off-") as d:
        tmp = Path(d)
        base = run(tmp, n, 100)
        many = run(tmp, n, 10_000)
    for ids, (secs, slow, rows) in ((100, base), (10_000, many)):
        print(f"{n:,} failures over {ids:,} identities: {n / secs:,.0f} events/s, slowest tick {slow * 1000:.0f} ms,"
              f" {rows} offender rows")
    ratio = (many[0] / n) / (base[0] / n)
    print(f"per-event cost ratio (10,000 / 100 identities): {ratio:.2f} (goal <= {GOAL}: "
          f"{'met' if ratio <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
