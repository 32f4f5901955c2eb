"""UDP packets/s to port 5060 through fsguard's ruleset holding 100,000 blocked entries vs an
empty ruleset (goal >= 0.9x), on both backends; with one-rule-per-IP chains of 10,000 rules
(FusionPBX Event Guard's way, nft and iptables) measured alongside.

A client namespace floods UDP to 5060 (hping3, from an address on no list); an observer counter
in a separate nft table at a later priority counts what passes the input hook; packets/s =
counted / seconds. Scenarios are interleaved and repeated, medians reported.

Run as root: ``.venv/bin/python benchmarks/bench_packets.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.benchlib import Netns, make_cfg, sh, synthetic_feed  # noqa: E402
from fsguard.firewall import engine  # noqa: E402
from fsguard.perimeter import feeds  # noqa: E402

PBX, CLIENT = "198.18.0.1", "198.18.0.2"


class Pair:
    def __init__(self) -> None:
        self.pbx, self.client = Netns("pp"), Netns("pc")
        tag = self.pbx.name[-6:]
        sh("ip", "link", "add", f"vp{tag}", "netns", self.pbx.name, "type", "veth", "peer", "name", f"vc{tag}",
           "netns", self.client.name)
        self.pbx.exec("ip", "addr", "add", f"{PBX}/24", "dev", f"vp{tag}")
        self.pbx.exec("ip", "link", "set", f"vp{tag}", "up")
        self.client.exec("ip", "addr", "add", f"{CLIENT}/24", "dev", f"vc{tag}")
        self.client.exec("ip", "link", "set", f"vc{tag}", "up")
        self.pbx.exec("nft", "add table inet fsg4obs; add chain inet fsg4obs c "
                      "{ type filter hook input priority 100; }; add rule inet fsg4obs c udp dport 5060 counter")
        # a bound socket that is never read: the realistic path (socket lookup), no ICMP replies
        self.sink = subprocess.Popen(["ip", "netns", "exec", self.pbx.name, "python3", "-c",
                                      "import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                                      "s.bind(('0.0.0.0',5060));time.sleep(3600)"])
        time.sleep(0.2)

    def counted(self) -> int:
        out = json.loads(self.pbx.exec("nft", "-j", "list", "chain", "inet", "fsg4obs", "c").stdout)
        for item in out["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    return int(expr["counter"]["packets"])
        return 0

    def flood(self, seconds: float) -> float:
        before = self.counted()
        t = time.perf_counter()
        # one flow 5060 -> 5060, as SIP traffic is (hping3 would otherwise change source port per packet)
        p = subprocess.Popen(["ip", "netns", "exec", self.client.name, "hping3", "--udp", "--flood", "-q", "-k",
                              "-s", "5060", "-p", "5060", "-d", "64", PBX],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        p.terminate()
        p.wait()
        dt = time.perf_counter() - t
        return (self.counted() - before) / dt

    def close(self) -> None:
        self.sink.kill()
        self.sink.wait()
        self.client.close()
        self.pbx.close()


def per_ip_nft(pair: Pair, ips: list[str]) -> None:
    rules = "".join(f"  ip saddr {ip} counter drop\n" for ip in ips)
    pair.pbx.exec("nft", "-f", "-", input="table inet filter {\n chain input { type filter hook input priority 0; }\n"
                  " chain sip-auth-fail {\n" + rules + " }\n}\nadd rule inet filter input jump sip-auth-fail\n")


def per_ip_ipt(pair: Pair, ips: list[str]) -> None:
    text = "*filter\n:sip-auth-fail - [0:0]\n-A INPUT -j sip-auth-fail\n" + "".join(
        f"-A sip-auth-fail -s {ip}/32 -j DROP\n" for ip in ips) + "COMMIT\n"
    pair.pbx.exec("iptables-restore", "--noflush", input=text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float)
    args = ap.parse_args()
    n_feed, n_rules = (2000, 500) if args.quick else (100_000, 10_000)
    seconds, reps = (0.5, 1) if args.quick else (2.0, 3)
    if args.seconds:
        seconds = args.seconds
    entries = synthetic_feed(n_feed, seed=5)
    pol = feeds.Policy()
    ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for e in entries:
        fam, s, t = pol.validate(e)
        ranges[fam].append((s, t))
    rng = random.Random(9)
    ips = [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
           for _ in range(n_rules)]
    tmp = Path(tempfile.mkdtemp(prefix="fsg4-bench-"))

    def fsguard(backend: str, extra: str = "") -> Callable[[Pair], None]:
        def setup(pair: Pair) -> None:
            d = tmp / f"{backend}{time.monotonic_ns()}"
            d.mkdir()
            cfg = make_cfg(d, backend, "http://127.0.0.1:9/unused", extra)
            engine.apply(cfg, netns=pair.pbx.name, feed_ranges={"bench": ranges})
        return setup

    def conntrack_on(pair: Pair) -> None:
        pair.pbx.exec("nft", "add table inet fsg4ct; add chain inet fsg4ct c { type filter hook input priority 0; }; "
                      "add rule inet fsg4ct c ct state new counter")

    scenarios: dict[str, Callable[[Pair], None]] = {
        "empty ruleset": lambda pair: None,
        "empty ruleset + conntrack on": conntrack_on,
        f"fsguard nftables ({n_feed} blocked)": fsguard("nftables"),
        f"fsguard iptables ({n_feed} blocked)": fsguard("iptables"),
        f"fsguard nftables, new_without_syn=no ({n_feed})": fsguard("nftables", "new_without_syn = no\n"),
        f"one nft rule per IP ({n_rules} rules)": lambda pair: per_ip_nft(pair, ips),
        f"one iptables rule per IP ({n_rules} rules)": lambda pair: per_ip_ipt(pair, ips),
    }
    rates: dict[str, list[float]] = {k: [] for k in scenarios}
    for _ in range(reps):
        for name, setup in scenarios.items():
            pair = Pair()
            try:
                setup(pair)
                rates[name].append(pair.flood(seconds))
            finally:
                pair.close()
    base = statistics.median(rates["empty ruleset"])
    for name, xs in rates.items():
        m = statistics.median(xs)
        print(f"{name:<44} {m:>10.0f} pkt/s  ({m / base:.2f}x empty)  runs: {', '.join(f'{x:.0f}' for x in xs)}")
    nft_r = statistics.median(rates[f"fsguard nftables ({n_feed} blocked)"]) / base
    ipt_r = statistics.median(rates[f"fsguard iptables ({n_feed} blocked)"]) / base
    ct_base = statistics.median(rates["empty ruleset + conntrack on"])
    stateless = statistics.median(rates[f"fsguard nftables, new_without_syn=no ({n_feed})"]) / base
    print(f"RESULT UDP to 5060 through fsguard with {n_feed} blocked entries: nftables {nft_r:.2f}x, iptables "
          f"{ipt_r:.2f}x the empty ruleset ({base:.0f} pkt/s); vs empty + conntrack (any stateful host) "
          f"nftables {nft_r * base / ct_base:.2f}x, iptables {ipt_r * base / ct_base:.2f}x; stateless fsguard "
          f"(new_without_syn=no) {stateless:.2f}x; worst {min(nft_r, ipt_r):.2f}x (goal >= 0.9x)")


if __name__ == "__main__":
    main()
