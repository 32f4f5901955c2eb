"""How many password guesses a cracker gets answered before fsguard's ban cuts it off.

A password-cracking run as SIPVicious' svcrack does it: one guess after the other against an
existing user, each sent as soon as the previous one was answered (REGISTER, 401 challenge,
REGISTER with the guessed password, 403), from the drill's scanner namespace. Everything else is
real or the reference-true stand-in: the stand-in FreeSWITCH (fsguard.drill.pbx + fsguard.fakefs
with fs_python's real monitor writing the event lines), a private fail2ban-server with fsguard's
rendered jails and action, and fsguard's nftables ban set in the PBX namespace (all created here
and removed again, through the drill's ledger). A guess counts as answered when its 403 came back;
the run ends at the first guess the kernel drops.

Two runs in the same process: fail2ban's ``polling`` backend (what a host without
python3-pyinotify gets: the log is looked at about once a second), then ``auto`` (inotify when
python3-pyinotify is installed, as fsguard's install requires). Goal: at most 10 answered guesses
with maxretry = 5. Printed last: the inotify run's count and its ratio to the goal.
Usage: bench_guesses.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from typing import Any

from fsguard.drill import deps
from fsguard.drill import ledger as ledger_mod
from fsguard.drill.env import SimEnv
from fsguard.drill.runner import undo_item
from fsguard.drill.steps import agent

GOAL = 10
MAX_GUESSES = 3000
REAL_RATE = 63.0  # guesses/s a real FreeSWITCH answered (issue 12: 15-56 guesses in 0.23-0.89 s)


def env_with(backend: str) -> type[SimEnv]:
    class Env(SimEnv):
        def write_config(self, carriers: bool = True) -> None:
            super().write_config(carriers)
            text = self.config_path.read_text(encoding="utf-8")
            self.config_path.write_text(text.replace("[fail2ban]\n", f"[fail2ban]\nbackend = {backend}\n", 1),
                                        encoding="utf-8")
            from fs_python import config as config_mod

            self.cfg = config_mod.load(self.config_path)

    return Env


Result = tuple[int, float, float, bool]


def crack(env: SimEnv) -> Result:
    """(guesses answered, seconds of the attack, seconds from the 5th answered guess (maxretry) to
    the first dropped one, in the kernel set)."""
    scanner = agent(env, "scanner")
    answered = 0
    fifth = 0.0
    t0 = time.monotonic()
    try:
        dropped = False
        for n in range(MAX_GUESSES):
            codes = scanner.register(env.scan_user, env.domain, f"guess{n:04d}")
            if codes[-1] is None:
                dropped = True  # no answer: dropped (the agent already waited its 0.8 s and resent once)
                break
            if codes[-1] == 403:
                answered += 1
                if answered == 5:
                    fifth = time.monotonic()
        took = time.monotonic() - t0 - (scanner.timeout if dropped else 0)  # the last wait is not the attack's
    finally:
        scanner.close()
    latency = t0 + took - fifth if dropped and fifth else float("nan")
    banned = deps.is_banned(env.cfg, env.topo.roles["scanner"], env.topo.pbx_ns)
    return answered, took, latency, banned


def one_run(backend: str) -> Result:
    led = ledger_mod.Ledger(ledger_mod.new_run_id())
    env: Any = None
    try:
        env = env_with(backend)(led)
        env.up()
        broken = [f"{c.name}: {c.detail}" for c in env.setup if c.status != "pass"]
        if broken:
            raise RuntimeError("setup failed: " + "; ".join(broken))
        return crack(env)
    finally:
        problems = env.down() if env is not None else []
        problems += led.undo_all(undo_item)
        if problems:
            print("cleanup problems:", problems)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    has_inotify = subprocess.run(["/usr/bin/python3", "-c", "import pyinotify"], capture_output=True).returncode == 0
    results: dict[str, list[Result]] = {}
    for backend in ("polling", "auto"):
        results[backend] = [one_run(backend) for _ in range(args.runs)]
        for n, took, latency, banned in results[backend]:
            end = "then dropped" if n < MAX_GUESSES else "never dropped (the run stops there)"
            rate = n / took if took > 0 else 0
            print(f"backend {backend:<7}: {n:4d} guesses answered in {took:5.2f} s ({rate:4.0f}/s), "
                  f"{end} {latency:5.2f} s after the 5th (in the kernel ban set: {banned})")
    poll = statistics.median(n for n, _, _, _ in results["polling"])
    fast = statistics.median(n for n, _, _, _ in results["auto"])
    lat = statistics.median(x for _, _, x, _ in results["auto"])
    print(f"auto backend: median {lat:.2f} s from the 5th answered guess to the drop; at a real FreeSWITCH's "
          f"~{REAL_RATE:.0f} answers/s that is {5 + lat * REAL_RATE:.0f} guesses")
    print(f"load average during the runs: {os.getloadavg()[0]:.1f} (2 cores shared: guesses and bans both slow down)")
    print(f"polling backend (no python3-pyinotify): median {poll:.0f} guesses answered before the ban")
    print(f"auto backend ({'inotify' if has_inotify else 'NO pyinotify: polls too'}), maxretry 5: median "
          f"{fast:.0f} guesses answered before the ban = {fast / GOAL:.2f}x the goal of {GOAL} "
          f"({fast / poll if poll else 0:.2f}x the polling run)")


if __name__ == "__main__":
    main()
