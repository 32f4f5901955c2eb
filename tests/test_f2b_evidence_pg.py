"""Evidence, offenders and events on FusionPBX's real PostgreSQL (psycopg2), the same SQL as SQLite."""

from __future__ import annotations

import json
import time

from fs_python import eventline
from fsguard import evidence
from fsguard.store import Store
from tests.pgfix import fusion_db, pg_role  # noqa: F401


def test_evidence_round_trip_on_postgresql(fusion_db: dict[str, str]) -> None:  # noqa: F811
    store = Store.pgsql(host=fusion_db["host"], port=fusion_db["port"], user=fusion_db["user"],
                        password=fusion_db["password"], dbname=fusion_db["dbname"])
    try:
        store.migrate()
        now = time.time()
        hostile = "x'); drop table v_fsguard_bans; --"
        evidence.record_ban(store, ip="198.51.100.1", jail="fsguard-auth", start=now, seconds=3600, failures=5,
                            matches=[hostile], users=[hostile + "@d"], agents=["sipcli %s"], restored=False)
        evidence.record_ban(store, ip="198.51.100.2", jail="fsguard-scan", start=now, seconds=-1, failures=2,
                            matches=[], users=[], agents=[], restored=True, status="ignored")
        row = evidence.active_bans(store, "198.51.100.1", now=now + 10)[0]
        assert row["ban_end"] == now + 3600 and row["restored"] is False
        assert json.loads(row["matches"]) == [hostile] and json.loads(row["user_agents"]) == ["sipcli %s"]
        assert evidence.bans_for(store, "198.51.100.2")[0]["ban_end"] is None  # permanent
        assert not evidence.active_bans(store, "198.51.100.1", now=now + 7200)  # expired
        assert evidence.record_unban(store, ip="198.51.100.1", jail=None, reason="operator") == 1
        assert evidence.bans_for(store, "198.51.100.1")[0]["ban_status"] == "unbanned"
        key = ("203.0.113.5", "1000@pbx", "auth-failure")
        evidence.add_offences(store, {key: (3, now, now, "Yealink", "registered 1000@pbx")})
        evidence.add_offences(store, {key: (4, now, now + 5, "Yealink", "registered 1000@pbx")})
        (off,) = evidence.offenders(store, ip="203.0.113.5")
        assert off["failure_count"] == 7 and off["last_seen"] == now + 5
        ev = eventline.parse('FSGUARD tok12345678 not-found 203.0.113.9 number="%s"', "tok12345678")
        assert ev is not None
        evidence.record_events(store, [(now - 10 * 86400, ev), (now, ev)])
        assert evidence.prune_events(store, now - 86400) == 1
    finally:
        store.close()
