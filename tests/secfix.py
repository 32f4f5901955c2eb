"""An unprivileged attacker for the security tests: a real user (useradd), removed afterwards,
and a world-traversable temp dir its trees live in (pytest's own tmp dirs are root-only 0700)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Attacker:
    name: str
    uid: int
    gid: int

    def run(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Python code run as the attacker (argv[1:] = args), never as root."""
        return subprocess.run(["/usr/bin/python3", "-I", "-c", code, *args], user=self.uid, group=self.gid,
                              extra_groups=[], capture_output=True, text=True, timeout=60, cwd="/")

    def chown_tree(self, path: Path) -> None:
        """What FusionPBX's freeswitch.service does on every start: the tree becomes the user's."""
        subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(path)], check=True)


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd")
    name = "fsgatk" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
                   check=True, capture_output=True)
    try:
        out = subprocess.run(["id", "-u", name], check=True, capture_output=True, text=True).stdout
        gid = subprocess.run(["id", "-g", name], check=True, capture_output=True, text=True).stdout
        yield Attacker(name, int(out), int(gid))
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp dir every user can traverse (but not write)."""
    d = Path(tempfile.mkdtemp(prefix="fsg-sec-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def owner_mode(p: Path) -> tuple[int, int, int]:
    st = os.lstat(p)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def root_secret(d: Path, name: str = "secret") -> tuple[Path, bytes]:
    """A root-only file in a root-only directory: what the attacker tries to reach."""
    vault = d / "vault"
    vault.mkdir(mode=0o700, exist_ok=True)
    os.chmod(vault, 0o700)
    p = vault / name
    data = b"root's own data " + uuid.uuid4().hex.encode()
    p.write_bytes(data)
    os.chmod(p, 0o600)
    return p, data
