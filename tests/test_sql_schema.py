"""sql/ and the FusionPBX app's app_config.php agree with fsguard/store/schema.py (the one source)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import psycopg2

from fsguard.install import appdef, sqlgen
from fsguard.store import schema
from tests.pgfix import fusion_db, pg_role  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PG_NAMES = {"uuid": "uuid", "text": "text", "boolean": "boolean", "integer": "integer",
            "double precision": "double precision", "timestamp with time zone": "timestamptz"}


def app_config() -> dict:
    code = "$x = 0; include $argv[1]; echo json_encode($apps[0]);"
    out = subprocess.run(["php", "-r", code, str(ROOT / "fusionpbx_app/app_config.php")], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_v001_is_generated_from_schema() -> None:
    for kind in sqlgen.KINDS:
        files = sqlgen.migrations(kind)
        assert files and files[0][:2] == (1, "initial")
        assert files[0][2] == sqlgen.initial(kind), f"sql/{kind}/V001 is stale: run python -m fsguard.install.sqlgen"
        assert [v for v, _, _ in files] == list(range(1, len(files) + 1)), "migration versions must be contiguous"


def test_sqlite_migrations_build_exactly_the_schema(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.db")
    for _, _, sql in sqlgen.migrations("sqlite"):
        for stmt in sqlgen.statements(sql):
            conn.execute(stmt)
    for t in schema.TABLES:
        cols = [(r[1], r[2].lower(), bool(r[5])) for r in conn.execute(f"pragma table_info({t.name})")]
        assert cols == [(c, schema.SQLITE_TYPES[ty], c == t.key) for c, ty in t.columns]
    conn.close()


def test_pgsql_migrations_build_exactly_the_schema_next_to_fusionpbx(fusion_db: dict[str, str]) -> None:  # noqa: F811
    conn = psycopg2.connect(host=fusion_db["host"], port=fusion_db["port"], user=fusion_db["user"],
                            password=fusion_db["password"], dbname=fusion_db["dbname"])
    conn.autocommit = True
    cur = conn.cursor()
    for _, _, sql in sqlgen.migrations("pgsql"):
        for stmt in sqlgen.statements(sql):
            cur.execute(stmt)
    for t in schema.TABLES:
        cur.execute("select column_name, data_type from information_schema.columns where table_name = %s "
                    "order by ordinal_position", (t.name,))
        assert [(c, PG_NAMES[d]) for c, d in cur.fetchall()] == [(c, schema.PG_TYPES[ty]) for c, ty in t.columns]
        cur.execute("select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
                    "and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary", (t.name,))
        assert cur.fetchall() == [(t.key,)]
        # FusionPBX convention: <singular>_uuid primary key, v_ prefix, audit columns last
        assert t.name.startswith("v_fsguard_") and t.key.endswith("_uuid")
        assert [c for c, _ in t.columns[-4:]] == ["insert_date", "insert_user", "update_date", "update_user"]
    conn.close()


def test_app_config_declares_the_same_tables_permissions_and_settings() -> None:
    app = app_config()
    assert app["uuid"] == appdef.APP_UUID and app["name"] == appdef.APP_NAME
    declared = {tbl["table"]["name"]: tbl["fields"] for tbl in app["db"]}
    assert list(declared) == [t.name for t in schema.TABLES]
    for t in schema.TABLES:
        fields = declared[t.name]
        assert [f["name"] for f in fields] == t.column_names
        for f, (_, ty) in zip(fields, t.columns, strict=True):
            assert f["type"]["pgsql"] == schema.PG_TYPES[ty] and f["type"]["sqlite"] == schema.SQLITE_TYPES[ty]
        keys = [f["name"] for f in fields if f.get("key", {}).get("type") == "primary"]
        assert keys == [t.key]
    assert {p["name"]: tuple(p["groups"]) for p in app["permissions"]} == appdef.PERMISSIONS
    assert [(s["default_setting_uuid"], s["default_setting_subcategory"], s["default_setting_name"],
             s["default_setting_value"]) for s in app["default_settings"]] == [
        (u, sub, ty, v) for u, sub, ty, v, _ in appdef.DEFAULT_SETTINGS]


def test_app_menu_is_the_entry_the_installer_adds() -> None:
    code = "$x = 0; include $argv[1]; echo json_encode($apps[0]['menu']);"
    menu = json.loads(subprocess.run(["php", "-r", code, str(ROOT / "fusionpbx_app/app_menu.php")],
                                     capture_output=True, text=True, check=True).stdout)
    assert len(menu) == 1
    m = menu[0]
    assert (m["uuid"], m["parent_uuid"], m["path"], tuple(m["groups"])) == (
        appdef.MENU_ITEM_UUID, appdef.STATUS_MENU_UUID, appdef.MENU_PATH, appdef.MENU_GROUPS)
    assert m["title"] == appdef.MENU_TITLES
