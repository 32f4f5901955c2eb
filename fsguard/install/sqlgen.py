"""``sql/``: fsguard's versioned DDL, generated from ``fsguard.store.schema`` (the one source of truth).

``sql/<kind>/V<NNN>__<name>.sql`` for ``pgsql`` and ``sqlite``. V001 is ``schema.ddl(kind)``; a later
schema change adds a file (``alter table ... add column``) rather than editing V001, so a database
built from any earlier version upgrades by applying the missing files in order. The test
``tests/test_sql_schema.py`` applies every file to real PostgreSQL and SQLite and checks the result
column-for-column against ``schema.TABLES``.

Run ``python -m fsguard.install.sqlgen`` to (re)write V001 and print what is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fsguard.store import schema

KINDS = ("pgsql", "sqlite")
HEADER = "-- fsguard schema {kind} V{version:03d}: {name}. Generated from fsguard/store/schema.py; do not edit.\n"
_FILE = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")


def sql_dir() -> Path:
    """``sql/`` next to the package in a checkout, or ``fsguard/data/sql`` when installed."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "sql", here / "data" / "sql"):
        if cand.is_dir():
            return cand
    return here.parent / "sql"


def initial(kind: str) -> str:
    return HEADER.format(kind=kind, version=1, name="initial") + schema.ddl(kind)


def migrations(kind: str, base: Path | None = None) -> list[tuple[int, str, str]]:
    """(version, name, sql text) of every migration file for ``kind``, in order."""
    d = (base or sql_dir()) / kind
    out: list[tuple[int, str, str]] = []
    for p in sorted(d.glob("V*.sql")) if d.is_dir() else []:
        m = _FILE.match(p.name)
        if m:
            out.append((int(m.group(1)), m.group(2), p.read_text(encoding="utf-8")))
    return out


def statements(sql: str) -> list[str]:
    """Split a migration into statements (our DDL has no semicolons inside literals)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def write(base: Path | None = None) -> list[Path]:
    """Write V001 for every kind (idempotent); return the files that changed."""
    changed: list[Path] = []
    for kind in KINDS:
        d = (base or sql_dir()) / kind
        d.mkdir(parents=True, exist_ok=True)
        p = d / "V001__initial.sql"
        text = initial(kind)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
            changed.append(p)
    return changed


if __name__ == "__main__":
    for path in write():
        sys.stdout.write(f"wrote {path}\n")
