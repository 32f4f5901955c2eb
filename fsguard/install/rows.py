"""Database rows fsguard adds to or changes in FusionPBX's PostgreSQL, and how to undo each one.

A :class:`RowOp` names one row by its uuid key. ``insert`` rows are fsguard's own (deterministic
uuids, so a second run finds them); ``update`` rows belong to FusionPBX and keep a before-image of
exactly the columns fsguard changed, so uninstall restores those and nothing else. Table and
column names come from fsguard's code only; every value is a named parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fsguard.store import Store, audit_now

_IDENT_OK = set("abcdefghijklmnopqrstuvwxyz_0123456789")


def _ident(name: str) -> str:
    # Identifiers are fsguard's constants; refuse anything else rather than quote it.
    if not name or set(name) - _IDENT_OK:
        raise ValueError(f"bad identifier {name!r}")
    return name


def norm(v: Any) -> Any:
    """Compare values the way they mean: numeric 999 == Decimal('999'), uuid objects as text."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, bool) or v is None or isinstance(v, int | float):
        return v
    return str(v)


@dataclass
class RowOp:
    table: str
    key: str
    uuid: str
    action: str  # insert | update | delete | restore
    values: dict[str, Any] = field(default_factory=dict)  # new values (all columns for insert)
    before: dict[str, Any] | None = None  # for update/restore: the columns' values before
    note: str = ""

    def describe(self) -> str:
        if self.action == "insert":
            cols = ", ".join(f"{k}={norm(v)!r}" for k, v in self.values.items() if k != self.key)
            return f"+ {self.table} {self.uuid}: {cols}\n"
        if self.action == "delete":
            return f"- {self.table} {self.uuid}" + (f" ({self.note})" if self.note else "") + "\n"
        parts = ", ".join(f"{k}: {norm((self.before or {}).get(k))!r} -> {norm(v)!r}" for k, v in self.values.items())
        return f"~ {self.table} {self.uuid}: {parts}\n"

    def journal(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "uuid": self.uuid, "action": self.action,
                "values": {k: norm(v) for k, v in self.values.items()},
                "before": None if self.before is None else {k: norm(v) for k, v in self.before.items()}}


def apply(store: Store, op: RowOp) -> None:
    t, k = _ident(op.table), _ident(op.key)
    if op.action == "insert":
        row = dict(op.values)
        row[op.key] = op.uuid
        row.setdefault("insert_date", audit_now())
        cols = [_ident(c) for c in row]
        store.execute(f"insert into {t} ({', '.join(cols)}) values ({', '.join(':' + c for c in cols)})", row)
    elif op.action in ("update", "restore"):
        vals = {_ident(c): v for c, v in op.values.items()}
        sets = ", ".join(f"{c} = :{c}" for c in vals)
        params = dict(vals, fsguard_key=op.uuid)
        store.execute(f"update {t} set {sets} where {k} = :fsguard_key", params)
    elif op.action == "delete":
        store.execute(f"delete from {t} where {k} = :fsguard_key", {"fsguard_key": op.uuid})
    else:
        raise ValueError(op.action)


def current(store: Store, table: str, key: str, uuid: str) -> dict[str, Any] | None:
    return store.query_one(f"select * from {_ident(table)} where {_ident(key)} = :k", {"k": uuid})


def merge_journal(old: list[dict[str, Any]], ops: list[RowOp]) -> list[dict[str, Any]]:
    """Journal after applying ``ops``: inserts recorded once; an update keeps the *first* before-image."""
    out = {(j["table"], j["uuid"]): j for j in old}
    for op in ops:
        j = op.journal()
        prev = out.get((op.table, op.uuid))
        if op.action == "delete":
            out.pop((op.table, op.uuid), None)
            continue
        if prev is None:
            out[(op.table, op.uuid)] = j
        elif prev["action"] == "update" and op.action == "update":
            before = dict(j["before"] or {})
            before.update(prev["before"] or {})
            prev["before"] = before
            prev["values"] = dict(prev["values"], **j["values"])
        elif prev["action"] == "insert" and op.action == "update":
            prev["values"] = dict(prev["values"], **j["values"])
    return list(out.values())


def reverse(store: Store, journal: list[dict[str, Any]]) -> tuple[list[RowOp], list[str]]:
    """Ops that undo the journal, and conflicts (rows changed by someone else since) left alone."""
    ops: list[RowOp] = []
    conflicts: list[str] = []
    for j in reversed(journal):
        cur = current(store, j["table"], j["key"], j["uuid"])
        if j["action"] == "insert":
            if cur is not None:
                ops.append(RowOp(j["table"], j["key"], j["uuid"], "delete", note="fsguard's row"))
            continue
        if cur is None:
            conflicts.append(f"{j['table']} {j['uuid']}: row was deleted since; nothing to restore")
            continue
        changed = [c for c, v in j["values"].items() if norm(cur.get(c)) != v]
        if changed:
            conflicts.append(f"{j['table']} {j['uuid']}: {', '.join(changed)} changed since install; left as is")
            continue
        ops.append(RowOp(j["table"], j["key"], j["uuid"], "restore", values=dict(j["before"] or {}),
                         before={c: cur.get(c) for c in (j["before"] or {})}))
    return ops, conflicts


def dumps(ops: list[RowOp]) -> str:
    return json.dumps([o.journal() for o in ops], indent=1)
