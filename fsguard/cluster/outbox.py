"""The local outbox: decisions made while PostgreSQL is unreachable, replayed in order later.

SQLite in ``<state_dir>/cluster/outbox.db`` (the state dir is root's; the directory is made 0700).
Written by the fail2ban action (inside fail2ban-server) and drained by whichever process reaches
the database first (the action on its next ban, or the service tick): ``drain`` holds SQLite's
write lock while it sends, so two drainers never send the same item twice at once, and the
decisions are idempotent in PostgreSQL anyway (a replay after a lost acknowledgement is a no-op).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Item = tuple[str, dict[str, Any]]  # (kind, body)
BATCH = 500


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        self.path = path
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.execute("pragma journal_mode=wal")
        self.conn.execute("create table if not exists outbox (id integer primary key autoincrement, "
                          "kind text not null, body text not null, queued real not null)")

    def add(self, kind: str, body: dict[str, Any]) -> None:
        self.conn.execute("insert into outbox (kind, body, queued) values (?, ?, ?)",
                          (kind, json.dumps(body, sort_keys=True), time.time()))

    def size(self) -> int:
        return int(self.conn.execute("select count(*) from outbox").fetchone()[0])

    def drain(self, send: Callable[[list[Item]], None]) -> int:
        """Send everything queued, oldest first, in batches; an item leaves the outbox only after
        ``send`` returned (its transaction committed). ``send`` raising stops the drain and keeps
        the rest (and the failed batch) for the next try."""
        done = 0
        while True:
            self.conn.execute("begin immediate")
            try:
                rows = self.conn.execute("select id, kind, body from outbox order by id limit ?",
                                         (BATCH,)).fetchall()
                if not rows:
                    self.conn.execute("commit")
                    return done
                send([(str(k), json.loads(b)) for _, k, b in rows])
                self.conn.execute("delete from outbox where id <= ?", (rows[-1][0],))
                self.conn.execute("commit")
                done += len(rows)
            except BaseException:
                self.conn.execute("rollback")
                raise

    def close(self) -> None:
        self.conn.close()
