"""Several fsguard nodes sharing bans, unbans, registrations and lists through one PostgreSQL.

Additive: nothing here runs without a ``[cluster]`` section, and the single-node code calls in
through :mod:`fsguard.cluster.hooks` only (one line per hook, none of which ever raises).

- ``v_fsguard_cluster_bans``: each node's kernel bans; the key is uuid5(node, ip, jail, start),
  so replaying the outbox (or a multi-master copy) never doubles a row.
- ``NOTIFY fsguard_cluster`` carries each decision; every node runs one listening connection
  (:mod:`fsguard.cluster.listener`) that puts remote bans into its own kernel sets.
- PostgreSQL down: decisions wait in a local SQLite outbox (:mod:`fsguard.cluster.outbox`) in
  the root-only state dir and are replayed in order when it is back.
"""

from __future__ import annotations

import socket
import uuid
from typing import TYPE_CHECKING, Any

from fsguard import settings

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

SECTION = "cluster"
CHANNEL = "fsguard_cluster"
CLUSTER_REGISTRATIONS_FILE = "cluster-registrations.json"  # read by fs_python.whitelist
_NS = uuid.UUID("3b0f6f0e-5a7c-4e55-9d0b-2f6a1c9e8d41")  # uuid5 namespace of fsguard's cluster keys


class ClusterError(Exception):
    """The cluster cannot run with this configuration."""


def enabled(cfg: Config) -> bool:
    return cfg.parser.has_section(SECTION)


def node_name(cfg: Config) -> str:
    return (settings.CLUSTER_NODE.get(cfg) or socket.gethostname())[:64]


def netns(cfg: Config) -> str | None:
    """The namespace holding this node's kernel sets (tests and the drill; None on a host)."""
    return settings.F2B_NETNS.get(cfg) or None


def ban_key(node: str, ip: str, jail: str, start: float) -> str:
    return str(uuid.uuid5(_NS, f"ban\0{node}\0{ip}\0{jail}\0{round(float(start), 3)!r}"))


def node_key(node: str) -> str:
    return str(uuid.uuid5(_NS, f"node\0{node}"))


def reg_key(node: str, ip: str, user: str, realm: str) -> str:
    return str(uuid.uuid5(_NS, f"reg\0{node}\0{ip}\0{user}\0{realm}"))


def connect(cfg: Config, timeout: int = 3) -> Store:
    """A fresh autocommit connection to the shared PostgreSQL (short connect timeout: callers
    fall back to the outbox instead of waiting)."""
    from fsguard.store import Store, StoreError, pg_params

    if cfg.store_kind != "pgsql":
        raise ClusterError("[cluster] needs the PostgreSQL store ([store] kind = pgsql)")
    try:
        import psycopg2
    except ImportError:
        raise StoreError("python3-psycopg2 is not installed") from None
    try:
        params: dict[str, Any] = dict(pg_params(cfg), connect_timeout=timeout)
        conn = psycopg2.connect(**params)
    except psycopg2.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from None
    conn.autocommit = True
    store = Store(conn, "pgsql")
    where = (params.get("host"), params.get("port"), params.get("dbname"))
    if where in _migrated:
        return store
    try:
        with store.transaction():  # nodes starting together: one creates the tables, the others wait
            store.query("select pg_advisory_xact_lock(hashtext('fsguard migrate'))")
            store.migrate()
    except Exception:
        store.close()
        raise
    _migrated.add(where)  # once per process and database: later connections are just a connect
    return store


_migrated: set[tuple[Any, Any, Any]] = set()
