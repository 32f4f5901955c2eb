"""Build, commit, inspect and remove fsguard's ruleset through a small backend interface
(CrowdSec firewall bouncer's shape: ``init`` preflight, ``commit`` of a whole ruleset, ``add``/
``delete`` for single bans, plus ``remove`` and ``counters``).

``apply`` = collect perimeter data -> build the ruleset -> commit atomically. The committed
ruleset is kept as ``<state_dir>/firewall/last-good.json``; when a build fails (store down,
broken cache) or a commit does not verify, the last good ruleset is committed again, so the
machine is never left with less protection than before, nor with a half-loaded one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard.firewall import FirewallError, backend_name, bans, ipt, nft, run
from fsguard.firewall.ruleset import NetSet, Rule, Ruleset, build

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


class Backend:
    name = "base"
    tools: tuple[str, ...] = ()

    def init(self, netns: str | None) -> None:
        missing = [t for t in self.tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
        if missing:
            raise FirewallError(f"{self.name} backend: missing {', '.join(missing)}")

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        raise NotImplementedError

    def verify(self, netns: str | None) -> bool:
        return True

    def add(self, cfg: Config, ip: str, seconds: int | None, netns: str | None) -> None:
        bans.add_ban(cfg, ip, seconds, netns=netns)

    def delete(self, cfg: Config, ip: str, netns: str | None) -> None:
        bans.del_ban(cfg, ip, netns=netns)

    def remove(self, netns: str | None) -> bool:
        raise NotImplementedError

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return []


class NftBackend(Backend):
    name, tools = "nftables", ("nft",)

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        existing = nft.existing_objects(netns)
        script = nft.render(rs, existing)
        _write(state / "rendered.nft", script)
        nft.load(script, netns, check_script=nft.render(rs, existing, sample=500))

    def verify(self, netns: str | None) -> bool:
        objs = nft.existing_objects(netns)
        return {"input", "sip4", "sip6"} <= set(objs["chains"])

    def remove(self, netns: str | None) -> bool:
        return nft.remove(netns)

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return nft.counters(netns)


class IptBackend(Backend):
    name, tools = "iptables", ("ipset", "iptables-restore", "ip6tables-restore")

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        texts = ipt.load(rs, netns)
        for fam, text in texts.items():
            _write(state / f"rendered.iptables{'' if fam == 4 else '6'}", text)

    def verify(self, netns: str | None) -> bool:
        return ipt.has_jump(4, netns) and ipt.has_jump(6, netns)

    def remove(self, netns: str | None) -> bool:
        return ipt.remove(netns)

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return ipt.counters(netns)


class DryRunBackend(Backend):
    """Renders both backends' files under ``<state_dir>/firewall/dry-run/``; touches no kernel."""

    name = "dry-run"

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        d = state / "dry-run"
        _write(d / "fsguard.nft", nft.render(rs))
        _write(d / "fsguard.ipset", ipt.render_ipset(rs))
        for fam in (4, 6):
            _write(d / f"fsguard.iptables{'' if fam == 4 else '6'}", ipt.render_rules(rs, fam, add_jump=True))

    def remove(self, netns: str | None) -> bool:
        return False


def get_backend(cfg: Config) -> Backend:
    return {"nftables": NftBackend, "iptables": IptBackend, "dry-run": DryRunBackend}[backend_name(cfg)]()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
    _write(path, json.dumps(doc, separators=(",", ":")))


def load_ruleset(path: Path) -> Ruleset:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        sets = {k: NetSet(v["name"], v["family"], v["interval"], list(v["hosts"]),
                          [tuple(n) for n in v["nets"]]) for k, v in d["sets"].items()}  # type: ignore[misc]
        return Ruleset(d["protected_ports"], d["protocols"], d["country_ports"], d["carrier_ports"],
                       d["management_ports"], d["priority"], sets, [Rule(**r) for r in d["input_rules"]],
                       [Rule(**r) for r in d["sip_rules"]], d.get("warnings", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FirewallError(f"no usable last good ruleset ({path}): {exc}") from None


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
        if last.exists() and backend.name != "dry-run" and (partial or not backend.verify(netns)):
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
    _write(state_dir(cfg) / "status.json", json.dumps(dataclasses.asdict(res) | {"applied": time.time()}))
    return res


def status(cfg: Config, *, netns: str | None = None) -> dict[str, Any]:
    backend = get_backend(cfg)
    try:
        last = json.loads((state_dir(cfg) / "status.json").read_text())
    except (OSError, ValueError):
        last = {}
    loaded = False
    counters: list[dict[str, Any]] = []
    if backend.name != "dry-run":
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


_ = run
