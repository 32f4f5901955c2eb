"""Real PostgreSQL for the FusionPBX tests: a throwaway role and databases built from the real
FusionPBX schema and default rows (tests/data/fusionpbx, copied verbatim from
shared/reference/samples: dumped from a database FusionPBX's own upgrade code built).

Import the fixtures into a test module: ``from tests.pgfix import fusion_db, pg_role  # noqa: F401``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

DATA = Path(__file__).resolve().parent / "data" / "fusionpbx"
SCHEMA_SQL = DATA / "fusionpbx-schema.sql"
ROWS_SQL = DATA / "fusionpbx-default-rows.sql"


def psql_admin(sql: str, db: str = "postgres") -> str:
    proc = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", db,
                           "-c", sql], capture_output=True, text=True, check=False, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"psql: {proc.stderr.strip()}")
    return proc.stdout


def _available() -> bool:
    try:
        psql_admin("select 1")
        return True
    except (RuntimeError, OSError):
        return False


@pytest.fixture(scope="session")
def pg_role() -> Iterator[dict[str, str]]:
    if not _available():
        pytest.skip("PostgreSQL cluster not running (bash .ci/setup.sh starts it)")
    # unique per fixture instance: each test module importing this fixture gets its own session copy
    name = f"fsg_t{os.getpid()}_{secrets.token_hex(3)}"
    password = secrets.token_hex(12)
    psql_admin(f"create role {name} login createdb password '{password}'")
    tpl = f"{name}_tpl"
    psql_admin(f"create database {tpl} owner {name}")
    env = dict(os.environ, PGPASSWORD=password)
    for f in (SCHEMA_SQL, ROWS_SQL):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", name, "-d", tpl, "-v", "ON_ERROR_STOP=1", "-q",
                        "-f", str(f)], env=env, check=True, capture_output=True)
    role = {"user": name, "password": password, "host": "127.0.0.1", "port": "5432", "template": tpl}
    try:
        yield role
    finally:
        for db in psql_admin(f"select datname from pg_database where datname like '{name}%'").split():
            psql_admin(f"drop database if exists {db} with (force)")
        psql_admin(f"drop role if exists {name}")


@pytest.fixture
def fusion_db(pg_role: dict[str, str]) -> Iterator[dict[str, str]]:
    """A fresh database holding FusionPBX's real schema and default rows."""
    db = f"{pg_role['user']}_{secrets.token_hex(4)}"
    psql_admin(f"create database {db} owner {pg_role['user']} template {pg_role['template']}")
    try:
        yield dict(pg_role, dbname=db)
    finally:
        psql_admin(f"drop database if exists {db} with (force)")


def connect(db: dict[str, str]) -> Any:
    conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["user"], password=db["password"],
                            dbname=db["dbname"])
    conn.autocommit = True
    return conn


def snapshot(db: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: compare before/after byte for byte."""
    conn = connect(db)
    try:
        cur = conn.cursor()
        cur.execute("select table_name from information_schema.tables where table_schema = 'public' order by 1")
        out = {}
        for (t,) in cur.fetchall():
            cur.execute(f"select * from {t}")
            out[t] = sorted(tuple(str(v) for v in r) for r in cur.fetchall())
        return out
    finally:
        conn.close()
