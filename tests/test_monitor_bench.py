"""The fs_python benchmarks run (--quick) and print their figure last with a ratio (shape only)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script,pattern", [
    ("bench_monitor.py",
     r"^monitor throughput: \d+ events/s = [\d.]+x the 20000 events/s goal, 0 lost \((met|NOT met)\)$"),
    ("bench_not_found.py", r"^not_found handler cost: [\d.]+ us/call = [\d.]+x the 100 us goal \((met|NOT met)\)$"),
    ("bench_ignore_check.py", r"^ignore-check with 2000 registrations \+ 200 whitelist entries: [\d.]+ ms = [\d.]+x "
                              r"python3 -c pass \([\d.]+ ms\), goal 1.5x \((met|NOT met)\)$"),
])
def test_benchmark_quick_prints_figure_last(script: str, pattern: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert re.match(pattern, last), out
    assert "LOSS" not in out
