"""The cluster side of one node's ``fsguard service``: listener, outbox replay, heartbeat, and
registrations shared both ways (this node's live ones out, every other node's in).

Other nodes' live registrations land in ``<state_dir>/cluster-registrations.json``: the service
merges them into fail2ban's ignore list, and ``fs_python.whitelist`` (inside FreeSWITCH: a file,
never the database) reads them for ``fsguard check``. A node that dies keeps its rows; they stop
shielding anyone when each registration's own expiry passes, not before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from fs_python import eventline, whitelist
from fsguard import cluster, settings
from fsguard.cluster import publish
from fsguard.cluster.listener import Listener

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.cluster")
READY_WAIT = 10.0  # a starting node loads the cluster's bans before its first tick, if it can
PRUNE_AFTER = 7 * 86400


def _local_registrations(cfg: Config, now: float) -> dict[str, dict[str, Any]]:
    """This node's live registrations (the monitor's snapshot), keyed by their cluster key."""
    try:
        # FreeSWITCH's file: untrusted (no symlink, size cap); rows validated below
        data = whitelist.read_json(cfg.fs_dir / whitelist.REGISTRATIONS_FILE)
        rows = data.get("registrations", []) if isinstance(data, dict) else []
    except (OSError, ValueError):
        return {}
    node = cluster.node_name(cfg)
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if not isinstance(r, dict):
            continue
        ip = eventline.normalize_ip(r.get("ip"))
        try:
            expires = float(r.get("expires", 0))
        except (TypeError, ValueError):
            continue
        if ip and expires > now:
            user, realm = str(r.get("user") or "")[:128], str(r.get("realm") or "")[:128]
            out[cluster.reg_key(node, ip, user, realm)] = {"ip": ip, "user": user, "realm": realm, "expires": expires}
    return out


def f2b_unban(cfg: Config) -> Any:
    """An operator's unban from another node, for this node's fail2ban (its action lifts the
    kernel ban and closes the evidence row)."""
    from fsguard.f2b.client import Client

    client = Client(settings.F2B_SOCKET.get(cfg))

    def unban(ip: str) -> None:
        for jail in client.jails():
            if jail.startswith("fsguard") and client.is_banned(jail, ip):
                client.unban(jail, ip)
    return unban


def lists_refresh(cfg: Config, *, feeds: bool = False) -> Any:
    """Admin lists changed on another node (or, ``feeds``, it stored a new fetch of the feeds and
    country data): load them and rebuild the whitelist snapshot and the ruleset here."""
    def refresh() -> None:
        from fsguard.firewall import engine
        from fsguard.perimeter import snapshot
        from fsguard.store import borrowed

        with borrowed(cfg, None) as store:
            if store is None:
                raise RuntimeError("store unreachable: lists not refreshed")
            if feeds:
                from fsguard.cluster import feeds as cluster_feeds

                cluster_feeds.pull(cfg, store)
            snapshot.write_from_store(cfg, store)
            if (engine.state_dir(cfg) / "last-good.json").exists():
                engine.apply(cfg, netns=cluster.netns(cfg), store=store)
    return refresh


class Runtime:
    def __init__(self, cfg: Config, *, listener: Listener | None = None) -> None:
        self.cfg = cfg
        self.node = cluster.node_name(cfg)
        self.listener = listener or Listener(cfg, fail2ban_unban=f2b_unban(cfg), lists_changed=lists_refresh(cfg),
                                             feeds_changed=lists_refresh(cfg, feeds=True))
        self.pub = publish.publisher(cfg)
        self.started_at = time.time()
        self._store: Store | None = None
        self._pushed: dict[str, dict[str, Any]] | None = None
        self._written: list[dict[str, Any]] | None = None
        self._pruned = 0.0

    def start(self, wait: float = READY_WAIT) -> bool:
        """Start listening; wait (bounded) until the bans in force are loaded. False: the
        database is unreachable and the node goes on alone (the listener keeps retrying)."""
        self.listener.start()
        return self.listener.ready.wait(wait)

    def stop(self) -> None:
        self.listener.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    def _db(self) -> Store:
        if self._store is None:
            self._store = cluster.connect(self.cfg)
        return self._store

    def tick(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        errors: list[str] = []
        self.pub.flush()
        try:
            store = self._db()
            self.heartbeat(store)
            self.push_registrations(store, now)
            self.pull_registrations(store, now)
            if now - self._pruned > 3600:
                self.prune(store, now)
                self._pruned = now
        except Exception as exc:
            errors.append(f"cluster: {type(exc).__name__}: {exc}")
            if self._store is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    self._store.close()
                self._store = None
            self._pushed = None  # push everything again once the database is back
        return errors

    def heartbeat(self, store: Store) -> None:
        store.execute(
            "insert into v_fsguard_cluster_nodes (fsguard_cluster_node_uuid, node_name, last_seen, started_at, "
            "outbox_size, apply_lag, bans_applied, insert_date) values (:id, :n, extract(epoch from now()), :s, :o, "
            ":lag, :a, now()) on conflict (fsguard_cluster_node_uuid) do update set last_seen = excluded.last_seen, "
            "started_at = excluded.started_at, outbox_size = excluded.outbox_size, apply_lag = excluded.apply_lag, "
            "bans_applied = excluded.bans_applied, update_date = now()",
            {"id": cluster.node_key(self.node), "n": self.node, "s": self.started_at, "o": self.pub.outbox.size(),
             "lag": self.listener.lag(), "a": self.listener.applied})

    def push_registrations(self, store: Store, now: float) -> None:
        live = _local_registrations(self.cfg, now)
        old = self._pushed or {}
        changed = {k: v for k, v in live.items() if old.get(k) != v}
        if self._pushed is not None and not changed and set(old) == set(live):
            return
        with store.transaction():
            for key, r in changed.items():
                store.execute(
                    "insert into v_fsguard_cluster_registrations (fsguard_cluster_registration_uuid, node_name, "
                    "ip_address, user_name, realm, expires, insert_date) values (:id, :n, :ip, :user, :realm, :exp, "
                    "now()) on conflict (fsguard_cluster_registration_uuid) do update set expires = excluded.expires,"
                    " update_date = now()",
                    {"id": key, "n": self.node, "ip": r["ip"], "user": r["user"], "realm": r["realm"],
                     "exp": r["expires"]})
            store.execute("delete from v_fsguard_cluster_registrations where node_name = :n and "
                          "fsguard_cluster_registration_uuid::text <> all(:keys)",
                          {"n": self.node, "keys": list(live)})
        self._pushed = live

    def pull_registrations(self, store: Store, now: float) -> None:
        rows = store.query(
            "select node_name as node, ip_address as ip, user_name as user, realm, expires "
            "from v_fsguard_cluster_registrations where node_name <> :n and expires > :now "
            "order by ip_address, user_name, realm, node_name", {"n": self.node, "now": now})
        if rows == self._written:
            return
        from fsguard import safefs

        # root's file in root's state dir, readable by FreeSWITCH (fs_python.whitelist)
        safefs.write_text(self.cfg.state_dir / cluster.CLUSTER_REGISTRATIONS_FILE,
                          json.dumps({"written": now, "registrations": rows}), 0o644)
        self._written = rows

    def prune(self, store: Store, now: float) -> None:
        store.execute("delete from v_fsguard_cluster_bans where coalesce(unban_time, ban_end, :now) < :old",
                      {"now": now, "old": now - PRUNE_AFTER})
        store.execute("delete from v_fsguard_cluster_registrations where expires < :old", {"old": now - 86400})


def cluster_rows(cfg: Config) -> list[dict[str, Any]]:
    """Other nodes' registrations (the file :meth:`Runtime.pull_registrations` wrote)."""
    try:
        with open(cfg.state_dir / cluster.CLUSTER_REGISTRATIONS_FILE, encoding="utf-8") as fh:
            rows = json.load(fh).get("registrations", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def cluster_ignore(cfg: Config, now: float) -> set[str]:
    """Other nodes' live registered addresses."""
    out: set[str] = set()
    for r in cluster_rows(cfg):
        try:
            ip = eventline.normalize_ip(r.get("ip"))
            if ip and float(r.get("expires", 0)) > now:
                out.add(ip)
        except (AttributeError, TypeError, ValueError):
            continue
    return out
