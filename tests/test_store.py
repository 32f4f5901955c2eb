"""The store: named parameters, all-or-nothing transactions, idempotent migration (SQLite)."""

from pathlib import Path

import pytest

from fsguard.store import Store, StoreError, schema


def test_migrate_is_idempotent_and_creates_every_table(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    store.migrate()
    names = {r["name"] for r in store.query("select name from sqlite_master where type = 'table'")}
    assert {t.name for t in schema.TABLES} <= names


def test_attacker_text_is_data(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    hostile = "x'); drop table v_fsguard_bans; --:ip %s"
    key = store.insert("v_fsguard_bans", {"ip_address": "192.0.2.1", "user_names": hostile})
    row = store.query_one("select user_names from v_fsguard_bans where fsguard_ban_uuid = :k", {"k": key})
    assert row == {"user_names": hostile}


def test_transaction_rolls_back_everything(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("v_fsguard_list_entries", {"list_name": "allow", "cidr": "192.0.2.0/24"})
        with store.transaction():  # nested joins the outer one
            store.insert("v_fsguard_list_entries", {"list_name": "deny", "cidr": "198.51.100.0/24"})
        raise RuntimeError("half-way failure")
    assert store.query("select * from v_fsguard_list_entries") == []


def test_unknown_column_refused(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    with pytest.raises(StoreError):
        store.insert("v_fsguard_bans", {"ip_address": "192.0.2.1", "nope": 1})


def test_pg_named_parameters_translate() -> None:
    store = Store(conn=None, kind="pgsql")
    assert store._sql("select x::text from t where a = :a and b like '5%'") == (
        "select x::text from t where a = %(a)s and b like '5%%'")


def test_borrowed_uses_given_store_opens_own_or_yields_none(tmp_path: Path) -> None:
    from fs_python import config
    from fsguard.store import borrowed

    given = Store.sqlite(tmp_path / "given.db")
    conf = tmp_path / "c.conf"
    conf.write_text(f"[fsguard]\nstate_dir = {tmp_path}\n")
    cfg = config.load(conf)
    with borrowed(cfg, given) as st:
        assert st is given
    with borrowed(cfg, None) as st:
        assert st is not None and st is not given
        assert st.query("select count(*) as n from v_fsguard_bans") == [{"n": 0}]
    # A store that cannot be opened (its path is a directory) yields None: callers fall back.
    (tmp_path / "isdir.db").mkdir()
    conf.write_text(f"[fsguard]\nstate_dir = {tmp_path}\n[store]\npath = {tmp_path / 'isdir.db'}\n")
    with borrowed(config.load(conf), None) as st:
        assert st is None
