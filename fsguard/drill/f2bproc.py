"""A private fail2ban-server for the simulated drill (shared/reference/fail2ban.md, last section).

Its own config dir, socket and pid file under the drill's work dir, started inside the PBX
namespace (``ip netns exec``), so the firewall commands its actions run hit the namespace's ruleset
and never the host's. Always Debian's fail2ban (the venv sees Debian's dist-packages).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from fsguard.drill.ledger import Ledger, proc_start_time


class Fail2banError(Exception):
    """The private fail2ban-server did not start or did not answer."""


class PrivateFail2ban:
    def __init__(self, conf_dir: Path, run_dir: Path, *, netns: str | None, env: dict[str, str],
                 sock: Path | None = None) -> None:
        self.conf_dir = conf_dir
        self.sock = sock or run_dir / "f2b.sock"
        self.pidfile = run_dir / "f2b.pid"
        self.logfile = run_dir / "fail2ban-server.log"
        self.netns = netns
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def start(self, ledger: Ledger, timeout: float = 20.0) -> None:
        argv = self._prefix() + ["fail2ban-server", "-f", "-x", "-c", str(self.conf_dir), "-s", str(self.sock),
                                 "-p", str(self.pidfile), "--logtarget", str(self.logfile)]
        # `ip netns exec` execs the command: the pid we record is fail2ban-server's own.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=self.env, start_new_session=True)
        ledger.record("process", pid=self.proc.pid, start=_wait_start(self.proc.pid), what="fail2ban-server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail2banError(f"fail2ban-server exited ({self.proc.returncode}): {self.tail()}")
            if self.sock.exists() and self.client(["ping"], check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise Fail2banError(f"fail2ban-server did not answer within {timeout:.0f} s: {self.tail()}")

    def tail(self, n: int = 6) -> str:
        try:
            lines = self.logfile.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-n:])

    def client(self, args: Sequence[str], *, check: bool = True,
               timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        argv = ["fail2ban-client", "-c", str(self.conf_dir), "-s", str(self.sock)] + list(args)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env, check=False)
        if check and proc.returncode != 0:
            raise Fail2banError(f"fail2ban-client {' '.join(args)}: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def jails(self) -> list[str]:
        out = self.client(["status"]).stdout
        m = re.search(r"Jail list:\s*(.*)", out)
        return [j.strip() for j in (m.group(1).split(",") if m else []) if j.strip()]

    def status(self, jail: str) -> dict[str, int]:
        """Currently/Total failed and banned counters of a jail."""
        out = self.client(["status", jail]).stdout
        counts: dict[str, int] = {}
        for key in ("Currently failed", "Total failed", "Currently banned", "Total banned"):
            m = re.search(re.escape(key) + r":\s*(\d+)", out)
            counts[key.lower().replace(" ", "_")] = int(m.group(1)) if m else 0
        return counts

    def banned_in(self, ip: str) -> list[str]:
        """The jails that hold a ban of ``ip`` (fail2ban's view, before the firewall's)."""
        return [j for j in self.jails() if self.client(["get", j, "banned", ip], check=False).stdout.strip() == "1"]

    def ignore_list(self, jail: str) -> list[str]:
        out = self.client(["get", jail, "ignoreip"], check=False).stdout
        return [ln.strip(" |`-\t") for ln in out.splitlines()[1:] if ln.strip(" |`-\t")]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if not self.sock.exists() or self.client(["stop"], check=False, timeout=15).returncode != 0:
                self.proc.terminate()  # not answering yet (interrupted while starting): SIGTERM
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _wait_start(pid: int) -> str | None:
    for _ in range(50):
        st = proc_start_time(pid)
        if st is not None:
            return st
        time.sleep(0.01)
    return None


def base_env(config_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FSGUARD_CONFIG"] = str(config_path)
    return env
