"""Attack 8 (second half) and the bounded service loop: *Refresh Now* runs in a child process with
a time limit, never inside the service tick; a request left ``running`` (the service was killed)
is failed with a reason after the timeout. Time is forced, never slept on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fs_python import config
from fsguard import jobs, queue
from fsguard.store import Store, open_store
from tests.test_feed_attacks import drip
from tests.test_perimeter_feeds import FEED, Server, srv  # noqa: F401


def _cfg(tmp_path: Path, feed_url: str) -> config.Config:
    p = tmp_path / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n[firewall]\nbackend = dry-run\n"
                 f"[feeds]\nvoipbl = no\nextra = x={feed_url}\nretries = 0\ntimeout = 60\nrefresh_limit = 10\n")
    return config.load(p)


@pytest.fixture(autouse=True)
def _no_children() -> Iterator[None]:
    yield
    for child in jobs.CHILDREN.values():
        child.proc.kill()
        child.proc.wait()
    jobs.CHILDREN.clear()


def _queue(store: Store, action: str = "feeds_update", status: str = "pending", **extra: object) -> str:
    return store.insert("v_fsguard_actions", {"action_name": action, "action_argument": "", "action_status": status,
                                              "requested_by": "admin", **extra})


def _row(store: Store, uuid: str) -> dict[str, object]:
    row = store.query_one("select * from v_fsguard_actions where fsguard_action_uuid = :u", {"u": uuid})
    assert row is not None
    return row


def test_refresh_runs_in_a_child_and_reports_later(srv: Server, tmp_path: Path) -> None:  # noqa: F811
    srv.text("/feed", FEED)
    cfg = _cfg(tmp_path, f"{srv.url}/feed")
    store = open_store(cfg)
    try:
        uuid = _queue(store)
        [res] = queue.process_pending(cfg, store)
        assert res.status == "running" and _row(store, uuid)["action_status"] == "running"
        # Apply Firewall Now while the refresh runs: waits (pending), never a second child at once
        second = _queue(store, "firewall_apply")
        child = jobs.CHILDREN[uuid]
        assert queue.process_pending(cfg, store) == [] and _row(store, second)["action_status"] == "pending"
        assert child.proc.wait(timeout=120) == 0  # join the child (no sleep)
        row = _row(store, uuid)
        assert row["action_status"] == "done" and "x: updated (1002)" in str(row["action_result"])
        assert json.loads((cfg.state_dir / "feeds" / "x.json").read_text())["count"] == 1002
        [res2] = queue.process_pending(cfg, store)  # the refresh is reaped, the apply starts
        assert (res2.uuid, res2.status) == (second, "running") and uuid not in jobs.CHILDREN
        assert jobs.CHILDREN[second].proc.wait(timeout=120) == 0
        row = _row(store, second)
        assert row["action_status"] == "done" and "1002 set entries" in str(row["action_result"])
    finally:
        store.close()


def test_a_stalling_feed_never_holds_the_tick_and_is_stopped_at_the_limit(srv: Server, tmp_path: Path) -> None:  # noqa: F811
    done: list[bool] = []
    srv.routes["/feed"] = drip(1000, done)
    cfg = _cfg(tmp_path, f"{srv.url}/feed")
    store = open_store(cfg)
    try:
        uuid = _queue(store)
        t0 = time.time()
        [res] = queue.process_pending(cfg, store, now=t0)
        child = jobs.CHILDREN[uuid]
        # the tick is back while the download is still going on in the child
        assert res.status == "running" and child.proc.poll() is None and not done
        queue.process_pending(cfg, store, now=t0 + 5)  # within the limit: left alone
        assert child.proc.poll() is None and _row(store, uuid)["action_status"] == "running"
        queue.process_pending(cfg, store, now=t0 + 11)  # past refresh_limit = 10 s: stopped
        assert child.proc.poll() is not None and uuid not in jobs.CHILDREN
        row = _row(store, uuid)
        assert row["action_status"] == "failed" and "took longer than 10 s: stopped" in str(row["action_result"])
        assert not (cfg.state_dir / "feeds" / "x.json").exists()
    finally:
        store.close()


def test_a_row_left_running_by_a_killed_service_is_failed_after_the_timeout(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "http://127.0.0.1:9/feed")
    store = open_store(cfg)
    try:
        now = time.time()
        old = _queue(store, "firewall_apply", "running", update_date=jobs.iso(now - 2000))
        recent = _queue(store, "firewall_apply", "running", update_date=jobs.iso(now - 30))
        finished = _queue(store, "unban", "done", update_date=jobs.iso(now - 5000), action_result="ok")
        queue.process_pending(cfg, store, now=now, handlers={})
        assert _row(store, old)["action_status"] == "failed"
        assert "service stopped" in str(_row(store, old)["action_result"])
        assert _row(store, recent)["action_status"] == "running"  # may still be running elsewhere
        assert (_row(store, finished)["action_status"], _row(store, finished)["action_result"]) == ("done", "ok")
        # forced time moves past the timeout: the recent one is failed too
        queue.process_pending(cfg, store, now=now + jobs.limit(cfg) + jobs.GRACE + 1, handlers={})
        assert _row(store, recent)["action_status"] == "failed"
    finally:
        store.close()
