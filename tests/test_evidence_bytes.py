"""Attack 9: attacker bytes never blind the evidence. Any byte 0x00-0xFF (and CR, U+2028) in any SIP
field goes through the stand-in FreeSWITCH, the log, the service's tail and into the store escaped;
one record the store still refuses is skipped and counted, never the tick's batch."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fs_python import config, eventline
from fsguard import evidence
from fsguard.fakefs import Harness
from fsguard.service import Service
from fsguard.store import Store, StoreError, open_store
from tests import fsg_fixtures
from tests.fsg_fixtures import TOKEN
from tests.pgfix import fusion_db, pg_role  # noqa: F401

fs_env = fsg_fixtures.fs_env  # the fixture

EVIL = [b"bad\xff\xfeua", b"cr\rinside", "sep\u2028line".encode(), b"nul\x00byte", bytes(range(256)),
        b"\x85next", b"plain"]


def _service(tmp_path: Path, h: Harness) -> tuple[Service, Store]:
    assert h.switch.log_path is not None
    conf = fsg_fixtures.write_config(tmp_path, extra=(
        f"[fail2ban]\nlogpath = {h.switch.log_path}\nbackend = systemd\njail_dir =\n"
        f"socket = {tmp_path / 'no-fail2ban.sock'}\n"))
    cfg = config.load(conf)
    (cfg.state_dir / "whitelist.json").write_text(json.dumps({"version": 1, "written": time.time(), "entries": [
        {"cidr": "198.51.100.0/24", "source": "allow", "label": "office"}]}))
    store = open_store(cfg)
    return Service(cfg, store), store


def test_every_byte_in_every_field_is_stored_escaped(tmp_path: Path, fs_env: Harness) -> None:
    svc, store = _service(tmp_path, fs_env)
    try:
        assert fs_env.switch.log_path is not None
        fs_env.switch.log_path.touch()
        svc.tick()  # the tail starts at the end of the log
        for i, evil in enumerate(EVIL):
            # a scanner (events) and a phone behind the whitelisted office address (offenders)
            for ip in (f"203.0.113.{10 + i}", "198.51.100.7"):
                call = fs_env.dialplan("fs_python.not_found", network_ip=ip, variables={
                    "sip_network_ip": ip, "sip_user_agent": evil, "destination_number": evil, "sip_to_user": evil,
                    "sip_to_host": evil, "sip_from_user": evil})
                assert call.final == 404 and fs_env.switch.crashed is None
        res = svc.tick()
        assert res.skipped == 0 and not [e for e in res.errors if e.startswith("tail")], res.errors
        assert res.events == 2 * len(EVIL)
        rows = store.query("select * from v_fsguard_events order by ip_address")
        assert len(rows) == 2 * len(EVIL)
        for row in rows:
            for col in ("user_agent", "number", "domain_name"):
                value = row[col]
                assert value and value.isascii() and value.isprintable(), (col, value)
                assert "\r" not in value and "\x00" not in value
        uas = {r["user_agent"] for r in rows}
        assert "bad\\xff\\xfeua" in uas and "cr\\x0dinside" in uas and "sep\\u2028line" in uas
        assert "nul\\x00byte" in uas and "plain" in uas
        offenders = store.query("select * from v_fsguard_offenders")
        assert sum(r["failure_count"] for r in offenders) == len(EVIL)
        assert all(r["user_identity"].isascii() and r["user_identity"].isprintable() for r in offenders)
    finally:
        store.close()


class _Picky:
    """A real store that refuses one particular record (as a constraint or a broken row would)."""

    def __init__(self, store: Store, bad: str) -> None:
        self.store, self.bad = store, bad

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def insert(self, table: str, values: dict[str, Any]) -> str:
        if values.get("number") == self.bad:
            raise StoreError("store: refused")
        return self.store.insert(table, values)


def _events(n: int) -> list[tuple[float, eventline.Event]]:
    out = []
    for i in range(n):
        ev = eventline.parse(f'FSGUARD {TOKEN} not-found 203.0.113.{i + 1} number="n{i}"', TOKEN)
        assert ev is not None
        out.append((1000.0 + i, ev))
    return out


def test_one_refused_record_is_skipped_and_counted_not_the_batch(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    skipped = evidence.record_events(_Picky(store, "n3"), _events(8))  # type: ignore[arg-type]
    assert skipped == 1
    assert sorted(r["number"] for r in store.query("select number from v_fsguard_events")) == [
        f"n{i}" for i in range(8) if i != 3]
    store.close()


def test_postgresql_takes_every_byte(fusion_db: dict[str, str]) -> None:  # noqa: F811
    """PostgreSQL refuses NUL and lone surrogates in text: stored escaped, nothing is refused."""
    store = Store.pgsql(host=fusion_db["host"], port=fusion_db["port"], user=fusion_db["user"],
                        password=fusion_db["password"], dbname=fusion_db["dbname"])
    try:
        store.migrate()
        raw = bytes(range(256)).decode("utf-8", "surrogateescape")
        ev = eventline.Event("auth-failure", "203.0.113.5", {"user": raw, "domain": "d\x00", "ua": "\udcff",
                                                             "number": "\u2028", "profile": "\r", "method": "\x85"})
        assert evidence.record_events(store, [(1.0, ev)]) == 0
        assert evidence.add_offences(store, {("203.0.113.5", raw, "auth-failure"): (1, 1.0, 1.0, "\udcff",
                                                                                    "registered \x00")}) == 0
        (row,) = store.query("select * from v_fsguard_events")
        assert row["user_name"].startswith("\\x00\\x01") and row["user_agent"] == "\\xff"
        assert row["number"] == "\\u2028"
        (off,) = evidence.offenders(store)
        assert off["user_agent"] == "\\xff" and off["whitelist_reason"] == "registered \\x00"
    finally:
        store.close()


def test_unescaped_text_would_be_refused(tmp_path: Path) -> None:
    """Why escaping matters: the store itself refuses a lone surrogate (a raw byte from the wire)."""
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    with pytest.raises(StoreError):
        store.insert("v_fsguard_events", {"event_time": 1.0, "event_kind": "not-found", "user_agent": "\udcff"})
    store.close()


def test_an_older_store_gets_the_new_columns(tmp_path: Path) -> None:
    """A store created before kernel_status/action_expires existed is upgraded in place."""
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("create table v_fsguard_bans (fsguard_ban_uuid text primary key, ip_address text, "
                 "ban_status text, insert_date text)")
    conn.commit()
    conn.close()
    store = Store.sqlite(path)
    store.migrate()
    store.insert("v_fsguard_bans", {"ip_address": "198.51.100.1", "ban_status": "banned", "kernel_status": "added"})
    assert store.query("select kernel_status from v_fsguard_bans") == [{"kernel_status": "added"}]
    store.migrate()  # idempotent
    store.close()
