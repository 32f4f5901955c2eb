"""The store: SQLite (embedded default) or FusionPBX's PostgreSQL (psycopg2).

SQL is written once with ``:named`` parameters (FusionPBX's convention too) and translated for
psycopg2. Never format values into SQL text: attacker text is data.

Not imported inside FreeSWITCH call threads (a database call may block).
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard import settings
from fsguard.store import schema

if TYPE_CHECKING:
    from fs_python.config import Config

Row = dict[str, Any]

_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class StoreError(Exception):
    """The store cannot be opened or a statement failed."""


def new_uuid() -> str:
    return str(uuid.uuid4())


def now_epoch() -> float:
    return time.time()


def audit_now() -> str:
    return datetime.now(UTC).isoformat(sep=" ", timespec="seconds")


class Store:
    """A connection with named-parameter SQL and one-statement-or-transaction helpers."""

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        self._depth = 0

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def sqlite(cls, path: Path | str) -> Store:
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma busy_timeout=10000")
        return cls(conn, "sqlite")

    @classmethod
    def pgsql(cls, **params: Any) -> Store:
        try:
            import psycopg2
            import psycopg2.extras
        except ImportError:
            raise StoreError("python3-psycopg2 is not installed") from None
        try:
            conn = psycopg2.connect(connect_timeout=10, **params)
        except psycopg2.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from None
        conn.autocommit = True
        return cls(conn, "pgsql")

    def close(self) -> None:
        self.conn.close()

    # -- statements --------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        if self.kind == "pgsql":
            return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
        return sql

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement; return the affected row count."""
        cur = self.conn.cursor()
        try:
            cur.execute(self._sql(sql), dict(params or {}))
            return int(cur.rowcount)
        except Exception as exc:
            raise StoreError(f"store: {type(exc).__name__}: {str(exc).strip()}") from None
        finally:
            cur.close()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cur = self.conn.cursor()
        try:
            cur.execute(self._sql(sql), dict(params or {}))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, tuple(r), strict=True)) for r in cur.fetchall()]
        except Exception as exc:
            raise StoreError(f"store: {type(exc).__name__}: {str(exc).strip()}") from None
        finally:
            cur.close()

    def query_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All-or-nothing; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        if self.kind == "sqlite":
            self.conn.execute("begin immediate")
        else:
            self.conn.autocommit = False
        try:
            yield self
        except BaseException:
            self.conn.rollback() if self.kind == "pgsql" else self.conn.execute("rollback")
            raise
        else:
            self.conn.commit() if self.kind == "pgsql" else self.conn.execute("commit")
        finally:
            self._depth = 0
            if self.kind == "pgsql":
                self.conn.autocommit = True

    def insert(self, table: str, values: Mapping[str, Any]) -> str:
        """Insert a row into one of fsguard's tables, filling the key and audit columns."""
        t = schema.BY_NAME[table]
        row = dict(values)
        row.setdefault(t.key, new_uuid())
        row.setdefault("insert_date", audit_now())
        unknown = set(row) - set(t.column_names)
        if unknown:
            raise StoreError(f"{table}: unknown columns {sorted(unknown)}")
        cols = ", ".join(row)
        marks = ", ".join(":" + c for c in row)
        self.execute(f"insert into {table} ({cols}) values ({marks})", row)
        return str(row[t.key])

    def _upgrade_unique(self) -> None:
        """A database made before a table had its unique index may hold duplicates that would make
        ``create unique index`` fail: merge them first (the ``sql/`` migration that adds the index)."""
        for t in schema.TABLES:
            if not t.unique:
                continue
            name = schema.unique_index_name(t)
            if self.kind == "sqlite":
                has_table = self.query_one("select 1 as x from sqlite_master where type = 'table' and name = :n",
                                           {"n": t.name})
                has_index = self.query_one("select 1 as x from sqlite_master where type = 'index' and name = :n",
                                           {"n": name})
            else:
                has_table = self.query_one("select 1 as x from pg_tables where tablename = :n", {"n": t.name})
                has_index = self.query_one("select 1 as x from pg_indexes where indexname = :n", {"n": name})
            if not has_table or has_index:
                continue
            from fsguard.install import sqlgen

            for _v, fname, sql in sqlgen.migrations(self.kind):
                if name in sql and fname != "initial":
                    for stmt in sqlgen.statements(sql):
                        self.execute(stmt)

    def migrate(self) -> None:
        """Create fsguard's tables if missing, and add columns a newer schema has (idempotent):
        a store created by an older version must not refuse every insert that names a new column."""
        types = schema.PG_TYPES if self.kind == "pgsql" else schema.SQLITE_TYPES
        with self.transaction():
            self._upgrade_unique()
            for stmt in schema.ddl(self.kind).split(";\n"):
                if stmt.strip():
                    self.execute(stmt)
            for t in schema.TABLES:
                if self.kind == "pgsql":
                    have = {r["column_name"] for r in self.query(
                        "select column_name from information_schema.columns where table_schema = current_schema() "
                        "and table_name = :t", {"t": t.name})}
                else:
                    have = {r["name"] for r in self.query(f"pragma table_info({t.name})")}
                for name, typ in t.columns:
                    if name not in have:  # names and types are schema.py's constants, never input
                        self.execute(f"alter table {t.name} add column {name} {types[typ]}")


def pg_params(cfg: Config) -> dict[str, str]:
    """psycopg2 connection keywords from ``[store]``."""
    return {s.key: s.get(cfg) for s in settings.STORE_PG if s.get(cfg)}


def open_store(cfg: Config) -> Store:
    """Open the configured store and make sure fsguard's tables exist."""
    if cfg.store_kind == "pgsql":
        store = Store.pgsql(**pg_params(cfg))
    else:
        path = settings.STORE_PATH.get(cfg) or str(cfg.state_dir / "fsguard.db")
        store = Store.sqlite(path)
    store.migrate()
    return store


@contextmanager
def borrowed(cfg: Config, store: Store | None) -> Iterator[Store | None]:
    """Use ``store`` if the caller has one, else open the configured store for this block (and
    close it after). Yields None when the store cannot be opened: callers fall back to the last
    snapshot on disk, so a broken database never empties the whitelist."""
    if store is not None:
        yield store
        return
    try:
        own = open_store(cfg)
    except Exception:
        yield None
        return
    try:
        yield own
    finally:
        own.close()
