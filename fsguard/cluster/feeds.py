"""Feeds and country data: fetched by one node per cycle, stored once, loaded by all.

``fetch_here`` (before ``fsguard feeds update`` fetches): if another node fetched within
``[cluster] feeds_max_age`` (default 3 h), its copies are written into this node's caches and
this node fetches nothing. Otherwise the node that takes the advisory lock fetches (a node that
finds the lock taken waits for that fetch and loads its result); ``share`` then stores the
caches in ``v_fsguard_cluster_files`` and announces them (``NOTIFY``: every node loads them and
rebuilds its ruleset). If the fetching node dies, its session and lock go with it, and the next
node whose cycle comes fetches. Database unreachable: every node fetches on its own, as alone.

Files are the validated caches (``feeds/<name>.json``) and the country files (``countries/*``),
whose bytes travel as latin-1 text (lossless for bytes 1-255; a file holding NUL is not shared).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fsguard import cluster, settings

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.perimeter.update import FeedResult
    from fsguard.store import Store

log = logging.getLogger("fsguard.cluster")
LOCK_KEY = "fsguard feeds fetch"
WAIT = 300  # seconds a node waits for another node's fetch in progress
DIRS = ("feeds", "countries")
_held: dict[str, Store] = {}  # config path -> the session holding the fetch lock


def _files(cfg: Config) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in DIRS:
        base = Path(cfg.state_dir) / d
        for p in sorted(base.glob("*")) if base.is_dir() else []:
            if p.is_file() and not p.name.startswith("."):
                out[f"{d}/{p.name}"] = p
    return out


def pull(cfg: Config, store: Store) -> int:
    """Write the cluster's copies that differ from ours; return how many files changed."""
    have = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in _files(cfg).items()}
    n = 0
    for row in store.query("select file_name, file_sha256 from v_fsguard_cluster_files"):
        name = str(row["file_name"])
        d, _, fname = name.partition("/")
        if d not in DIRS or not fname or "/" in fname or fname.startswith(".") or have.get(name) == row["file_sha256"]:
            continue
        body = store.query_one("select file_body from v_fsguard_cluster_files where file_name = :n", {"n": name})
        if body is None:
            continue
        data = str(body["file_body"]).encode("latin-1")
        if hashlib.sha256(data).hexdigest() != row["file_sha256"]:
            continue  # changed under us: the next pull takes it
        target = Path(cfg.state_dir) / d / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{fname}.cluster.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # fresh mtime: countries.refresh sees a fresh copy, fetches nothing
        n += 1
    return n


def fetch_here(cfg: Config, force: bool = False) -> bool:
    """Whether this node fetches now (True also without a cluster or with the database down)."""
    if not cluster.enabled(cfg):
        return True
    try:
        store = cluster.connect(cfg)
    except Exception as exc:
        log.warning("cluster: database unreachable, fetching feeds alone: %s", exc)
        return True
    try:
        max_age = settings.CLUSTER_FEEDS_MAX_AGE.get(cfg)
        row = store.query_one("select max(fetched_at) as t from v_fsguard_cluster_files")
        fresh = row is not None and row["t"] is not None and time.time() - float(row["t"]) < max_age
        if not force and fresh:
            pull(cfg, store)
            return False
        got = store.query_one("select pg_try_advisory_lock(hashtext(:k)) as ok", {"k": LOCK_KEY})
        if got and got["ok"]:
            _held[str(cfg.path)] = store  # kept open: the lock lives as long as this session
            return True
        # another node is fetching right now: wait for it, then load what it stored
        store.execute(f"set statement_timeout = {WAIT * 1000}")
        store.query("select pg_advisory_lock(hashtext(:k))", {"k": LOCK_KEY})
        store.query("select pg_advisory_unlock(hashtext(:k))", {"k": LOCK_KEY})
        pull(cfg, store)
        return False
    except Exception as exc:
        log.warning("cluster: feed election failed, fetching alone: %s", exc)
        return True
    finally:
        if _held.get(str(cfg.path)) is not store:
            with contextlib.suppress(Exception):
                store.close()


def share(cfg: Config) -> int:
    """After this node fetched: store its caches once, tell the others, release the lock."""
    store = _held.pop(str(cfg.path), None)
    if store is None:
        return 0
    node, now, n = cluster.node_name(cfg), time.time(), 0
    try:
        with store.transaction():
            for name, p in _files(cfg).items():
                data = p.read_bytes()
                if b"\0" in data:
                    continue
                sha = hashlib.sha256(data).hexdigest()
                n += store.execute(
                    "insert into v_fsguard_cluster_files (fsguard_cluster_file_uuid, file_name, file_body, "
                    "file_sha256, fetched_at, node_name, insert_date) values (:id, :n, :b, :s, :t, :node, now()) "
                    "on conflict (fsguard_cluster_file_uuid) do update set fetched_at = excluded.fetched_at, "
                    "node_name = excluded.node_name, file_body = case when v_fsguard_cluster_files.file_sha256 = "
                    "excluded.file_sha256 then v_fsguard_cluster_files.file_body else excluded.file_body end, "
                    "file_sha256 = excluded.file_sha256, update_date = now()",
                    {"id": cluster.node_key("file\0" + name), "n": name, "b": data.decode("latin-1"), "s": sha,
                     "t": now, "node": node})
            store.query("select pg_notify(:ch, :p)", {"ch": cluster.CHANNEL,
                                                      "p": json.dumps({"k": "feeds", "n": node, "t": now})})
        return n
    finally:
        with contextlib.suppress(Exception):
            store.query("select pg_advisory_unlock(hashtext(:k))", {"k": LOCK_KEY})
        with contextlib.suppress(Exception):
            store.close()


def loaded_results(cfg: Config) -> list[FeedResult]:
    """What ``feeds update`` reports on a node that loaded another node's fetch."""
    from fsguard.perimeter import feeds
    from fsguard.perimeter.update import FeedResult

    out = []
    for spec in feeds.specs(cfg):
        doc = feeds.load_cache(cfg, spec.name)
        out.append(FeedResult(spec.name, "unchanged" if doc else "failed", entries=int(doc.get("count", 0)),
                              error="" if doc else "not fetched yet by any node of the cluster"))
    return out
