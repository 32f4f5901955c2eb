"""Build, commit, inspect and remove fsguard's ruleset through the backend interface
(:mod:`fsguard.firewall.backend`; the backend comes from :mod:`fsguard.firewall.registry`).

``apply`` = collect perimeter data -> build the ruleset -> commit atomically. The committed
ruleset is kept as ``<state_dir>/firewall/last-good.json``; when a build fails (store down,
broken cache) or a commit does not verify, the last good ruleset is committed again, so the
machine is never left with less protection than before, nor with a half-loaded one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard.firewall import FirewallError, registry
from fsguard.firewall.backend import Backend, write_state
from fsguard.firewall.ruleset import Ruleset, build

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store


@dataclass
class ApplyResult:
    backend: str
    netns: str | None
    sets: dict[str, int]
    rules: int
    seconds: float
    from_last_good: bool = False
    whitelisted_out: int = 0
    feed_entries: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def get_backend(cfg: Config) -> Backend:
    return registry.get(cfg)


def state_dir(cfg: Config) -> Path:
    return Path(cfg.state_dir) / "firewall"


# -- last good ruleset ---------------------------------------------------------------------------
def save_ruleset(path: Path, rs: Ruleset) -> None:
    # by hand: dataclasses.asdict deep-copies 200k ints (~0.5 s)
    doc = {k: v for k, v in vars(rs).items() if k not in ("sets", "input_rules", "sip_rules")}
    doc["sets"] = {k: {"name": s.name, "family": s.family, "interval": s.interval, "hosts": s.hosts,
                       "nets": s.nets} for k, s in rs.sets.items()}
    doc["input_rules"] = [vars(r) for r in rs.input_rules]
    doc["sip_rules"] = [vars(r) for r in rs.sip_rules]
    write_state(path, json.dumps(doc, separators=(",", ":")))


def load_ruleset(path: Path) -> Ruleset:
    """Re-validated like fresh input before root commits it again (see lastgood)."""
    from fsguard.firewall import lastgood

    return lastgood.load(path)


# -- the operations ------------------------------------------------------------------------------
def build_ruleset(cfg: Config, *, store: Store | None = None, feed_ranges: Any = None) -> tuple[Ruleset, Any]:
    from fsguard.perimeter import build as pbuild
    from fsguard.perimeter import snapshot
    from fsguard.store import borrowed

    with borrowed(cfg, store) as st:
        data = pbuild.collect(cfg, st, feed_ranges=feed_ranges)
        if st is not None:
            snapshot.write_whitelist(cfg.state_dir, data.whitelist)
    return build(cfg, data), data


def commit(cfg: Config, rs: Ruleset, *, netns: str | None = None) -> None:
    """Commit a built ruleset; on failure re-commit the last good one. Raises FirewallError."""
    backend = get_backend(cfg)
    backend.init(netns)
    st = state_dir(cfg)
    st.mkdir(parents=True, exist_ok=True)
    try:
        backend.commit(rs, netns, st)
        if not backend.verify(netns):
            raise FirewallError("the loaded ruleset did not verify")
    except FirewallError as exc:
        last = st / "last-good.json"
        partial = bool(getattr(exc, "partial", False))
        if last.exists() and backend.kernel and (partial or not backend.verify(netns)):
            try:
                backend.commit(load_ruleset(last), netns, st)
            except FirewallError as exc2:
                raise FirewallError(f"{exc}; rollback also failed: {exc2}") from None
            raise FirewallError(f"{exc} (rolled back to the last good ruleset)") from None
        raise FirewallError(f"{exc} (the previous ruleset stays in force)") from None
    save_ruleset(st / "last-good.json", rs)


def apply(cfg: Config, *, netns: str | None = None, store: Store | None = None, feed_ranges: Any = None) -> ApplyResult:
    t0 = time.monotonic()
    from_last = False
    try:
        rs, data = build_ruleset(cfg, store=store, feed_ranges=feed_ranges)
    except (FirewallError, ValueError, OSError) as exc:
        last = state_dir(cfg) / "last-good.json"
        if not last.exists():
            raise FirewallError(f"cannot build the ruleset: {exc}") from None
        rs, data, from_last = load_ruleset(last), None, True
        rs.warnings = [f"build failed ({exc}): re-applied the last good ruleset"]
    commit(cfg, rs, netns=netns)
    res = ApplyResult(get_backend(cfg).name, netns, rs.summary(), len(rs.input_rules) + len(rs.sip_rules),
                      time.monotonic() - t0, from_last, warnings=list(rs.warnings))
    if data is not None:
        res.whitelisted_out, res.feed_entries = data.whitelisted_out, dict(data.feed_entries)
    write_state(state_dir(cfg) / "status.json", json.dumps(dataclasses.asdict(res) | {"applied": time.time()}))
    return res


def status(cfg: Config, *, netns: str | None = None) -> dict[str, Any]:
    backend = get_backend(cfg)
    try:
        last = json.loads((state_dir(cfg) / "status.json").read_text())
    except (OSError, ValueError):
        last = {}
    loaded = False
    counters: list[dict[str, Any]] = []
    if backend.kernel:
        try:
            backend.init(netns)
            loaded = backend.verify(netns)
            counters = backend.counters(netns) if loaded else []
        except FirewallError as exc:
            last.setdefault("warnings", []).append(str(exc))
    return {"backend": backend.name, "loaded": loaded, "last_apply": last, "counters": counters}


def remove(cfg: Config, *, netns: str | None = None) -> bool:
    backend = get_backend(cfg)
    backend.init(netns)
    return backend.remove(netns)

