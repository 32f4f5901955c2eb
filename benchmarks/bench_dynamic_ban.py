"""One dynamic ban (``fsguard.firewall.bans.add_ban``, what fail2ban's action calls) while a
200,000-entry feed is loaded, on both backends. Goal: < 50 ms.

Baseline, measured in the same run: the naive nftables layout (the whole feed in one interval
set, bans through ``nft add element`` as fail2ban's stock nftables actions do), where nftables
1.0.6 fills its cache with every interval set's elements before each ``add element``.

Run as root: ``.venv/bin/python benchmarks/bench_dynamic_ban.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.benchlib import Netns, make_cfg, synthetic_feed  # noqa: E402
from fsguard.firewall import bans, engine  # noqa: E402
from fsguard.perimeter import feeds  # noqa: E402


def ban_times(cfg: object, ns: Netns, count: int) -> list[float]:
    out = []
    for i in range(count):
        ip = f"198.18.{200 + i // 250}.{i % 250 + 1}"
        t = time.perf_counter()
        bans.add_ban(cfg, ip, 600, netns=ns.name)
        out.append(time.perf_counter() - t)
        assert bans.is_banned(cfg, ip, netns=ns.name)
    return out


def naive_nft(ns: Netns, entries: list[str], count: int) -> list[float]:
    ns.exec("nft", "-f", "-", input=(
        "table inet naive {\n set feed { type ipv4_addr; flags interval; auto-merge; elements = { "
        + ", ".join(entries) + " } }\n set ban4 { type ipv4_addr; flags timeout; }\n}\n"))
    out = []
    for i in range(count):
        t = time.perf_counter()
        ns.exec("nft", "add", "element", "inet", "naive", "ban4", f"{{ 198.18.210.{i + 1} timeout 600s }}")
        out.append(time.perf_counter() - t)
    return out


def fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms over {len(xs)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 5000 if args.quick else 200_000
    count = 5 if args.quick else 30
    entries = synthetic_feed(n)
    pol = feeds.Policy()
    ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for e in entries:
        fam, s, t = pol.validate(e)
        ranges[fam].append((s, t))
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="fsg4-bench-") as tmpd:
        for backend in ("nftables", "iptables"):
            ns = Netns("bd")
            try:
                cfg = make_cfg(Path(tmpd), backend, "http://127.0.0.1:9/unused")
                res = engine.apply(cfg, netns=ns.name, feed_ranges={"bench": ranges})
                loaded = sum(res.sets.values())
                results[backend] = ban_times(cfg, ns, count)
                print(f"{backend}: {loaded} set entries loaded; add_ban {fmt(results[backend])}")
            finally:
                ns.close()
        ns = Netns("bn")
        try:
            naive = naive_nft(ns, entries, max(2, count // 10))
            print(f"baseline: naive nft add element next to a {n}-entry interval set: {fmt(naive)}")
        finally:
            ns.close()
    nft_m, ipt_m = statistics.median(results["nftables"]), statistics.median(results["iptables"])
    worst = max(max(results["nftables"]), max(results["iptables"]))
    print(f"RESULT dynamic ban with {n} feed entries loaded: nftables {nft_m * 1000:.1f} ms, iptables "
          f"{ipt_m * 1000:.1f} ms (median; worst single ban {worst * 1000:.1f} ms; goal < 50 ms) vs naive "
          f"nft add element {statistics.median(naive) * 1000:.1f} ms: ratio {nft_m / statistics.median(naive):.4f}x "
          f"({statistics.median(naive) / nft_m:.0f}x faster)")


if __name__ == "__main__":
    main()
