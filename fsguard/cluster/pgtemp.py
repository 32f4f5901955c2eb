"""A throwaway PostgreSQL (initdb + pg_ctl as the postgres user, trust auth on 127.0.0.1, its own
port and socket dir in a temp dir): for ``fsguard drill --simulate --nodes N``, the cluster tests
and the benchmark, which stop and start it without touching any other cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p.name for p in base.iterdir() if p.name.isdigit()), key=int) if base.is_dir() else []
    return base / (versions[-1] if versions else "0") / "bin"


class PrivatePG:
    def __init__(self, *, fsync: bool = False) -> None:
        if not (pg_bin() / "initdb").exists():
            raise RuntimeError("PostgreSQL server binaries not installed (initdb)")
        with socket.socket() as s:  # a free port now (the kernel picks it)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.fsync = "on" if fsync else "off"
        self.dir = Path(tempfile.mkdtemp(prefix="fsg-pg-"))
        try:
            shutil.chown(self.dir, "postgres", "postgres")
            self.data = self.dir / "data"
            self._pg("initdb", "-D", str(self.data), "-U", "fsg", "--auth=trust", "-E", "UTF8")
            self.start()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _pg(self, tool: str, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(pg_bin() / tool), *argv], check=True,
                       capture_output=True, cwd="/", env=dict(os.environ, LC_ALL="C.UTF-8"))

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={self.fsync}", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def params(self) -> dict[str, str]:
        return {"host": "127.0.0.1", "port": str(self.port), "user": "fsg", "password": "", "dbname": "postgres"}

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)
