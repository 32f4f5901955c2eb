"""Shared helpers for the perimeter/firewall benchmarks: synthetic feeds, a local HTTP server, a
throwaway namespace (prefix fsg4-), and a config pointing at both."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fs_python import config
from fsguard.perimeter.addr import Policy


def synthetic_feed(n: int, seed: int = 1, net_share: float = 0.03) -> list[str]:
    """``n`` distinct valid entries: mostly single public IPv4 addresses, some /16-/29 networks
    (roughly VoIPBL's shape), never in a refused range."""
    rng = random.Random(seed)
    pol = Policy()
    out: set[str] = set()
    while len(out) < n:
        v = rng.randrange(1 << 24, 223 << 24)
        if rng.random() < net_share:
            plen = rng.choice((16, 20, 22, 24, 24, 24, 28, 29))
            v &= ~((1 << (32 - plen)) - 1)
            text = f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}/{plen}"
            if pol.check(4, v, v + (1 << (32 - plen)) - 1):
                continue
        else:
            if pol.check(4, v, v):
                continue
            text = f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
        out.add(text)
    return sorted(out)


class FeedServer:
    def __init__(self, body: bytes) -> None:
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/feed.txt"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


class Netns:
    def __init__(self, tag: str) -> None:
        # FSG4_NETNS_RUN: a marker the test running the benchmarks looks for (its own leftovers only)
        self.name = f"fsg4-{tag}{os.environ.get('FSG4_NETNS_RUN', '')[:4]}{uuid.uuid4().hex[:6]}"
        sh("ip", "netns", "add", self.name)
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *argv: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.name, *argv, input=input, check=check)

    def close(self) -> None:
        sh("ip", "netns", "del", self.name, check=False)


def sh(*argv: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(list(argv), input=input, capture_output=True, text=True, check=False)
    if check and p.returncode:
        raise RuntimeError(f"{' '.join(argv[:6])}: {p.stderr.strip()[:300]}")
    return p


def make_cfg(tmp: Path, backend: str, feed_url: str, extra: str = "") -> config.Config:
    p = tmp / f"fsguard-{backend}.conf"
    p.write_text(
        f"[fsguard]\nstate_dir = {tmp / ('state-' + backend)}\n[firewall]\nbackend = {backend}\n{extra}"
        f"[feeds]\nvoipbl = no\nextra = bench={feed_url}\nretries = 0\n"
        f"[carriers]\ncidrs = 203.0.113.7\n")
    return config.load(p)
