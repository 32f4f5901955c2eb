"""Everything the firewall needs, as merged integer ranges per family (the ruleset's data).

Feeds are unioned and merged, then the whitelist (allow list + carriers) is subtracted: a
whitelisted customer is never in a drop set, whatever the rule order. When the store cannot be
read (e.g. PostgreSQL not up yet at boot) the last whitelist snapshot stands in for allow and
carriers, so the whitelist is never lost; the deny list is then empty and a warning says so.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fsguard.perimeter import carriers as carriers_mod
from fsguard.perimeter import countries, feeds, lists, snapshot
from fsguard.perimeter.addr import Range, merge, parse_cidr, subtract

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

Fam = dict[int, list[Range]]


def _empty() -> Fam:
    return {4: [], 6: []}


@dataclass
class PerimeterData:
    allow: Fam = field(default_factory=_empty)
    carrier: Fam = field(default_factory=_empty)
    deny: Fam = field(default_factory=_empty)
    feed: Fam = field(default_factory=_empty)
    country: Fam = field(default_factory=_empty)
    country_codes: list[str] = field(default_factory=list)
    country_active: bool = False
    carrier_active: bool = False
    feed_entries: dict[str, int] = field(default_factory=dict)
    whitelisted_out: int = 0  # feed addresses removed because they are whitelisted
    whitelist: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _ranges_of(cidrs: list[str]) -> Fam:
    out = _empty()
    for c in cidrs:
        try:
            fam, s, e = parse_cidr(c)
        except ValueError:
            continue
        out[fam].append((s, e))
    return {f: merge(r) for f, r in out.items()}


def _overlap(ranges: list[Range], lo: int, hi: int) -> int:
    """How many addresses of the merged ``ranges`` lie in ``lo..hi``."""
    i = max(0, bisect.bisect_right(ranges, (lo, 1 << 129)) - 1)
    total = 0
    while i < len(ranges) and ranges[i][0] <= hi:
        s, e = ranges[i]
        if e >= lo:
            total += min(e, hi) - max(s, lo) + 1
        i += 1
    return total


def collect(cfg: Config, store: Store | None, *, feed_ranges: dict[str, Fam] | None = None) -> PerimeterData:
    """Build the data. ``feed_ranges`` (name -> ranges) skips re-reading the caches just written."""
    data = PerimeterData()
    allow_e: list[lists.Entry] = []
    carr: list[carriers_mod.Carrier] = []
    deny_e: list[lists.Entry] = []
    if store is not None:
        try:
            allow_e = lists.entries(store, "allow", cfg=cfg)
            deny_e = lists.entries(store, "deny", cfg=cfg)
        except Exception as exc:
            store = None
            data.warnings.append(f"store unreadable ({str(exc)[:120]}): using the last whitelist snapshot")
    carr, errs = carriers_mod.carriers(cfg, store)
    data.warnings += errs
    if store is None:
        snap = snapshot.read_whitelist(cfg.state_dir)
        data.whitelist = snap
        allow_cidrs = [e["cidr"] for e in snap if e.get("source") == "allow"]
        carrier_cidrs = [e["cidr"] for e in snap if e.get("source") == "carrier"] + [c.cidr for c in carr]
        data.warnings.append("deny list not loaded (store unavailable)")
    else:
        data.whitelist = snapshot.whitelist_entries(allow_e, carr)
        allow_cidrs = [e.cidr for e in allow_e]
        carrier_cidrs = [c.cidr for c in carr]
    data.allow = _ranges_of(allow_cidrs)
    data.carrier = _ranges_of(carrier_cidrs)
    data.deny = _ranges_of([e.cidr for e in deny_e])
    data.carrier_active = bool(data.carrier[4] or data.carrier[6])

    per_feed = feed_ranges if feed_ranges is not None else feeds.all_cached(cfg)
    union = _empty()
    for name, fams in per_feed.items():
        data.feed_entries[name] = len(fams[4]) + len(fams[6])
        for fam in (4, 6):
            union[fam].extend(fams[fam])
    for fam in (4, 6):
        merged = merge(union[fam])
        holes = merge(data.allow[fam] + data.carrier[fam])
        kept = subtract(merged, holes) if holes else merged
        if holes:
            # count only what the holes touched (cheap): addresses of merged inside the holes
            data.whitelisted_out += sum(_overlap(merged, hs, he) for hs, he in holes)
        data.feed[fam] = kept
        # the admin deny list must not cover a whitelisted address either
        data.deny[fam] = subtract(data.deny[fam], holes) if holes else data.deny[fam]

    try:
        cd = countries.load(cfg)
        data.country_codes = cd.countries
        if cd.countries and cd.available:
            data.country, data.country_active = cd.ranges, True
        elif cd.countries:
            data.warnings.append("country data not available yet: port 5060 open to all countries "
                                 "(run `fsguard feeds update`)")
    except ValueError as exc:
        data.warnings.append(str(exc))
    return data
