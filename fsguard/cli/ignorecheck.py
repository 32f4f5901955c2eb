"""``fsguard ignore-check <ip>``: fail2ban's ignorecommand contract, answered lean.

Exit 0: ignore (whitelisted; the reasons on stdout), 1: not ignored, 2: bad input or config.
fail2ban may run it once per failure, so it loads the config and the whitelist snapshots only
(``fs_python.config`` + ``fs_python.whitelist``, standard library): ``benchmarks/
bench_ignore_check.py`` measures it against a bare interpreter start. ``--json`` goes through the
full CLI (``fsguard.cli.fail2ban.cmd_ignore_check``), which calls :func:`verdict` too.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported: this runs once per fail2ban failure

if TYPE_CHECKING:
    from fs_python.whitelist import Verdict

OK, NOT_IGNORED, BAD_INPUT = 0, 1, 2  # fsguard.cli.exitcodes.Exit values (not imported: enum costs)


def verdict(ip: str) -> Verdict:
    """Raises ValueError (bad address) or fs_python.config.ConfigError."""
    from fs_python import config, whitelist

    return whitelist.check(ip, state_dir=config.load().state_dir)


def run(ip: str, config_path: str | None = None) -> int:
    from fs_python.config import ConfigError

    if config_path:
        os.environ["FSGUARD_CONFIG"] = config_path
    try:
        v = verdict(ip)
    except (ValueError, ConfigError) as exc:
        sys.stderr.write(f"fsguard: {exc}\n")
        return BAD_INPUT
    if v.whitelisted:
        sys.stdout.write("; ".join(v.reasons) + "\n")
        return OK
    return NOT_IGNORED
