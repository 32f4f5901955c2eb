"""Admin whitelist ("allow") and blacklist ("deny") entries in ``v_fsguard_list_entries``.

One validation for every path an entry takes: ``fsguard allow|deny add``, the GUI queue (the
FusionPBX page only queues the request, fsguard.queue calls :func:`add`), and rows read back from
the store (:func:`entries` re-checks each row, logs and skips a refused one: the database is
writable by the web app). Entries are validated before anything is written (one statement per
change, so nothing is ever half-written). The allow list accepts private and test ranges (an office
LAN behind a VPN is a legitimate whitelist entry) but has a breadth floor for public space and a
cap on the public space all entries cover together (addr.allow_check / allow_union_check); the deny
list refuses what a block list refuses (loopback, private, CGNAT, multicast, default route,
prefixes broader than the floor) so an operator cannot cut off a LAN; it accepts documentation
and benchmarking ranges, as the allow list does (never routed; the drill lives in 198.18.0.0/15).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard.perimeter import feeds
from fsguard.perimeter.addr import (
    AddressError,
    Policy,
    Range,
    allow_check,
    allow_union_check,
    cidr_text,
    parse_cidr,
    range_to_cidrs,
)

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.lists")
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
    fam, start, end = parse_network(text)
    why = pol.check(fam, start, end) if list_name == "deny" else allow_check(fam, start, end)
    if why:
        raise ListError(f"{text[:60]!r}: {why}")
    (net, plen), = range_to_cidrs(start, end, fam)
    return cidr_text(net, plen, fam)


def parse_network(text: str) -> tuple[int, int, int]:
    """Syntax only (family, start, end); the list's rules are :func:`canonical`'s."""
    if not isinstance(text, str) or len(text) > 64:
        raise ListError("not an IP address or network")
    try:
        return parse_cidr(text)
    except AddressError as exc:
        raise ListError(f"{text[:60]!r}: {exc}") from None


def network_text(text: str) -> str:
    """Canonical network text of ``text`` (syntax only, no list rules) or ListError."""
    fam, start, end = parse_network(text)
    (net, plen), = range_to_cidrs(start, end, fam)
    return cidr_text(net, plen, fam)


def _union_check(store: Store, canon: str) -> None:
    """Refuse an allow entry that would make the whole list cover too much of the internet."""
    fam, start, end = parse_cidr(canon)
    ranges: list[Range] = [(start, end)]
    for e in entries(store, "allow"):
        f, s, t = parse_cidr(e.cidr)
        if f == fam:
            ranges.append((s, t))
    why = allow_union_check(fam, ranges)
    if why:
        raise ListError(f"{canon}: {why}")


def deny_policy(cfg: Config | None) -> Policy:
    """The deny list's rules: the feeds' floors, but documentation and benchmarking ranges are
    accepted (never routed on the Internet, so an entry there cuts nobody off; a test lab and
    ``fsguard drill --host``, in 198.18.0.0/15, live there) -- a *feed* listing them is still
    refused unless ``[feeds] accept_test_ranges``. Private, loopback and CGNAT are refused always."""
    if cfg is None:
        return Policy(accept_test_ranges=True)
    return dataclasses.replace(feeds.policy(cfg), accept_test_ranges=True)


def _label(label: str) -> str:
    label = (label or "").strip()
    if len(label) > MAX_LABEL or any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise ListError(f"label: at most {MAX_LABEL} printable characters")
    return label


def add(store: Store, cfg: Config, list_name: str, cidr: str, label: str = "",
        expires: float | None = None) -> tuple[Entry, bool]:
    """Add (or update the label/expiry of) an entry; returns (entry, created)."""
    canon = canonical(list_name, cidr, deny_policy(cfg))
    lab = _label(label)
    if expires is not None and expires <= time.time():
        raise ListError("expiry is in the past")
    with store.transaction():
        if list_name == "allow":
            _union_check(store, canon)
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
    """Remove an entry. Only parsed, not checked against the rules: a bad row must be removable."""
    if list_name not in LISTS:
        raise ListError(f"unknown list {list_name!r}")
    canon = network_text(cidr)
    return store.execute("delete from v_fsguard_list_entries where list_name = :l and cidr = :c",
                         {"l": list_name, "c": canon})


def _breadth(row: dict[str, object]) -> tuple[int, str]:
    try:
        fam, start, end = parse_cidr(str(row["cidr"]))
    except (AddressError, ValueError):
        return (0, "")
    return ((end - start + 1) << (96 if fam == 4 else 0), str(row["cidr"]))


def _under_union_cap(checked: list[tuple[Entry, int, int, int, bool]]) -> list[Entry]:
    """The allow entries within the union cap. One merge when the list is within it (always, but
    for an attack); else narrowest first, the rows that would push it over are logged and skipped."""
    over = {fam for fam in (4, 6)
            if allow_union_check(fam, [(s, e) for _, f, s, e, live in checked if live and f == fam])}
    if not over:
        return [c[0] for c in checked]
    kept: dict[int, list[Range]] = {4: [], 6: []}
    out = []
    for entry, fam, start, end, live in checked:
        if live and fam in over:
            why = allow_union_check(fam, kept[fam] + [(start, end)])
            if why:
                log.warning("refused allow list row %s: %s: %s", entry.uuid, entry.cidr, why)
                continue
            kept[fam].append((start, end))
        out.append(entry)
    return out


def entries(store: Store, list_name: str, *, now: float | None = None, include_expired: bool = False,
            cfg: Config | None = None) -> list[Entry]:
    """Enabled, unexpired entries (all with ``include_expired``), each re-validated with the same
    rules as :func:`add`: a row the rules refuse (written by hand or by the web app's database
    user) is logged and skipped, so it never reaches the firewall, fail2ban or the snapshot. The
    allow list's union cap keeps the narrowest rows first: the broad ones that push it over go."""
    now = time.time() if now is None else now
    rows = store.query(
        "select fsguard_list_entry_uuid, list_name, cidr, label, expires, entry_enabled "
        "from v_fsguard_list_entries where list_name = :l", {"l": list_name})
    rows.sort(key=_breadth)
    pol = deny_policy(cfg)
    checked: list[tuple[Entry, int, int, int, bool]] = []  # entry, family, start, end, in force
    for r in rows:
        enabled = r["entry_enabled"] in (True, 1, "true", "t", "1")
        try:
            exp = float(r["expires"]) if r["expires"] is not None else None
        except (TypeError, ValueError):
            exp = None
        live = enabled and (exp is None or exp > now)
        if not include_expired and not live:
            continue
        raw = r["cidr"] if isinstance(r["cidr"], str) else ""
        try:
            canon = canonical(list_name, raw, pol)
            lab = _label(r["label"] if isinstance(r["label"], str) else "")
        except ListError as exc:
            log.warning("refused %s list row %s: %s", list_name, r["fsguard_list_entry_uuid"], exc)
            continue
        fam, start, end = parse_cidr(canon)
        checked.append((Entry(str(r["fsguard_list_entry_uuid"]), list_name, canon, lab, exp, enabled),
                        fam, start, end, live))
    out = [c[0] for c in checked]
    if list_name == "allow":
        out = _under_union_cap(checked)
    out.sort(key=lambda e: e.cidr)
    return out
