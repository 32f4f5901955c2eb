"""Contract 5: which of fsguard's lists an address is in, and why (for ``fsguard why``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard.perimeter import carriers, countries, feeds, lists, snapshot
from fsguard.perimeter.addr import AddressError, parse_cidr, range_text

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store


@dataclass(frozen=True)
class Membership:
    list_name: str  # whitelist | blacklist | feed | country | carrier
    source: str  # allow | deny | <feed name> | RIR delegation files | config | fusionpbx:<acl>
    detail: str


def _in(cidr: str, fam: int, value: int) -> bool:
    try:
        f, s, e = parse_cidr(cidr)
    except AddressError:
        return False
    return f == fam and s <= value <= e


def memberships(cfg: Config, ip: str, *, store: Store | None = None) -> list[Membership]:
    """Raises ValueError on a malformed address. Opens the store itself when none is given."""
    try:
        fam, value, end = parse_cidr(ip)
    except AddressError as exc:
        raise ValueError(f"{ip[:60]!r}: {exc}") from None
    if value != end:
        raise ValueError(f"{ip[:60]!r}: give one address, not a network")
    out: list[Membership] = []
    from fsguard.store import borrowed

    with borrowed(cfg, store) as store:
        if store is not None:
            for name, kind in (("allow", "whitelist"), ("deny", "blacklist")):
                for e in lists.entries(store, name, cfg=cfg):
                    if _in(e.cidr, fam, value):
                        label = f" ({e.label})" if e.label else ""
                        word = "admin whitelist" if name == "allow" else "admin blacklist"
                        out.append(Membership(kind, name, f"{word} {e.cidr}{label}"))
        else:
            for snap in snapshot.read_whitelist(cfg.state_dir):
                if snap.get("source") == "allow" and _in(snap["cidr"], fam, value):
                    out.append(Membership("whitelist", "allow",
                                          f"admin whitelist {snap['cidr']} ({snap.get('label', '')})"))
        carr, _ = carriers.carriers(cfg, store)
        for c in carr:
            if c.family == fam and c.start <= value <= c.end:
                out.append(Membership("carrier", c.source, f"carrier {c.cidr} ({c.label})"))
    for name, fams in feeds.all_cached(cfg).items():
        for lo, hi in fams[fam]:
            if lo <= value <= hi:
                out.append(Membership("feed", name, f"listed by feed {name} as {', '.join(range_text(lo, hi, fam))}"))
                break
    cd = countries.load(cfg)
    if cd.countries and cd.available:
        codes = ", ".join(cd.countries)
        if any(lo <= value <= hi for lo, hi in cd.ranges[fam]):
            out.append(Membership("country", "RIR delegation files", f"in an allowed country ({codes})"))
        else:
            out.append(Membership("country", "RIR delegation files",
                                  f"outside the allowed countries ({codes}): refused on the country ports"))
    return out
