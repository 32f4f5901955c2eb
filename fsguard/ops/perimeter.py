"""``firewall_apply`` and ``feeds_refresh``: the perimeter operations behind ``fsguard firewall
apply``, ``fsguard feeds update``, the GUI's "apply" and "refresh feeds" and the drill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fsguard.cluster import hooks as cluster_hooks
from fsguard.ops import Result

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.firewall.engine import ApplyResult
    from fsguard.perimeter.update import FeedResult
    from fsguard.store import Store


def applied_before(cfg: Config) -> bool:
    from fsguard.firewall import engine

    return (engine.state_dir(cfg) / "last-good.json").exists()


@dataclass
class FirewallApply(Result):
    backend: str = ""
    netns: str | None = None
    sets: dict[str, int] = field(default_factory=dict)
    rules: int = 0
    seconds: float = 0.0
    from_last_good: bool = False
    whitelisted_out: int = 0
    warnings: list[str] = field(default_factory=list)
    snapshot: str = ""

    def message(self) -> str:
        return "; ".join([f"firewall ({self.backend}) applied in {self.seconds:.2f} s"
                          + (" from the last good ruleset" if self.from_last_good else "")
                          + f": {sum(self.sets.values())} set entries"] + self.warnings + self.notes)


def firewall_apply(cfg: Config, store: Store | None = None, *, netns: str | None = None,
                   snapshot: bool = True, lists_changed: bool = False) -> FirewallApply:
    """Rewrite the whitelist snapshot (when the store answers), then build and load the ruleset
    atomically. Raises :class:`fsguard.firewall.FirewallError` when nothing could be loaded (the
    previous ruleset stays in force). ``lists_changed``: the lists were edited (the GUI's apply
    after an edit): in a cluster every node rebuilds too."""
    from fsguard.cluster import hooks as cluster_hooks
    from fsguard.firewall import engine
    from fsguard.perimeter import snapshot as snap
    from fsguard.store import borrowed

    res = FirewallApply("firewall_apply")
    with borrowed(cfg, store) as st:
        if snapshot:
            if st is None:
                res.notes.append("store unavailable: whitelist snapshot not rewritten")
            else:
                res.snapshot = snap.write_from_store(cfg, st).as_posix()
        done: ApplyResult = engine.apply(cfg, netns=netns, store=st)
    res.backend, res.netns, res.sets, res.rules = done.backend, done.netns, dict(done.sets), done.rules
    res.seconds, res.from_last_good, res.whitelisted_out = done.seconds, done.from_last_good, done.whitelisted_out
    res.warnings = list(done.warnings)
    if lists_changed:
        cluster_hooks.lists_changed(cfg)
    return res


@dataclass
class FeedsRefresh(Result):
    feeds: list[FeedResult] = field(default_factory=list)
    countries: dict[str, Any] = field(default_factory=dict)
    firewall: FirewallApply | None = None
    firewall_error: str = ""

    @property
    def feeds_ok(self) -> bool:
        return all(r.status in ("updated", "unchanged") for r in self.feeds)

    def message(self) -> str:
        parts = [", ".join(f"{r.name}: {r.status} ({r.entries})" for r in self.feeds) or "no feeds configured"]
        if self.countries:
            parts.append(f"countries {', '.join(self.countries['countries'])}: {self.countries['v4']} IPv4 + "
                         f"{self.countries['v6']} IPv6 ranges")
        if self.firewall is not None:
            parts.append(self.firewall.message())
        if self.firewall_error:
            parts.append(f"firewall NOT applied: {self.firewall_error}")
        return "; ".join(parts + self.notes)


def feeds_refresh(cfg: Config, store: Store | None, *, only: str | None = None, force: bool = False,
                  apply: bool = True, progress: Callable[[str], None] | None = None) -> FeedsRefresh:
    """Every feed (or ``only``) through fetch/validate/merge/cache, the country data, then the
    firewall. A feed that fails keeps its last good cache. Raises ValueError for a bad feed
    configuration (nothing fetched)."""
    from fsguard.firewall import FirewallError
    from fsguard.perimeter import countries, update

    res = FeedsRefresh("feeds_refresh")
    fetch_here = cluster_hooks.feeds_fetch_here(cfg, force)  # cluster: one node fetches per cycle
    res.feeds = update.update_all(cfg, store, progress=progress, only=only) if fetch_here else (
        cluster_hooks.feeds_loaded(cfg))
    try:
        cd = countries.refresh(cfg, force=force)
        if cd.countries:
            res.countries = {"countries": cd.countries, "v4": len(cd.ranges[4]), "v6": len(cd.ranges[6]),
                             "errors": cd.errors}
    except ValueError as exc:
        res.notes.append(f"countries: {exc}")
    cluster_hooks.feeds_share(cfg)  # cluster: stored once, loaded by every node
    if apply:
        try:
            res.firewall = firewall_apply(cfg, store)
        except FirewallError as exc:
            res.firewall_error = str(exc)
    res.ok = res.feeds_ok and not res.firewall_error
    return res
