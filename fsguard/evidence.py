"""Evidence: every ban and unban, offenders behind whitelisted addresses, recent events.

Rows live in the store (``v_fsguard_bans``, ``v_fsguard_offenders``, ``v_fsguard_events``); all
SQL uses named parameters (attacker text is data). Used by the fail2ban action, the service loop
and ``fsguard why`` / ``offenders``.

Attacker text is stored escaped (``eventline.escape``: printable ASCII, ``\\xHH`` for control and
raw bytes): a parsed event field may hold any byte 0x00-0xFF (raw bytes come back as lone
surrogates, which no database accepts, NUL which PostgreSQL refuses). A batch is written in one
transaction; if the store refuses it anyway, each record is retried on its own and only the ones
refused are skipped and counted: one bad record never costs the tick's other evidence.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fs_python import eventline
from fsguard import settings

if TYPE_CHECKING:
    from fsguard.store import Store

MAX_MATCHES = 50  # lines kept per ban: enough to show a customer, bounded under a flood
MAX_LINE = 600
MAX_TEXT = 240  # escaped characters per stored attacker field
log = logging.getLogger("fsguard.evidence")
_SOFIA_USER = re.compile(r"(?:Can't find user|for) \[([^\[\]@\s]{0,128})@([^\[\]\s]{0,128})\]")


def evidence_from_matches(lines: Iterable[str], token: str | None) -> tuple[list[str], list[str]]:
    """User identities (user@domain) and user agents named in the matched lines, as the attacker
    sent them (raw text: escape when displaying; JSON in the store keeps control bytes escaped)."""
    users: list[str] = []
    agents: list[str] = []
    for line in lines:
        ev = eventline.parse(line, token) if token else None
        if ev is not None:
            user = ev.fields.get("user")
            if user is not None:
                ident = user + ("@" + ev.fields["domain"] if ev.fields.get("domain") else "")
                if ident not in users:
                    users.append(ident)
            ua = ev.fields.get("ua")
            if ua and ua not in agents:
                agents.append(ua)
            continue
        m = _SOFIA_USER.search(line)
        if m and f"{m.group(1)}@{m.group(2)}" not in users:
            users.append(f"{m.group(1)}@{m.group(2)}")
    return users[:100], agents[:100]


def record_ban(
    store: Store,
    *,
    ip: str,
    jail: str,
    start: float,
    seconds: int | None,
    failures: int,
    matches: list[str],
    users: list[str],
    agents: list[str],
    restored: bool = False,
    status: str = "banned",
    kernel: str | None = None,
) -> str:
    """``kernel``: whether the address reached the kernel set (``added``, ``failed: <why>``,
    ``skipped (...)``): a ban row never claims a block the kernel does not enforce."""
    end = None if seconds is None or seconds < 0 else start + seconds
    return str(store.insert("v_fsguard_bans", {
        "hostname": socket.gethostname(),
        "ip_address": ip,
        "jail": jail,
        "ban_start": float(start),
        "ban_end": end,
        "ban_seconds": seconds,
        "failure_count": int(failures),
        # the token never leaves root's files: masked before it is stored (the GUI shows these)
        "matches": json.dumps([eventline.mask_token(m)[:MAX_LINE] for m in matches[-MAX_MATCHES:]]),
        "user_names": json.dumps(users),
        "user_agents": json.dumps(agents),
        "restored": bool(restored),
        "ban_status": status,
        "kernel_status": None if kernel is None else stored_text(kernel, 200),
    }))


def prolong_ban(store: Store, *, ip: str, jail: str, seconds: int | None) -> int:
    """A repeat offender's longer ban (fail2ban's bantime.increment): new length and planned end."""
    permanent = seconds is None or seconds < 0
    return int(store.execute(
        "update v_fsguard_bans set ban_seconds = :s, ban_end = "
        + ("null" if permanent else "ban_start + :s")
        + " where ip_address = :ip and jail = :jail and ban_status = 'banned'",
        {"s": seconds, "ip": ip, "jail": jail}))


def record_unban(store: Store, *, ip: str, jail: str | None, when: float | None = None, reason: str) -> int:
    """Close the open ban rows of ``ip`` (in ``jail``, or all jails); return how many."""
    params: dict[str, Any] = {"ip": ip, "t": when or time.time(), "r": reason[:200]}
    sql = ("update v_fsguard_bans set ban_status = 'unbanned', unban_time = :t, unban_reason = :r "
           "where ip_address = :ip and ban_status in ('banned', 'ignored')")
    if jail:
        sql += " and jail = :jail"
        params["jail"] = jail
    return int(store.execute(sql, params))


def active_bans(store: Store, ip: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"now": now or time.time()}
    sql = ("select * from v_fsguard_bans where ban_status = 'banned' "
           "and (ban_end is null or ban_end > :now)")
    if ip:
        sql += " and ip_address = :ip"
        params["ip"] = ip
    return list(store.query(sql + " order by ban_start desc", params))


def bans_for(store: Store, ip: str, limit: int = 20) -> list[dict[str, Any]]:
    return list(store.query(
        "select * from v_fsguard_bans where ip_address = :ip order by ban_start desc limit :n",
        {"ip": ip, "n": int(limit)}))


def stored_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """Attacker text as the store keeps it: escaped to printable ASCII, capped; None stays None."""
    if value is None:
        return None
    return eventline.escape(value if isinstance(value, str) else str(value), limit)[0]


def _each_or_skip(store: Store, items: list[Any], write: Callable[[Any], None], what: str) -> int:
    """Write ``items`` in one transaction; if the store refuses, retry each on its own and skip the
    ones it still refuses. Returns how many were skipped."""
    from fsguard.store import StoreError

    try:
        with store.transaction():
            for item in items:
                write(item)
        return 0
    except StoreError as exc:
        log.warning("%s: batch of %d refused (%s); writing one by one", what, len(items), exc)
    skipped = 0
    for item in items:
        try:
            with store.transaction():
                write(item)
        except StoreError as exc:
            skipped += 1
            log.warning("%s: skipped one record: %s", what, str(exc)[:200])
    return skipped


OVERFLOW_IDENTITY = "(other identities)"  # the one row that counts identities beyond the cap
OFFENDER_IDENTITIES = settings.SERVICE_OFFENDER_IDENTITIES.default  # distinct identities kept per address
OFFENDERS_KEEP = 30 * 86400  # rows not seen for this long are pruned

_UPSERT = (
    "insert into v_fsguard_offenders (fsguard_offender_uuid, ip_address, user_identity, event_kind, failure_count,"
    " first_seen, last_seen, user_agent, whitelist_reason, insert_date)"
    " values (:id, :ip, :u, :k, :n, :first, :last, :ua, :r, :d)"
    " on conflict (ip_address, user_identity, event_kind) do update set"
    " failure_count = v_fsguard_offenders.failure_count + excluded.failure_count,"
    " last_seen = excluded.last_seen, user_agent = excluded.user_agent,"
    " whitelist_reason = excluded.whitelist_reason"
)


def add_offences(store: Store, counts: dict[tuple[str, str, str], tuple[int, float, float, str, str]],
                 cap: int = OFFENDER_IDENTITIES) -> int:
    """Upsert offender rows: key (ip, identity, kind) -> (count, first, last, user agent, reason).
    Returns how many were skipped (refused by the store).

    Bounded whatever an attacker sends: at most ``cap`` distinct identities per address, the rest
    are added to that address's one ``OVERFLOW_IDENTITY`` row. The cost is one indexed read of at
    most ``cap`` identities per address in the batch plus one indexed upsert per distinct key:
    independent of how many rows the table holds."""
    from fsguard.store import audit_now, new_uuid

    by_ip: dict[str, list[tuple[str, str]]] = {}
    for ip, ident, kind in counts:
        by_ip.setdefault(ip, []).append((ident, kind))
    stamp = audit_now()
    rows: list[dict[str, Any]] = []
    for ip, keys in by_ip.items():
        known = {r["user_identity"] for r in store.query(
            "select distinct user_identity from v_fsguard_offenders where ip_address = :ip limit :n",
            {"ip": ip, "n": cap + 2})}
        known.discard(OVERFLOW_IDENTITY)
        merged: dict[tuple[str, str], tuple[int, float, float, str | None, str | None]] = {}
        for ident_raw, kind in keys:
            n, first, last, ua_raw, reason_raw = counts[(ip, ident_raw, kind)]
            ident = stored_text(ident_raw, 200) or "-"
            if ident not in known:
                if len(known) >= cap:
                    ident = OVERFLOW_IDENTITY
                else:
                    known.add(ident)
            prev = merged.get((ident, kind))
            if prev is not None:
                n, first = n + prev[0], min(first, prev[1])
            merged[(ident, kind)] = (n, first, last, stored_text(ua_raw), stored_text(reason_raw, 300))
        rows += [{"id": new_uuid(), "ip": ip, "u": ident, "k": kind, "n": n, "first": first, "last": last,
                  "ua": ua, "r": reason, "d": stamp}
                 for (ident, kind), (n, first, last, ua, reason) in merged.items()]

    def upsert(row: dict[str, Any]) -> None:
        store.execute(_UPSERT, row)

    return _each_or_skip(store, rows, upsert, "offenders")


def prune_offenders(store: Store, older_than: float) -> int:
    return int(store.execute("delete from v_fsguard_offenders where last_seen < :t", {"t": older_than}))


def offenders(store: Store, ip: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"n": int(limit)}
    sql = "select * from v_fsguard_offenders"
    if ip:
        sql += " where ip_address = :ip"
        params["ip"] = ip
    return list(store.query(sql + " order by last_seen desc limit :n", params))


def record_events(store: Store, events: list[tuple[float, eventline.Event]]) -> int:
    """Store parsed events (fields escaped); returns how many were skipped (refused by the store)."""

    def one(item: tuple[float, eventline.Event]) -> None:
        when, ev = item
        f = ev.fields
        store.insert("v_fsguard_events", {
            "event_time": when, "event_kind": ev.kind, "ip_address": ev.ip,
            "user_name": stored_text(f.get("user")), "domain_name": stored_text(f.get("domain")),
            "number": stored_text(f.get("number")), "user_agent": stored_text(f.get("ua")),
            "profile_name": stored_text(f.get("profile")), "method": stored_text(f.get("method")),
        })

    return _each_or_skip(store, events, one, "events")


def prune_events(store: Store, older_than: float) -> int:
    return int(store.execute("delete from v_fsguard_events where event_time < :t", {"t": older_than}))
