"""Contract 7: the GUI action queue, validated again by the consumer, never a shell string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fs_python import config
from fsguard import queue
from fsguard.firewall import bans
from fsguard.store import Store


@pytest.fixture
def env(tmp_path: Path) -> tuple[Any, Store]:
    p = tmp_path / "fsguard.conf"
    # fail2ban's socket is a path nobody listens on: never the host's fail2ban
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\nevent_token = t0k3n0000\n"
                 f"[fail2ban]\nsocket = {tmp_path / 'no-fail2ban.sock'}\n[firewall]\nbackend = dry-run\n")
    cfg = config.load(p)
    store = Store.sqlite(tmp_path / "s.db")
    store.migrate()
    return cfg, store


def ask(store: Store, action: str, arg: str = "", label: str = "", user: str = "admin") -> str:
    return store.insert("v_fsguard_actions", {"action_name": action, "action_argument": arg, "action_label": label,
                                              "action_status": "pending", "requested_by": user})


def status(store: Store, uuid: str) -> tuple[str, str]:
    row = store.query_one("select action_status, action_result from v_fsguard_actions "
                          "where fsguard_action_uuid = :u", {"u": uuid})
    assert row is not None
    return row["action_status"], row["action_result"]


def test_hostile_or_unknown_requests_are_rejected_before_any_handler(env: tuple[Any, Store]) -> None:
    cfg, store = env
    calls: list[tuple[str, str]] = []

    def record(cfg: Any, store: Any, req: queue.Request) -> str:
        calls.append((req.action, req.argument))
        return "ok"

    handlers = dict.fromkeys(queue.ACTIONS, record)
    bad = [ask(store, "unban", "198.51.100.7; rm -rf /"), ask(store, "shell", "id"),
           ask(store, "allow", "$(reboot)"), ask(store, "firewall_apply", "--flush"),
           ask(store, "deny", "203.0.113.0/24", label="evil\nlabel"), ask(store, "unban", "10.0.0.1", user="x" * 65)]
    good = [ask(store, "unban", " 198.51.100.7 "), ask(store, "allow", "192.0.2.9/24", label="office")]
    results = queue.process_pending(cfg, store, handlers=handlers)
    assert [status(store, u)[0] for u in bad] == ["rejected"] * len(bad)
    assert "not an IP address" in status(store, bad[0])[1]
    assert [status(store, u)[0] for u in good] == ["done", "done"]
    # arguments reach handlers canonical: stripped IP, network address of the CIDR
    assert sorted(calls) == [("allow", "192.0.2.0/24"), ("unban", "198.51.100.7")]
    assert len(results) == len(bad) + len(good)
    assert queue.process_pending(cfg, store, handlers=handlers) == []  # nothing pending twice


def test_unban_lifts_kernel_ban_and_closes_evidence(env: tuple[Any, Store]) -> None:
    cfg, store = env
    bans.add_ban(cfg, "203.0.113.5", 3600)
    store.insert("v_fsguard_bans", {"ip_address": "203.0.113.5", "jail": "fsguard-auth", "ban_status": "banned",
                                    "ban_start": 1.0, "ban_end": 4e9})
    u = ask(store, "unban", "203.0.113.5", user="alice")
    (res,) = queue.process_pending(cfg, store)
    assert res.status == "done", res.message
    assert not bans.is_banned(cfg, "203.0.113.5")
    row = store.query_one("select ban_status, unban_reason from v_fsguard_bans")
    assert row == {"ban_status": "unbanned", "unban_reason": "GUI unban by alice"}
    assert status(store, u)[0] == "done"


def test_allow_saves_entry_and_queues_the_firewall_reapply(env: tuple[Any, Store],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry, its unban and the snapshot take effect in the tick; the ruleset load (seconds next
    to big feeds) is queued as a firewall_apply request, which runs in a background child."""
    cfg, store = env
    from fsguard.ops import perimeter

    def inline(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the ruleset must not be loaded inside the service tick")

    monkeypatch.setattr(perimeter, "applied_before", lambda cfg: True)
    monkeypatch.setattr(perimeter, "firewall_apply", inline)
    bans.add_ban(cfg, "198.51.100.20", None)
    u = ask(store, "allow", "198.51.100.20", label="customer PBX")
    (res,) = queue.process_pending(cfg, store)
    assert res.status == "done" and "firewall re-apply queued" in res.message, res.message
    entry = store.query_one("select list_name, cidr, label from v_fsguard_list_entries")
    assert entry == {"list_name": "allow", "cidr": "198.51.100.20/32", "label": "customer PBX"}
    assert not bans.is_banned(cfg, "198.51.100.20")  # whitelisting a single address lifts its ban
    assert status(store, u)[0] == "done"
    assert store.query("select action_status from v_fsguard_actions where action_name = 'firewall_apply'") == [
        {"action_status": "pending"}]


def test_a_handler_crash_is_reported_not_raised(env: tuple[Any, Store]) -> None:
    cfg, store = env

    def boom(cfg: Any, store: Any, req: queue.Request) -> str:
        raise OSError("feed server down")

    u = ask(store, "feeds_update")
    (res,) = queue.process_pending(cfg, store, handlers={"feeds_update": boom})
    assert res.status == "failed" and status(store, u) == ("failed", "OSError: feed server down")
