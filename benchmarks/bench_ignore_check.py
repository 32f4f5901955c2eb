"""``fsguard ignore-check <ip>`` (fail2ban's ignorecommand: it may run once per failure) against a
bare interpreter start, measured in the same run.

Both run as the installed wrapper runs them: the system interpreter, isolated (``python3 -I``),
the product first on sys.path. Reported: modules loaded (``len(sys.modules)`` at exit) and the
median wall time of N runs each, interleaved: with an empty state dir (start-up and imports only)
and with a mid-size PBX's snapshots (2,000 registrations, 200 whitelist entries: the figure).
Goal: within 1.5x of ``python3 -I -c pass``.

Usage: bench_ignore_check.py [--quick]. Prints the ignore-check figure last, with its ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5
PY = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
ENTRY = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from fsguard.cli import main; "
COUNT = "import atexit, sys; atexit.register(lambda: sys.stderr.write('modules=%d\\n' % len(sys.modules))); "


def _cmd(ip: str, count: bool = False) -> list[str]:
    return [PY, "-I", "-c", (COUNT if count else "") + ENTRY + "sys.exit(main())", "ignore-check", ip]


def _bare(count: bool = False) -> list[str]:
    return [PY, "-I", "-c", COUNT if count else "pass"]


def _modules(argv: list[str], env: dict[str, str]) -> int:
    err = subprocess.run(argv, capture_output=True, text=True, env=env, check=False).stderr
    return int(err.strip().rsplit("modules=", 1)[1])


def _time(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 8 if ap.parse_args().quick else 40
    with tempfile.TemporaryDirectory(prefix="fsguard-bench-") as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        # a realistic state dir: 2,000 registrations and 200 whitelist entries in the snapshots
        now = time.time()
        regs = ",".join('{"ip": "198.18.%d.%d", "user": "%d", "realm": "pbx.example.com", "expires": %f}'
                        % (i // 250, i % 250 + 1, 1000 + i, now + 3600) for i in range(2000))
        (state / "fs").mkdir()  # fs_python.whitelist.REGISTRATIONS_PATH: the monitor's snapshot
        (state / "fs" / "registrations.json").write_text('{"version": 1, "written": %f, "registrations": [%s]}'
                                                  % (now, regs))
        nets = ",".join('{"cidr": "203.0.%d.0/24", "source": "allow", "label": "office %d"}' % (i % 250, i)
                        for i in range(200))
        (state / "whitelist.json").write_text('{"version": 1, "written": %f, "entries": [%s]}' % (now, nets))
        conf = Path(tmp) / "fsguard.conf"
        conf.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = b3nchtok3n00\n")
        empty = Path(tmp) / "empty.conf"
        (Path(tmp) / "empty").mkdir()
        empty.write_text(f"[fsguard]\nstate_dir = {Path(tmp) / 'empty'}\nevent_token = b3nchtok3n00\n")
        env = dict(os.environ, FSGUARD_CONFIG=str(conf))
        env0 = dict(os.environ, FSGUARD_CONFIG=str(empty))
        hit = subprocess.run(_cmd("198.18.0.5"), capture_output=True, text=True, env=env, check=False)
        miss = subprocess.run(_cmd("192.0.2.1"), capture_output=True, text=True, env=env, check=False)
        if hit.returncode != 0 or miss.returncode != 1:
            print(f"ignore-check answers wrong: registered -> {hit.returncode} {hit.stderr.strip()}; "
                  f"stranger -> {miss.returncode} {miss.stderr.strip()}")
            return 1
        mods_bare, mods_check = _modules(_bare(True), env), _modules(_cmd("192.0.2.1", True), env)
        for _ in range(3):  # warm the page cache and .pyc files
            _time(_bare(), env)
            _time(_cmd("192.0.2.1"), env)
        bare, check0, check = [], [], []
        for i in range(n):  # interleaved: a load spike on this shared machine hits all three alike
            bare.append(_time(_bare(), env))
            check0.append(_time(_cmd("192.0.2.1"), env0))
            check.append(_time(_cmd("198.18.0.5" if i % 2 else "192.0.2.1"), env))
    b, c0, c = statistics.median(bare), statistics.median(check0), statistics.median(check)
    print(f"interpreter: {PY} -I; {n} runs each, interleaved; medians")
    print(f"python3 -I -c pass: {b * 1000:.1f} ms, {mods_bare} modules")
    print(f"ignore-check modules: {mods_check} ({mods_check - mods_bare} more than the bare interpreter)")
    print(f"ignore-check, empty state dir (start-up and imports only): {c0 * 1000:.1f} ms = {c0 / b:.2f}x")
    ratio = c / b
    print(f"ignore-check with 2000 registrations + 200 whitelist entries: {c * 1000:.1f} ms = {ratio:.2f}x "
          f"python3 -c pass ({b * 1000:.1f} ms), goal {GOAL}x ({'met' if ratio <= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
