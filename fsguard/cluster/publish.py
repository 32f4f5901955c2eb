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
from fsguard.cluster.outbox import BATCH, Item, Outbox

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
        # One statement, one round trip (the common case: fail2ban's action, database up): the
        # row, the evidence row naming the deciding node (a node name need not be the host name)
        # and the notification, the latter two only if the row is new.
        payload = {"k": "ban", "n": node, "ip": b["ip"], "j": b["jail"], "end": b["end"], "t": b["t"]}
        rows = store.query(
            "with ins as (insert into v_fsguard_cluster_bans (fsguard_cluster_ban_uuid, node_name, ip_address, "
            "jail, ban_start, ban_end, ban_seconds, ban_status, published_at, insert_date) values (:id, :node, :ip, "
            ":jail, :start, :end, :secs, 'banned', :t, now()) on conflict (fsguard_cluster_ban_uuid) do nothing "
            "returning 1), ev as (update v_fsguard_bans set hostname = :node where exists (select 1 from ins) "
            "and ip_address = :ip and jail = :jail and ban_start = :start and hostname is distinct from :node "
            "returning 1) select pg_notify(:ch, :p) from ins",
            dict(b, id=cluster.ban_key(node, b["ip"], b["jail"], b["start"]), node=node, ch=cluster.CHANNEL,
                 p=json.dumps(payload)))
        return bool(rows)
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
    """One per process and config: a worker thread with a lazily opened connection, the outbox.

    ``submit`` queues a decision in memory and (unless ``wait``) returns at once: fail2ban's
    action never waits for the database, and decisions that arrive while one is being written
    go out together in one transaction (one commit for a burst, not one each). A decision lost
    from memory by a crash of fail2ban-server comes back: fail2ban restores its bans at start and
    calls the action again, with the same ban start, so the same key."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.node = cluster.node_name(cfg)
        self.outbox = Outbox(cfg.state_dir / "cluster" / "outbox.db")
        self._store: Store | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()  # the connection and the outbox drain
        self._cv = threading.Condition()
        self._queue: list[tuple[Item, threading.Event]] = []
        self._current: list[tuple[Item, threading.Event]] = []  # the batch going out now
        self._worker: threading.Thread | None = None
        self._closed = False
        self._outboxed = False

    def _db(self) -> Store:
        if self._store is None:
            self._store = cluster.connect(self.cfg)
        return self._store

    def _send(self, items: list[Item]) -> None:
        store = self._db()
        try:
            if len(items) == 1 and items[0][0] == "ban":  # one atomic statement: no transaction needed
                apply_decision(store, self.node, *items[0])
                return
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

    # -- the queue ------------------------------------------------------------------------------
    def submit(self, kind: str, body: dict[str, Any], *, wait: bool = True, timeout: float = 10.0) -> None:
        """Publish one decision (into the outbox while PostgreSQL is unreachable; order kept:
        while the outbox holds anything, new decisions queue behind it). ``wait``: return only
        once it is in PostgreSQL or in the outbox (a CLI that exits right after)."""
        done = threading.Event()
        with self._cv:
            if self._closed:
                raise RuntimeError("publisher closed")
            self._queue.append(((kind, dict(body, t=body.get("t") or time.time())), done))
            self._cv.notify()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="fsguard-cluster-publish", daemon=True)
                self._worker.start()
        if wait:
            done.wait(timeout)

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is in PostgreSQL or in the outbox."""
        with self._cv:
            pending = [ev for _, ev in self._current + self._queue]
        return all(ev.wait(timeout) for ev in pending)

    def _work(self) -> None:
        while True:
            with self._cv:
                if not self._queue and not self._closed:
                    self._cv.wait(RETRY_AFTER)
                if not self._queue and self._closed:
                    return
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                self._current = batch
            if not batch:
                if self._outboxed:
                    self.flush()  # the database may be back: replay without waiting for a tick
                continue
            with self._lock:
                self._publish([item for item, _ in batch])
            for _, ev in batch:
                ev.set()

    def _publish(self, items: list[Item]) -> None:
        queued = False
        if time.monotonic() >= self._down_until:
            try:
                if self.outbox.size() == 0:
                    self._send(items)
                    return
                for item in items:
                    self.outbox.add(*item)
                queued = True
                self.outbox.drain(self._send)
                self._outboxed = False
                return
            except Exception as exc:
                log.warning("cluster: PostgreSQL unreachable, decisions kept in the outbox: %s", exc)
        if not queued:
            for item in items:
                self.outbox.add(*item)
        self._outboxed = True

    def flush(self) -> int:
        """Replay the outbox; return how many decisions went out (0 while the database is down)."""
        with self._lock:
            try:
                if self.outbox.size() == 0:
                    self._outboxed = False
                    return 0
                self._down_until = 0.0
                n = self.outbox.drain(self._send)
                self._outboxed = False
                return n
            except Exception as exc:
                self._outboxed = True
                log.info("cluster: outbox kept (%d): %s", self.outbox.size(), exc)
                return 0

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._worker is not None:
            self._worker.join(timeout=15)
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
