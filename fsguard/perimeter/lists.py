"""Admin whitelist ("allow") and blacklist ("deny") entries in ``v_fsguard_list_entries``.

Entries are validated before anything is written (one statement per change, so nothing is ever
half-written). The allow list accepts private and test ranges (an office LAN behind a VPN is a
legitimate whitelist entry); the deny list refuses what a block list refuses (loopback, private,
multicast, default route, prefixes broader than the floor) so an operator cannot cut off a LAN.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard.perimeter import feeds
from fsguard.perimeter.addr import AddressError, Policy, cidr_text, parse_cidr, range_to_cidrs

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

LISTS = ("allow", "deny")
MAX_LABEL = 120


class ListError(ValueError):
    """Refused input; the message is the reason."""


@dataclass
class Entry:
    uuid: str
    list_name: str
    cidr: str
    label: str
    expires: float | None
    enabled: bool


def canonical(list_name: str, text: str, pol: Policy) -> str:
    """Validated canonical CIDR (``192.0.2.0/24``, ``2001:db8::1/128``) or ListError."""
    if list_name not in LISTS:
        raise ListError(f"unknown list {list_name!r}")
    try:
        fam, start, end = parse_cidr(text)
        if list_name == "deny":
            why = pol.check(fam, start, end)
            if why:
                raise AddressError(why)
        elif end - start + 1 == 1 << (32 if fam == 4 else 128):
            raise AddressError("default route (would whitelist everyone)")
    except AddressError as exc:
        raise ListError(f"{text[:60]!r}: {exc}") from None
    (net, plen), = range_to_cidrs(start, end, fam)
    return cidr_text(net, plen, fam)


def _label(label: str) -> str:
    label = (label or "").strip()
    if len(label) > MAX_LABEL or any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise ListError(f"label: at most {MAX_LABEL} printable characters")
    return label


def add(store: Store, cfg: Config, list_name: str, cidr: str, label: str = "",
        expires: float | None = None) -> tuple[Entry, bool]:
    """Add (or update the label/expiry of) an entry; returns (entry, created)."""
    canon = canonical(list_name, cidr, feeds.policy(cfg))
    lab = _label(label)
    if expires is not None and expires <= time.time():
        raise ListError("expiry is in the past")
    with store.transaction():
        row = store.query_one(
            "select fsguard_list_entry_uuid from v_fsguard_list_entries where list_name = :l and cidr = :c",
            {"l": list_name, "c": canon})
        if row:
            store.execute(
                "update v_fsguard_list_entries set label = :label, expires = :e, entry_enabled = :en "
                "where fsguard_list_entry_uuid = :u",
                {"label": lab, "e": expires, "en": True, "u": row["fsguard_list_entry_uuid"]})
            uid, created = str(row["fsguard_list_entry_uuid"]), False
        else:
            uid = store.insert("v_fsguard_list_entries", {
                "list_name": list_name, "cidr": canon, "label": lab, "expires": expires, "entry_enabled": True})
            created = True
    return Entry(uid, list_name, canon, lab, expires, True), created


def delete(store: Store, cfg: Config, list_name: str, cidr: str) -> int:
    canon = canonical(list_name, cidr, feeds.policy(cfg)) if list_name == "deny" else canonical(
        list_name, cidr, Policy())
    return store.execute("delete from v_fsguard_list_entries where list_name = :l and cidr = :c",
                         {"l": list_name, "c": canon})


def entries(store: Store, list_name: str, *, now: float | None = None, include_expired: bool = False) -> list[Entry]:
    """Enabled, unexpired entries (all with ``include_expired``). Rows that no longer parse are skipped."""
    now = time.time() if now is None else now
    rows = store.query(
        "select fsguard_list_entry_uuid, list_name, cidr, label, expires, entry_enabled "
        "from v_fsguard_list_entries where list_name = :l order by cidr", {"l": list_name})
    out = []
    for r in rows:
        enabled = r["entry_enabled"] in (True, 1, "true", "t", "1")
        exp = float(r["expires"]) if r["expires"] is not None else None
        if not include_expired and (not enabled or (exp is not None and exp <= now)):
            continue
        try:
            parse_cidr(str(r["cidr"]))
        except AddressError:
            continue  # a bad row written by hand must not break the firewall build
        out.append(Entry(str(r["fsguard_list_entry_uuid"]), list_name, str(r["cidr"]), r["label"] or "", exp,
                         enabled))
    return out
