"""Contract 5: which of fsguard's lists an address is in, and why (for ``fsguard why``).

The last row (list ``decision``) names the firewall rule that decides for the SIP ports, in the
ruleset's order (``firewall/ruleset.py``): ban, whitelist, carrier, admin blacklist,
registration, feed, country.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard import settings
from fsguard.perimeter import carriers, countries, feeds, lists, snapshot
from fsguard.perimeter.addr import AddressError, parse_cidr, range_text

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store


@dataclass(frozen=True)
class Membership:
    list_name: str  # whitelist | blacklist | registration | feed | country | carrier | carrier-rule | ipv6-prefix
    #                 | decision
    source: str  # allow | deny | <feed name> | RIR delegation files | config | fusionpbx:<acl> | freeswitch
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
        out.append(_carrier_rule(cfg, carr, any(m.list_name == "carrier" for m in out)))
    for name, fams in feeds.all_cached(cfg).items():
        for lo, hi in fams[fam]:
            if lo <= value <= hi:
                out.append(Membership("feed", name, f"listed by feed {name} as {', '.join(range_text(lo, hi, fam))}"))
                break
    from fs_python import whitelist

    for reason in whitelist.check(ip, state_dir=cfg.state_dir).reasons:
        if reason.startswith("registered "):
            out.append(Membership("registration", "freeswitch", reason))
    net = _prefix_ban(cfg, ip)
    if net:
        out.append(Membership("ipv6-prefix", "fail2ban", f"inside the banned /64 {net} (IPv6 escalation)"))
    cd = countries.load(cfg)
    if cd.countries and cd.available:
        codes = ", ".join(cd.countries)
        if any(lo <= value <= hi for lo, hi in cd.ranges[fam]):
            out.append(Membership("country", "RIR delegation files", f"in an allowed country ({codes})"))
        else:
            out.append(Membership("country", "RIR delegation files",
                                  f"outside the allowed countries ({codes}): refused on the country ports"))
    out.append(Membership("decision", "firewall", decide(out)))
    return out


def _carrier_rule(cfg: Config, carr: list[carriers.Carrier], is_carrier: bool) -> Membership:
    """The carrier rule on the carrier ports (5080), as the ruleset applies it (ruleset.py:
    ``carrier_rule`` auto = on when any carrier is known)."""
    mode = settings.FIREWALL_CARRIER_RULE.get(cfg) or "auto"
    ports = "/".join(settings.FIREWALL_CARRIER_PORTS.get(cfg)) or "-"
    active = mode == "on" or (mode == "auto" and bool(carr))
    sources = ", ".join(sorted({c.source for c in carr})) or "none"
    if not active:
        why = "[firewall] carrier_rule = off" if mode == "off" else "no carrier is known"
        return Membership("carrier-rule", "firewall", f"port {ports} open to every address: no carrier rule ({why})")
    if is_carrier:
        return Membership("carrier-rule", "firewall", f"a carrier: accepted on port {ports} by the carrier rule")
    return Membership("carrier-rule", "firewall",
                      f"not a carrier: refused on port {ports} by the carrier rule ({len(carr)} carrier(s) "
                      f"known, from {sources}; carrier_rule = {mode})")


def _prefix_ban(cfg: Config, ip: str) -> str | None:
    if not settings.F2B_FIREWALL.get(cfg):
        return None
    try:
        from fsguard.firewall import escalate

        return escalate.prefix_banned(cfg, ip, netns=settings.F2B_NETNS.get(cfg) or None)
    except Exception:  # no kernel access / no ruleset: the per-address ban check still answers
        return None


# the first rule that matches decides, as in the ruleset (a per-address fail2ban ban comes first
# of all and is reported by ``fsguard why`` itself)
_ORDER = (
    ("ipv6-prefix", "dropped on the SIP ports: banned /64"),
    ("whitelist", "accepted on the SIP ports: admin whitelist"),
    ("carrier", "accepted on the SIP ports: carrier"),
    ("blacklist", "dropped on the SIP ports: admin blacklist (wins over a registration)"),
    ("registration", "accepted on the SIP ports: live registration (ahead of feeds and countries)"),
    ("feed", "dropped on the SIP ports: block-list feed"),
)


def decide(found: list[Membership]) -> str:
    """Which rule decides for this address's packets to the SIP ports (unless fail2ban bans it)."""
    kinds = {m.list_name for m in found}
    for kind, text in _ORDER:
        if kind in kinds:
            return text
    # nothing accepted or dropped it on every port: the port rules decide, each on its own ports
    refused = [m.detail for m in found if m.list_name == "carrier-rule" and m.detail.startswith("not a carrier")]
    carrier = ("; " + refused[0].split(" (")[0]) if refused else ""
    if any(m.list_name == "country" and m.detail.startswith("outside") for m in found):
        return "dropped on the country ports: outside the allowed countries" + carrier
    return "accepted on the SIP ports (no list matches)" + carrier
