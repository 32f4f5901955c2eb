"""Long GUI requests run in a child process, never inside the service tick; no request stays
``running`` forever.

*Refresh Now* downloads every feed (seconds to minutes, at the mercy of remote servers) and
*Apply Firewall Now* loads a ruleset (seconds next to 200k feed entries). Run inside the tick the
refresh stopped the ignore-list sync meanwhile, so registrations stopped reaching fail2ban and a
customer could be banned. Now the tick only starts a child (one at a time; further background
requests stay pending until it ends) (a fresh ``python3 -I`` with an explicit
path to this package, as root runs everything else) and returns; the child writes the outcome to
the request row itself. Each later tick looks at the child without blocking: past its time limit it
is killed and the row failed with the reason. The child also arms ``SIGALRM`` with the same limit,
so it ends even when the service that started it was killed.

A row ``running`` that no live child of this service owns and that has not changed for longer than
any request may take was left by a service that was killed mid-request: it is failed with a reason.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fsguard import settings

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.jobs")
DEFAULT_LIMIT = settings.FEEDS_REFRESH_LIMIT.default  # a feed refresh (APIBAN paging is bounded at 900 s too)
KINDS = ("feeds_update", "firewall_apply")  # the requests that run in a child
GRACE = 60  # a running row unchanged for limit + GRACE seconds is stale


class Deferred(Exception):  # noqa: N818 - a signal to the queue, not an error
    """The request runs in a child; its row is finished later."""


@dataclass
class Child:
    uuid: str
    proc: subprocess.Popen[bytes]
    started: float  # wall clock (the tick's ``now``)
    limit: float


CHILDREN: dict[str, Child] = {}  # this service process's children, by request uuid


def limit(cfg: Config | None) -> int:
    return DEFAULT_LIMIT if cfg is None else max(10, settings.FEEDS_REFRESH_LIMIT.get(cfg))


def iso(epoch: float) -> str:
    """``epoch`` as the audit columns store it (``store.audit_now`` format)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(sep=" ", timespec="seconds")


def busy() -> bool:
    """A child is running: further background requests wait (stay pending) until it ends."""
    return any(c.proc.poll() is None for c in CHILDREN.values())


def spawn(cfg: Config, uuid: str, kind: str, now: float) -> Child:
    """Start request ``uuid`` (one of KINDS) in a child; the row stays ``running`` until the child
    writes its outcome or :func:`reap` fails it."""
    if kind not in KINDS:
        raise ValueError(f"not a background request: {kind!r}")
    root = str(Path(__file__).resolve().parent.parent)  # the directory holding this package (root-owned)
    code = "import sys; sys.path.insert(0, sys.argv[1]); from fsguard import jobs; jobs.child_main(sys.argv[2:])"
    lim = limit(cfg)
    proc = subprocess.Popen([sys.executable, "-I", "-c", code, root, str(cfg.path), uuid, str(lim), kind],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # stderr: the journal
                            close_fds=True, start_new_session=True)
    child = Child(uuid, proc, now, lim)
    CHILDREN[uuid] = child
    return child


def child_main(argv: list[str]) -> None:
    """In the child: run the refresh, write the outcome to the request row."""
    from fs_python import config
    from fsguard import queue
    from fsguard.store import open_store

    path, uuid, lim, kind = argv[0], argv[1], int(argv[2]), argv[3]
    signal.alarm(lim)  # default action ends the process: bounded even if the parent is gone
    cfg = config.load(path)
    store = open_store(cfg)
    started = time.monotonic()
    try:
        run = queue.feeds_update_now if kind == "feeds_update" else queue.firewall_apply_now
        msg, status = run(cfg, store), "done"
        msg += f" ({time.monotonic() - started:.1f}s)"
    except Exception as exc:
        msg, status = f"{type(exc).__name__}: {exc}", "failed"
    queue.finish(store, uuid, status, msg)
    store.close()


def reap(store: Store, now: float) -> list[str]:
    """Look at every child without blocking; kill the ones past their limit. Returns the uuids
    of requests that ended here (killed, or died without writing their outcome)."""
    from fsguard import queue

    ended = []
    for uuid, child in list(CHILDREN.items()):
        code = child.proc.poll()
        if code is None and now - child.started <= child.limit:
            continue
        if code is None:
            child.proc.kill()
            child.proc.wait()
            reason = (f"took longer than {child.limit:.0f} s: stopped; the last good feeds and ruleset "
                      "stay in force")
        else:
            reason = f"the background process ended with code {code} without a result"
        del CHILDREN[uuid]
        # only a row still running gets the reason (a child that finished wrote its own outcome)
        if store.execute("update v_fsguard_actions set action_status = 'failed', action_result = :r, "
                         "update_date = :d where fsguard_action_uuid = :u and action_status = 'running'",
                         {"r": reason[:queue.MAX_RESULT], "d": iso(now), "u": uuid}) == 1:
            log.warning("request %s: %s", uuid, reason)
            ended.append(uuid)
    return ended


def fail_stale(store: Store, cfg: Config | None, now: float) -> int:
    """Fail ``running`` rows no child of ours owns that have not changed for longer than any request
    may take (a service killed mid-request left them). Returns how many."""
    cutoff = iso(now - limit(cfg) - GRACE)
    rows = store.query("select fsguard_action_uuid from v_fsguard_actions where action_status = 'running' "
                       "and coalesce(update_date, insert_date) < :c", {"c": cutoff})
    n = 0
    for row in rows:
        uuid = str(row["fsguard_action_uuid"])
        if uuid in CHILDREN:
            continue
        n += store.execute(
            "update v_fsguard_actions set action_status = 'failed', action_result = :r, update_date = :d "
            "where fsguard_action_uuid = :u and action_status = 'running'",
            {"r": "no result: the fsguard service stopped while this request ran; ask again",
             "d": iso(now), "u": uuid})
    if n:
        log.warning("failed %d request(s) left running by a stopped service", n)
    return n
