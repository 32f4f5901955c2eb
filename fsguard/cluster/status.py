"""``fsguard cluster status``: nodes, last seen, bans per node, replication lag, outbox size."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fsguard import cluster
from fsguard.cluster.outbox import Outbox

if TYPE_CHECKING:
    from fs_python.config import Config

ALIVE = 30.0  # seconds since the last heartbeat (service ticks every 5 s)


@dataclass
class NodeRow:
    node: str
    alive: bool
    last_seen_age: float | None  # seconds, by the database clock
    bans_in_force: int
    bans_decided: int
    apply_lag: float | None  # median seconds from a remote decision to this node's kernel add
    outbox: int
    registrations: int


@dataclass
class ClusterStatus:
    node: str
    local_outbox: int
    database: str = "ok"
    nodes: list[NodeRow] = field(default_factory=list)


def status(cfg: Config) -> ClusterStatus:
    """What the shared database says, plus this node's own outbox (readable with the database down)."""
    box = Outbox(cfg.state_dir / "cluster" / "outbox.db")
    try:
        res = ClusterStatus(cluster.node_name(cfg), box.size())
    finally:
        box.close()
    try:
        store = cluster.connect(cfg)
    except Exception as exc:
        res.database = f"unreachable: {exc}"
        return res
    try:
        now = time.time()
        rows = store.query(
            "select n.node_name, extract(epoch from now()) - n.last_seen as age, n.apply_lag, n.outbox_size, "
            "(select count(*) from v_fsguard_cluster_bans b where b.node_name = n.node_name) as decided, "
            "(select count(*) from v_fsguard_cluster_bans b where b.node_name = n.node_name and "
            " b.ban_status = 'banned' and (b.ban_end is null or b.ban_end > :now)) as in_force, "
            "(select count(*) from v_fsguard_cluster_registrations r where r.node_name = n.node_name and "
            " r.expires > :now) as regs "
            "from v_fsguard_cluster_nodes n order by n.node_name", {"now": now})
    finally:
        store.close()
    for r in rows:
        age = None if r["age"] is None else float(r["age"])
        res.nodes.append(NodeRow(
            str(r["node_name"]), age is not None and age < ALIVE, age, int(r["in_force"]), int(r["decided"]),
            None if r["apply_lag"] is None else float(r["apply_lag"]), int(r["outbox_size"] or 0), int(r["regs"])))
    return res


def text(res: ClusterStatus) -> str:
    out = [f"this node: {res.node}   database: {res.database}   local outbox: {res.local_outbox}"]
    if res.nodes:
        out.append(f"{'node':<20} {'state':<6} {'last seen':>10} {'bans now':>9} {'decided':>8} "
                   f"{'lag p50':>8} {'outbox':>7} {'regs':>6}")
    for n in res.nodes:
        seen = "-" if n.last_seen_age is None else f"{n.last_seen_age:.0f}s ago"
        lag = "-" if n.apply_lag is None else f"{n.apply_lag * 1000:.0f}ms"
        out.append(f"{n.node:<20} {'up' if n.alive else 'DOWN':<6} {seen:>10} {n.bans_in_force:>9} "
                   f"{n.bans_decided:>8} {lag:>8} {n.outbox:>7} {n.registrations:>6}")
    return "\n".join(out)
