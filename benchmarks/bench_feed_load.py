"""A 200,000-entry feed from download to kernel (fetch from a local HTTP server, parse, validate,
merge, subtract the whitelist, load) with fsguard, on both backends, vs the floor: a bare
``ipset restore`` of the same entries (pre-rendered, nothing else). Also the published per-entry
method (one ``ipset add`` process per line) on a sample, extrapolated. Goal: fsguard <= 2x floor.

Side by side, same entries, same run: the address arithmetic fsguard does by hand (parse with
``inet_pton``, merge, subtract the whitelist, ranges -> CIDRs) against the libraries that could do
it (netaddr ``IPSet``; stdlib ``ipaddress``: ``ip_network`` + ``collapse_addresses`` +
``address_exclude``), and what fsguard's first load would cost with each library instead
(ARCHITECTURE.md: why merge/subtract/the feed parser stay hand-written).

Run as root: ``.venv/bin/python benchmarks/bench_feed_load.py [--quick]``. The figure is printed
last with its ratio to the floor, all measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ipaddress  # noqa: E402

import netaddr  # noqa: E402

from benchmarks.benchlib import FeedServer, Netns, make_cfg, synthetic_feed  # noqa: E402
from fsguard.firewall import engine  # noqa: E402
from fsguard.firewall.ruleset import split  # noqa: E402
from fsguard.perimeter import addr, feeds, update  # noqa: E402

WHITELIST = ["192.0.2.0/24", "45.1.1.1", "100.0.0.0/16"]
from fsguard.store import open_store  # noqa: E402


def floor_restore(ns: Netns, entries: list[str]) -> float:
    hashsize = 1024
    while hashsize < len(entries) // 2:  # presized like fsguard's own sets: the fastest bare restore
        hashsize *= 2
    text = f"create floor hash:net family inet hashsize {hashsize} maxelem {2 * len(entries)}\n" + "".join(
        f"add floor {e}\n" for e in entries)
    t = time.perf_counter()
    ns.exec("ipset", "restore", input=text)
    dt = time.perf_counter() - t
    ns.exec("ipset", "destroy", "floor")
    return dt


def per_entry(ns: Netns, entries: list[str]) -> float:
    ns.exec("ipset", "create", "published", "hash:net", "maxelem", "1000000")
    # as published: the feed turned into a shell script, one ipset process per line, run by sh
    script = "".join(f"ipset -A published {e}\n" for e in entries)
    t = time.perf_counter()
    ns.exec("sh", "-s", input=script)
    dt = time.perf_counter() - t
    ns.exec("ipset", "destroy", "published")
    return dt


def fsguard_load(tmp: Path, backend: str, url: str, ns: Netns) -> tuple[float, dict[str, float]]:
    """One full pipeline run: fetch -> parse/validate -> cache -> merge/subtract -> render -> load."""
    cfg = make_cfg(tmp, backend, url)
    store = open_store(cfg)
    if not store.query("select 1 from v_fsguard_list_entries"):
        store.insert("v_fsguard_list_entries", {"list_name": "allow", "cidr": "192.0.2.0/24", "label": "office",
                                                "entry_enabled": True})
    spec = feeds.specs(cfg)[0]
    (feeds.cache_dir(cfg) / "bench.json").unlink(missing_ok=True)  # a real download every run
    t0 = time.perf_counter()
    parsed: list[feeds.Parsed] = []
    res = update.update_plain(cfg, spec, parsed_out=parsed)
    assert res.status == "updated", res
    t1 = time.perf_counter()
    applied = engine.apply(cfg, netns=ns.name, store=store, feed_ranges={"bench": parsed[0].ranges})
    t2 = time.perf_counter()
    store.close()
    return t2 - t0, {"fetch": t1 - t0, "load": t2 - t1, "entries": float(sum(applied.sets.values()))}


def arithmetic(entries: list[str]) -> dict[str, float]:
    """Seconds for text -> kept CIDRs (parse, merge, subtract the whitelist) per implementation."""
    body = ("\n".join(entries) + "\n").encode()
    out = {}
    t = time.perf_counter()
    parsed = feeds.parse_text(body, addr.Policy())
    holes = addr.merge([addr.parse_cidr(w)[1:] for w in WHITELIST])
    split(addr.subtract(addr.merge(parsed.ranges[4]), holes), 4)
    out["hand (fsguard)"] = time.perf_counter() - t
    t = time.perf_counter()
    kept = netaddr.IPSet(body.decode().split()) - netaddr.IPSet(WHITELIST)
    kept.iter_cidrs()
    out["netaddr IPSet"] = time.perf_counter() - t
    t = time.perf_counter()
    # the synthetic feed is IPv4 (VoIPBL's shape): one family keeps the library calls typed
    nets = ipaddress.collapse_addresses(ipaddress.IPv4Network(e, strict=False) for e in body.decode().split())
    wl = [ipaddress.IPv4Network(w, strict=False) for w in WHITELIST]
    result: list[ipaddress.IPv4Network] = []
    for n in nets:
        rest = [n]
        for w in wl:
            rest = [x for r in rest for x in (r.address_exclude(w) if w.subnet_of(r) else
                                             [] if r.subnet_of(w) else [r])]
        result.extend(rest)
    out["ipaddress collapse"] = time.perf_counter() - t
    return out


def best_of(runs: int, tmp: Path, backend: str, url: str, fresh: bool) -> tuple[float, dict[str, float]]:
    """``fresh``: each run into a new namespace (first load); else reloads over the loaded set."""
    best: tuple[float, dict[str, float]] | None = None
    keep = None if fresh else Netns("bl")
    try:
        if keep is not None:
            fsguard_load(tmp / f"{backend}-warm", backend, url, keep)
        for i in range(runs):
            ns = keep or Netns("bf")
            try:
                sub = tmp / f"{backend}-{'fresh' if fresh else 'warm'}{i if fresh else ''}"
                got = fsguard_load(sub, backend, url, ns)
            finally:
                if keep is None:
                    ns.close()
            if best is None or got[0] < best[0]:
                best = got
    finally:
        if keep is not None:
            keep.close()
    assert best is not None
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--entries", type=int)
    args = ap.parse_args()
    n = args.entries or (5000 if args.quick else 200_000)
    sample = 50 if args.quick else 1000
    entries = synthetic_feed(n)
    body = ("# synthetic VoIPBL-shaped feed\n" + "\n".join(entries) + "\n").encode()
    srv = FeedServer(body)
    ns = Netns("bf")
    try:
        with tempfile.TemporaryDirectory(prefix="fsg4-bench-") as tmpd:
            tmp = Path(tmpd)
            floors = [floor_restore(ns, entries) for _ in range(2)]
            floor = min(floors)
            runs = ", ".join(f"{f:.3f}" for f in floors)
            print(f"floor: bare ipset restore of {n} entries: {floor:.3f} s (runs {runs})")
            pe = per_entry(ns, entries[:sample])
            est = pe / sample * n
            print(f"published per-entry 'ipset -A' (one process per line): {pe / sample * 1000:.2f} ms/entry, "
                  f"{sample} sampled -> {est:.1f} s extrapolated for {n} ({est / floor:.0f}x floor)")
            results = {}
            for backend in ("nftables", "iptables"):
                (tmp / f"{backend}-warm").mkdir()
                for i in range(2):
                    (tmp / f"{backend}-fresh{i}").mkdir()
                first = best_of(2, tmp, backend, srv.url, fresh=True)
                reload_ = best_of(2, tmp, backend, srv.url, fresh=False)
                results[backend] = first[0]
                print(f"fsguard {backend}: first load {first[0]:.3f} s (fetch+parse+validate+cache "
                      f"{first[1]['fetch']:.3f} s + merge+subtract+render+load {first[1]['load']:.3f} s, "
                      f"{int(first[1]['entries'])} set entries); reload replacing a loaded set {reload_[0]:.3f} s "
                      f"({reload_[0] / floor:.2f}x floor)")
            worst = max(results.values())
            times = arithmetic(entries)
            hand = times["hand (fsguard)"]
            for name, secs in times.items():
                proj = results["nftables"] - hand + secs
                print(f"address arithmetic {name}: {secs:.3f} s for {n} entries ({secs / hand:.1f}x hand); "
                      f"nftables first load with it ~{proj:.3f} s ({proj / floor:.2f}x floor, goal <= 2x: "
                      f"{'met' if proj <= 2 * floor else 'NOT met'})")
            print(f"RESULT feed load {n} entries download->kernel: nftables {results['nftables']:.3f} s "
                  f"({results['nftables'] / floor:.2f}x), iptables {results['iptables']:.3f} s "
                  f"({results['iptables'] / floor:.2f}x) vs floor (bare ipset restore) {floor:.3f} s; "
                  f"worst ratio {worst / floor:.2f}x (goal <= 2x)")
    finally:
        ns.close()
        srv.close()


if __name__ == "__main__":
    main()
