"""Publishing this node's decisions: straight into PostgreSQL, or into the outbox when it is down.

Each decision is applied idempotently and announced with ``pg_notify`` in the same transaction
(PostgreSQL delivers the notification at commit, so a listener never sees a decision whose row it
cannot read yet):

- ``ban``: insert keyed uuid5(node, ip, jail, start) ``on conflict do nothing``; a replay inserts
  nothing and announces nothing.
- ``prolong``: new planned end of this node's open row(s) for (ip, jail).
- ``unban``: closes open rows of the ip that started before the decision (``scope`` ``node``:
  this node's row in one jail, fail2ban's own expiry; ``all``: every node's, an operator's unban).
  A replay finds nothing open and announces nothing (an operator's unban is announced always).
- ``lists``: the admin lists changed; every node rebuilds its snapshot and ruleset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from fsguard import cluster
from fsguard.cluster.outbox import Item, Outbox

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.cluster")
RETRY_AFTER = 5.0  # after a failed connection, decisions go to the outbox for this long


def _notify(store: Store, payload: dict[str, Any]) -> None:
    store.query("select pg_notify(:ch, :p)", {"ch": cluster.CHANNEL, "p": json.dumps(payload)})


def apply_decision(store: Store, node: str, kind: str, b: dict[str, Any]) -> bool:
    """Write one decision (inside the caller's transaction); return whether it changed anything."""
    if kind == "ban":
        n = store.execute(
            "insert into v_fsguard_cluster_bans (fsguard_cluster_ban_uuid, node_name, ip_address, jail, "
            "ban_start, ban_end, ban_seconds, ban_status, published_at, insert_date) values (:id, :node, :ip, "
            ":jail, :start, :end, :secs, 'banned', :t, now()) on conflict (fsguard_cluster_ban_uuid) do nothing",
            dict(b, id=cluster.ban_key(node, b["ip"], b["jail"], b["start"]), node=node))
        if n:
            # the evidence row names the deciding node (a node name need not be the host name)
            store.execute("update v_fsguard_bans set hostname = :node where ip_address = :ip and jail = :jail "
                          "and ban_start = :start and hostname is distinct from :node", dict(b, node=node))
            _notify(store, {"k": "ban", "n": node, "ip": b["ip"], "j": b["jail"], "end": b["end"], "t": b["t"]})
        return bool(n)
    if kind == "prolong":
        n = store.execute(
            "update v_fsguard_cluster_bans set ban_seconds = :secs, ban_end = " +
            ("null" if b["secs"] is None else "ban_start + :secs") +
            ", update_date = now() where node_name = :node and ip_address = :ip and jail = :jail "
            "and ban_status = 'banned'", dict(b, node=node))
        row = store.query_one("select max(ban_end) as e, bool_or(ban_end is null) as p from v_fsguard_cluster_bans "
                              "where node_name = :node and ip_address = :ip and jail = :jail and "
                              "ban_status = 'banned'", dict(b, node=node)) if n else None
        if row is not None:
            _notify(store, {"k": "ban", "n": node, "ip": b["ip"], "j": b["jail"],
                            "end": None if row["p"] else row["e"], "t": b["t"]})
        return bool(n)
    if kind == "unban":
        sql = ("update v_fsguard_cluster_bans set ban_status = 'unbanned', unban_time = :t, unban_node = :node, "
               "unban_reason = :reason, update_date = now() where ip_address = :ip and ban_status = 'banned' "
               "and ban_start <= :t")
        if b["scope"] == "node":
            sql += " and node_name = :node and jail = :jail"
        n = store.execute(sql, dict(b, node=node))
        if n or b["scope"] == "all":
            _notify(store, {"k": "unban", "n": node, "ip": b["ip"], "op": b["scope"] == "all", "t": b["t"]})
        return bool(n)
    if kind == "lists":
        _notify(store, {"k": "lists", "n": node, "t": b["t"]})
        return True
    raise ValueError(f"unknown cluster decision {kind!r}")


class Publisher:
    """One per process and config: a lazily opened connection, the outbox, one lock."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.node = cluster.node_name(cfg)
        self.outbox = Outbox(cfg.state_dir / "cluster" / "outbox.db")
        self._store: Store | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _db(self) -> Store:
        if self._store is None:
            self._store = cluster.connect(self.cfg)
        return self._store

    def _send(self, items: list[Item]) -> None:
        store = self._db()
        try:
            with store.transaction():
                for kind, body in items:
                    apply_decision(store, self.node, kind, body)
        except Exception:
            self._drop()
            raise

    def _drop(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._store.close()
        self._store = None
        self._down_until = time.monotonic() + RETRY_AFTER

    def submit(self, kind: str, body: dict[str, Any]) -> bool:
        """Publish one decision; True when it reached PostgreSQL now, False when it waits in the
        outbox (order kept: while the outbox holds anything, new decisions queue behind it)."""
        body = dict(body, t=body.get("t") or time.time())
        with self._lock:
            if time.monotonic() >= self._down_until:
                if self.outbox.size() == 0:
                    try:
                        self._send([(kind, body)])
                        return True
                    except Exception as exc:
                        log.warning("cluster: PostgreSQL unreachable, decision kept in the outbox: %s", exc)
                else:
                    self.outbox.add(kind, body)
                    try:
                        self.outbox.drain(self._send)
                        return True
                    except Exception as exc:
                        log.warning("cluster: PostgreSQL unreachable, outbox kept: %s", exc)
                        return False
            self.outbox.add(kind, body)
            return False

    def flush(self) -> int:
        """Replay the outbox; return how many decisions went out (0 while the database is down)."""
        with self._lock:
            try:
                if self.outbox.size() == 0:
                    return 0
                self._down_until = 0.0
                return self.outbox.drain(self._send)
            except Exception as exc:
                log.info("cluster: outbox kept (%d): %s", self.outbox.size(), exc)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self.outbox.close()


_publishers: dict[tuple[str, str], Publisher] = {}
_plock = threading.Lock()


def publisher(cfg: Config) -> Publisher:
    key = (str(cfg.path), cluster.node_name(cfg))
    with _plock:
        pub = _publishers.get(key)
        if pub is None:
            pub = _publishers[key] = Publisher(cfg)
        return pub


def close_all() -> None:
    with _plock:
        for pub in _publishers.values():
            pub.close()
        _publishers.clear()
