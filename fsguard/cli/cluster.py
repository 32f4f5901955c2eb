"""``fsguard cluster status`` (see fsguard.cluster)."""

from __future__ import annotations

import argparse
from typing import Any

from fs_python import config as fsconfig
from fsguard.cli import output
from fsguard.cli.exitcodes import Exit


def register(sub: Any) -> None:
    p = sub.add_parser("cluster", help="several nodes on one PostgreSQL: nodes, bans per node, lag, outbox")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = acts.add_parser("status", help="nodes, last seen, bans per node, replication lag, outbox size")
    s.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from fsguard import cluster
    from fsguard.cluster import status

    try:
        cfg = fsconfig.load()
    except fsconfig.ConfigError as exc:
        output.error(str(exc))
        return int(Exit.CONFIG_ERROR)
    if not cluster.enabled(cfg):
        output.error("no [cluster] section in the config: this host runs alone")
        return int(Exit.CONFIG_ERROR)
    res = status.status(cfg)
    output.emit(args, res, status.text(res))
    return int(Exit.OK if res.database == "ok" else Exit.STORE_ERROR)
