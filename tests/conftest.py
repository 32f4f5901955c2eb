"""Suite-wide guard: tests never write into the host's own fsguard/fail2ban paths.

fsguard's defaults are host paths (`/var/lib/fsguard`, `/etc/fail2ban/jail.d`, `/etc/fsguard`), so a
test whose config forgets a key quietly writes to the machine it runs on (and a host with fsguard
installed would then have its real state changed by CI). Every test is checked: the test that
changed one of these paths fails, naming the path.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

WATCHED = (Path("/etc/fsguard"), Path("/var/lib/fsguard"), Path("/etc/fail2ban/jail.d"),
           Path("/etc/fail2ban/filter.d"), Path("/etc/fail2ban/action.d"), Path("/usr/lib/fsguard"),
           Path("/usr/local/sbin/fsguard"))


def _state() -> dict[str, tuple[int, int, int]]:
    out: dict[str, tuple[int, int, int]] = {}
    for top in WATCHED:
        paths = [top]
        if top.is_dir():
            paths += [top / n for n in sorted(os.listdir(top)) if n.startswith(("fsguard", "."))
                      or top.name in ("fsguard",)]
        for p in paths:
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p)] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return out


@pytest.fixture(autouse=True)
def _host_paths_untouched() -> Iterator[None]:
    before = _state()
    yield
    after = _state()
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"this test wrote into the host's own paths (give its config a temp path): {changed}"


@pytest.fixture
def netns() -> Iterator[str]:
    """A throwaway network namespace (fail2ban's action bans into its sets), always deleted."""
    name = "fsg3-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
