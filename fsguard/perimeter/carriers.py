"""Carriers: the only sources port 5080 accepts (and, per contract 2, always whitelisted).

From config ``[carriers] cidrs = 203.0.113.7 198.51.100.0/28`` plus, when the store is FusionPBX's
PostgreSQL, the ``allow`` nodes of the access-control list named ``[carriers] fusionpbx_acl``
(default ``providers``: where FusionPBX keeps carriers' signalling addresses). A carrier entry
broader than /8 (IPv4) or /24 (IPv6), or a default route, is refused: it would whitelist the world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard import settings
from fsguard.perimeter.addr import AddressError, cidr_text, parse_cidr, range_to_cidrs

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

FLOOR = {4: 8, 6: 24}


@dataclass(frozen=True)
class Carrier:
    cidr: str
    label: str
    source: str  # "config" | "fusionpbx:<acl name>"
    start: int
    end: int
    family: int


def _carrier(text: str, label: str, source: str) -> Carrier:
    fam, start, end = parse_cidr(text)
    plen = (32 if fam == 4 else 128) - ((end - start + 1).bit_length() - 1)
    if plen < FLOOR[fam]:
        raise AddressError(f"prefix /{plen} too broad for a carrier")
    (net, p), = range_to_cidrs(start, end, fam)
    return Carrier(cidr_text(net, p, fam), label, source, start, end, fam)


def from_config(cfg: Config) -> tuple[list[Carrier], list[str]]:
    out, errors = [], []
    for item in settings.CARRIERS_CIDRS.get(cfg):
        try:
            out.append(_carrier(item, "config", "config"))
        except AddressError as exc:
            errors.append(f"[carriers] cidrs: {item[:60]!r}: {exc}")
    return out, errors


def from_fusionpbx(store: Store, acl: str = "providers") -> tuple[list[Carrier], list[str]]:
    """Allow nodes of FusionPBX's ``acl`` list, read from its PostgreSQL (no foreign keys there)."""
    rows = store.query(
        "select n.node_cidr, n.node_description from v_access_control_nodes n "
        "join v_access_controls c on c.access_control_uuid = n.access_control_uuid "
        "where c.access_control_name = :name and lower(n.node_type) = 'allow' order by n.node_cidr",
        {"name": acl},
    )
    out, errors = [], []
    for r in rows:
        text = str(r["node_cidr"] or "").strip()
        if not text:
            continue  # FusionPBX nodes may name a domain instead of a CIDR
        try:
            out.append(_carrier(text, str(r["node_description"] or acl), f"fusionpbx:{acl}"))
        except AddressError as exc:
            errors.append(f"FusionPBX ACL {acl}: {text[:60]!r}: {exc}")
    return out, errors


def carriers(cfg: Config, store: Store | None) -> tuple[list[Carrier], list[str]]:
    out, errors = from_config(cfg)
    acl = settings.CARRIERS_FUSIONPBX_ACL.get(cfg)
    if store is not None and acl and getattr(store, "kind", "") == "pgsql":
        try:
            more, errs = from_fusionpbx(store, acl)
            out += more
            errors += errs
        except Exception as exc:  # not a FusionPBX database, or no permission: config carriers only
            errors.append(f"FusionPBX ACL {acl}: {str(exc)[:200]}")
    return out, errors
