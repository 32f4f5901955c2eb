"""The fail2ban benchmarks run (``--quick``) and print their figure last, with its ratio.

No timing is asserted here: the goals live in the benchmarks' own output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
NEEDS_ROOT = os.geteuid() != 0 or not shutil.which("fail2ban-server")


def _run(name: str) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / name), "--quick"], cwd=BENCH, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_bench_filters_quick() -> None:
    last = _run("bench_f2b_filters.py")
    assert last.startswith("RESULT filters") and "x Debian's freeswitch filter" in last
    assert "1.10.7+ log: fsguard-events" in last and "Debian 0" in last  # stock filter: 0 on 1.10.7+


@pytest.mark.skipif(NEEDS_ROOT, reason="needs root and fail2ban")
def test_bench_ingest_quick() -> None:
    last = _run("bench_f2b_ingest.py")
    assert last.startswith("RESULT ingest") and "x of (a) no whitelisting" in last


@pytest.mark.skipif(NEEDS_ROOT or not shutil.which("nft"), reason="needs root, fail2ban and nftables")
def test_bench_latency_quick() -> None:
    last = _run("bench_f2b_latency.py")
    assert last.startswith("RESULT latency") and "p95" in last and "x the 1.5 s goal" in last
