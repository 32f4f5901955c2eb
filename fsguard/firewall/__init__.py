"""fsguard's firewall: its own kernel sets and chains, built as data and rendered per backend.

Public entry points (contract 4 in ARCHITECTURE.md):

* :func:`apply` renders the whole ruleset from config + lists and loads it atomically, rolling
  back to the last good ruleset when loading fails;
* :mod:`fsguard.firewall.bans` adds/removes/tests dynamic bans (used by the fail2ban action);
* :mod:`fsguard.firewall.accept` keeps the registered-customer accept sets current (the service).

Backends: one class each (:mod:`fsguard.firewall.backend`), chosen in :mod:`.registry` only.

Every command runs through :func:`run` with an argument list (never a shell), optionally inside a
network namespace (``ip netns exec NAME``), which is how the tests and the drill use it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fs_python.config import Config

NFT_TABLE = "fsguard"  # table "inet fsguard"
_NETNS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class FirewallError(Exception):
    """A firewall command failed or the ruleset could not be loaded (the old one stays)."""


def backend_name(cfg: Config) -> str:
    from fsguard.firewall import registry

    return registry.backend_name(cfg)


def netns_prefix(netns: str | None) -> list[str]:
    if netns is None:
        return []
    if not _NETNS_RE.match(netns):
        raise FirewallError(f"invalid network namespace name: {netns!r}")
    return ["ip", "netns", "exec", netns]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run one command (argument list, no shell); raise FirewallError on failure when ``check``."""
    cmd = netns_prefix(netns) + list(argv)
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise FirewallError(f"{argv[0]}: command not found (is it installed?)") from None
    except subprocess.TimeoutExpired:
        raise FirewallError(f"{argv[0]}: timed out after {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise FirewallError(f"{' '.join(argv[:3])}: " + ("; ".join(msg[:5]) or f"exit {proc.returncode}"))
    return proc


def apply(cfg: Config, *, netns: str | None = None) -> Any:
    """Build the ruleset from config + lists and load it atomically (rollback on failure)."""
    from fsguard.firewall import engine

    return engine.apply(cfg, netns=netns)
