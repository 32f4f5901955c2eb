"""The only entry points the single-node code calls (one line each). Without a ``[cluster]``
section every hook returns at once; with one, a hook never raises into its caller (a broken
cluster must not stop a ban, an unban or the service loop)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fsguard import cluster

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.service import Service

log = logging.getLogger("fsguard.cluster")


def _get(a_info: Any, key: str, default: Any = None) -> Any:
    try:
        value = a_info[key]
    except Exception:  # fail2ban's CallingMap raises various errors for missing keys
        return default
    return default if value is None else value


def _submit(cfg: Config, kind: str, body: dict[str, Any], wait: bool = True) -> None:
    try:
        from fsguard.cluster import publish

        publish.publisher(cfg).submit(kind, body, wait=wait)
    except Exception as exc:
        log.error("cluster: could not publish %s: %s", kind, exc)


def banned(cfg: Config, jail: str, a_info: Any, status: str) -> None:
    """fail2ban's action put an address into this node's kernel set: every node enforces it."""
    if not cluster.enabled(cfg) or status != "banned":
        return
    secs = _get(a_info, "bantime")
    secs = int(secs) if secs is not None and int(secs) > 0 else None
    start = float(_get(a_info, "time", time.time()))
    _submit(cfg, "ban", {"ip": str(_get(a_info, "ip", "")), "jail": jail, "start": start, "secs": secs,
                         "end": None if secs is None else start + secs}, wait=False)


def prolonged(cfg: Config, jail: str, a_info: Any) -> None:
    if not cluster.enabled(cfg):
        return
    secs = _get(a_info, "bantime")
    _submit(cfg, "prolong", {"ip": str(_get(a_info, "ip", "")), "jail": jail,
                             "secs": int(secs) if secs is not None and int(secs) > 0 else None}, wait=False)


def unbanned(cfg: Config, ip: str, jail: str | None, reason: str) -> None:
    """``jail`` given: fail2ban lifted this node's own ban; None: an operator's unban (CLI/GUI),
    lifted on every node, in their fail2ban too."""
    if cluster.enabled(cfg):
        _submit(cfg, "unban", {"ip": ip, "jail": jail or "", "scope": "node" if jail else "all",
                               "reason": reason[:200]}, wait=jail is None)  # fail2ban's action never waits


def lists_changed(cfg: Config) -> None:
    if cluster.enabled(cfg):
        _submit(cfg, "lists", {})


def feeds_fetch_here(cfg: Config, force: bool) -> bool:
    """Before fetching feeds: False when another node fetched this cycle (its copies are loaded)."""
    if not cluster.enabled(cfg):
        return True
    from fsguard.cluster import feeds

    return feeds.fetch_here(cfg, force)


def feeds_loaded(cfg: Config) -> list[Any]:
    from fsguard.cluster import feeds

    return list(feeds.loaded_results(cfg))


def feeds_share(cfg: Config) -> None:
    """After fetching: store the caches once for every node (no-op unless this node was elected)."""
    if not cluster.enabled(cfg):
        return
    try:
        from fsguard.cluster import feeds

        feeds.share(cfg)
    except Exception as exc:
        log.error("cluster: could not share the feeds: %s", exc)


def service_tick(svc: Service, now: float) -> list[str]:
    """Once per service tick, before the ignore sync: start the listener (the first time, waiting
    for the cluster's bans), replay the outbox, heartbeat, share registrations."""
    if not cluster.enabled(svc.cfg):
        return []
    try:
        from fsguard.cluster.node import Runtime

        rt = getattr(svc, "_cluster", None)
        if rt is None:
            rt = Runtime(svc.cfg)
            svc._cluster = rt  # type: ignore[attr-defined]
            if not rt.start():
                log.warning("cluster: PostgreSQL unreachable at start: enforcing alone until it is back")
        return rt.tick(now)
    except Exception as exc:
        return [f"cluster: {type(exc).__name__}: {exc}"]


def service_registrations(cfg: Config) -> list[dict[str, Any]]:
    """Other nodes' registrations, for this node's accept sets (the perimeter)."""
    if not cluster.enabled(cfg):
        return []
    try:
        from fsguard.cluster.node import cluster_rows

        return cluster_rows(cfg)
    except Exception:
        return []


def service_ignore(cfg: Config, now: float) -> set[str]:
    """Other nodes' live registrations, for this node's fail2ban ignore list."""
    if not cluster.enabled(cfg):
        return set()
    try:
        from fsguard.cluster.node import cluster_ignore

        return cluster_ignore(cfg, now)
    except Exception:
        return set()
