"""Cluster (issue 13): three nodes, each with its own namespace and kernel ban sets, on real
PostgreSQL; the real fail2ban action code decides bans, the real listener applies them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fsguard.cluster import publish
from fsguard.cluster.publish import apply_decision
from fsguard.ops import bans as ops_bans
from fsguard.service import Service
from fsguard.store import Store, open_store
from tests.clusterlab import Node, PrivatePG, close_nodes, wait_until
from tests.fsg4net import can_run
from tests.pgfix import fusion_db, pg_role  # noqa: F401

why = can_run()
SCANNER = "203.0.113.77"
CUSTOMER = "198.51.100.20"


@pytest.fixture
def nodes(fusion_db: dict[str, str], tmp_path: Path) -> Iterator[list[Node]]:  # noqa: F811
    if why:
        pytest.skip(why)
    made: list[Node] = []
    try:
        for name in ("a", "b", "c"):
            made.append(Node(name, fusion_db, tmp_path))
        for n in made:
            assert n.start(), f"node {n.name} did not load the cluster's bans"
        yield made
    finally:
        close_nodes(made)


def _store(node: Node) -> Store:
    return open_store(node.cfg)


def test_scanner_banned_on_a_is_dropped_at_b_and_c_with_evidence_naming_a(nodes: list[Node]) -> None:
    a, b, c = nodes
    a.ban(SCANNER)
    assert a.banned(SCANNER)
    assert wait_until(lambda: b.banned(SCANNER) and c.banned(SCANNER))
    store = _store(b)
    try:
        rows = store.query("select node_name, jail, ban_status from v_fsguard_cluster_bans where ip_address = :ip",
                           {"ip": SCANNER})
        assert rows == [{"node_name": "a", "jail": "fsguard-sip", "ban_status": "banned"}]
        ev = store.query("select hostname from v_fsguard_bans where ip_address = :ip", {"ip": SCANNER})
        assert ev == [{"hostname": "a"}]  # the evidence row names the deciding node
    finally:
        store.close()
    # B and C enforce in the kernel only: nothing was recorded as their own ban
    assert b.recorder._store is None or not b.recorder.store().query(
        "select 1 from v_fsguard_cluster_bans where node_name <> 'a'")


def test_customer_registered_on_a_failing_on_b_is_not_banned(nodes: list[Node]) -> None:
    a, b, _ = nodes
    now = time.time()
    (a.state / "fs").mkdir(parents=True, exist_ok=True)
    (a.state / "fs" / "registrations.json").write_text(json.dumps({"registrations": [
        {"ip": CUSTOMER, "user": "1001", "realm": "office.example", "expires": now + 600,
         "port": 5060, "proto": "udp", "profile": "internal"}]}))
    assert a.rt is not None and b.rt is not None
    assert a.rt.tick(now) == []
    assert b.rt.tick(now) == []
    from fs_python import whitelist

    verdict = whitelist.check(CUSTOMER, state_dir=b.state)
    assert verdict.whitelisted and "1001@office.example" in verdict.reasons[0] and "node a" in verdict.reasons[0]
    from fsguard.firewall import engine

    engine.apply(b.cfg, netns=b.lab.pbx)
    svc = Service(b.cfg, _store(b))
    try:
        assert CUSTOMER in svc.wanted(now)  # B's fail2ban ignore list includes A's customer
        svc.tick(now)  # B's service: its perimeter accepts A's customer ahead of feeds and countries
        assert CUSTOMER in b.lab.exec_pbx("nft", "list", "set", "inet", "fsguard", "reg4").stdout
    finally:
        rt = getattr(svc, "_cluster", None)
        if rt is not None:
            rt.stop()
        svc.store.close()
    b.ban(CUSTOMER)  # B's jail counted failures from the customer's office
    assert not b.banned(CUSTOMER)
    store = _store(b)
    try:
        assert store.query("select ban_status from v_fsguard_bans where ip_address = :ip", {"ip": CUSTOMER}) == [
            {"ban_status": "ignored"}]
        assert not store.query("select 1 from v_fsguard_cluster_bans where ip_address = :ip", {"ip": CUSTOMER})
    finally:
        store.close()
    # A dies: its customer stays shielded on B until the registration expires, not before
    a.stop()
    assert b.rt.tick(now + 300) == []
    assert CUSTOMER in Service(b.cfg, svc.store).wanted(now + 300)
    assert b.rt.tick(now + 601) == []
    assert not whitelist.check(CUSTOMER, state_dir=b.state, now=now + 601).whitelisted


def test_unban_on_c_lifts_on_a_and_b(nodes: list[Node]) -> None:
    a, b, c = nodes
    a.ban(SCANNER)
    assert wait_until(lambda: b.banned(SCANNER) and c.banned(SCANNER))
    store = _store(c)
    try:
        # `fsguard unban` on C (no fail2ban here: a note)
        res = ops_bans.unban(c.cfg, store, SCANNER, reason="fsguard unban (operator)")
    finally:
        store.close()
    assert res.kernel and not c.banned(SCANNER)
    assert wait_until(lambda: not a.banned(SCANNER) and not b.banned(SCANNER))


def test_another_nodes_ban_keeps_the_address_in_when_one_node_lifts_its_own(nodes: list[Node]) -> None:
    a, b, c = nodes
    a.ban(SCANNER)
    b.ban(SCANNER)
    assert c.rt is not None and a.rt is not None
    b_ban = ("ban", SCANNER, "b")
    assert wait_until(lambda: b_ban in c.rt.listener.seen and b_ban in a.rt.listener.seen)  # type: ignore[union-attr]
    a.recorder.unban({"ip": SCANNER})  # A's fail2ban: its own ban ended
    unban = ("unban", SCANNER, "a")
    assert wait_until(lambda: unban in c.rt.listener.seen and unban in a.rt.listener.seen)  # type: ignore[union-attr]
    assert c.banned(SCANNER) and b.banned(SCANNER)  # B's own ban still holds everywhere
    assert a.banned(SCANNER)  # A too: its own ban ended, B's goes on


def test_node_restarted_mid_attack_catches_up(nodes: list[Node]) -> None:
    a, b, _ = nodes
    b.stop()
    b.lab.exec_pbx("nft", "flush", "set", "inet", "fsguard", "ban4", check=False)  # a reboot empties it
    a.ban("203.0.113.81")
    a.ban("203.0.113.82", seconds=-1)
    assert publish.publisher(a.cfg).settle()  # A's decisions are in the database
    assert not b.banned("203.0.113.81")
    assert b.start()  # ready only after the bans in force are loaded
    assert b.banned("203.0.113.81") and b.banned("203.0.113.82")


def test_decisions_replayed_twice_make_one_row(nodes: list[Node]) -> None:
    a = nodes[0]
    store = _store(a)
    body = {"ip": "203.0.113.90", "jail": "fsguard-sip", "start": 1000.5, "secs": 60, "end": 1060.5, "t": 1.0}
    try:
        assert apply_decision(store, "a", "ban", body) is True
        assert apply_decision(store, "a", "ban", body) is False
        unban = {"ip": "203.0.113.90", "jail": "", "scope": "all", "reason": "x", "t": 2000.0}
        apply_decision(store, "a", "unban", unban)
        assert apply_decision(store, "a", "ban", body) is False  # an old replay never re-opens it
        assert store.query("select count(*) as n from v_fsguard_cluster_bans")[0]["n"] == 1
    finally:
        store.close()


def test_admin_list_change_on_a_reaches_b_kernel(nodes: list[Node]) -> None:
    from fsguard.cluster import hooks
    from fsguard.firewall import engine
    from fsguard.perimeter import lists

    a, b, _ = nodes
    engine.apply(b.cfg, netns=b.lab.pbx)  # B runs its ruleset
    assert "192.0.2.0/24" not in b.lab.exec_pbx("nft", "list", "table", "inet", "fsguard").stdout
    store = _store(a)
    try:
        lists.add(store, a.cfg, "deny", "192.0.2.0/24", "scanner net")  # `fsguard deny add` on A
    finally:
        store.close()
    hooks.lists_changed(a.cfg)
    assert b.rt is not None
    assert wait_until(lambda: ("lists", "None", "a") in b.rt.listener.seen)  # type: ignore[union-attr]
    assert not b.rt.listener.errors, list(b.rt.listener.errors)
    assert "192.0.2.0/24" in b.lab.exec_pbx("nft", "list", "table", "inet", "fsguard").stdout


def test_feeds_fetched_by_one_node_per_cycle_and_loaded_by_all(nodes: list[Node], tmp_path: Path) -> None:
    from fsguard.firewall import engine
    from fsguard.ops import perimeter

    src = tmp_path / "scanners.txt"
    src.write_text("198.51.100.0/24\n203.0.113.128/25\n")
    for n in nodes:
        n.cfg.parser.set("feeds", "voipbl", "no")
        n.cfg.parser.set("feeds", "extra", f"scan={src}")
    a, b, c = nodes
    engine.apply(b.cfg, netns=b.lab.pbx)
    res = perimeter.feeds_refresh(a.cfg, None, apply=False)  # A's cycle comes first: A fetches
    assert [(r.name, r.status, r.entries) for r in res.feeds] == [("scan", "updated", 2)]
    assert b.rt is not None
    assert wait_until(lambda: ("feeds", "None", "a") in b.rt.listener.seen)  # type: ignore[union-attr]
    assert not b.rt.listener.errors, list(b.rt.listener.errors)
    assert "203.0.113.128/25" in b.lab.exec_pbx("nft", "list", "table", "inet", "fsguard").stdout
    src.unlink()  # C fetching on its own now would fail: it must load A's copy instead
    res = perimeter.feeds_refresh(c.cfg, None, apply=False)
    assert [(r.name, r.status, r.entries) for r in res.feeds] == [("scan", "unchanged", 2)]
    assert (c.state / "feeds" / "scan.json").read_bytes() == (a.state / "feeds" / "scan.json").read_bytes()
    store = _store(c)
    try:
        assert store.query("select node_name from v_fsguard_cluster_files where file_name = 'feeds/scan.json'") == [
            {"node_name": "a"}]
    finally:
        store.close()


def test_cluster_status_command(nodes: list[Node], capsys: pytest.CaptureFixture[str]) -> None:
    from fsguard.cli import main

    a, b, c = nodes
    a.ban(SCANNER)
    assert wait_until(lambda: b.banned(SCANNER) and c.banned(SCANNER))
    for n in nodes:
        assert n.rt is not None and n.rt.tick() == []
    assert main(["--config", str(b.path), "--json", "cluster", "status"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["node"] == "b" and res["database"] == "ok" and res["local_outbox"] == 0
    by = {n["node"]: n for n in res["nodes"]}
    assert set(by) == {"a", "b", "c"} and all(n["alive"] for n in by.values())
    assert by["a"]["bans_in_force"] == 1 and by["b"]["bans_in_force"] == 0
    assert by["b"]["apply_lag"] is not None and by["b"]["apply_lag"] >= 0


@pytest.fixture
def private_pg() -> Iterator[PrivatePG]:
    if why:
        pytest.skip(why)
    pg = PrivatePG()
    try:
        yield pg
    finally:
        pg.close()


def test_postgres_down_mid_attack_bans_kept_and_replayed_exactly_once(private_pg: PrivatePG, tmp_path: Path) -> None:
    made = [Node(n, private_pg.params(), tmp_path) for n in ("a", "b", "c")]
    try:
        a, b, c = made
        for n in made:
            assert n.start()
        a.ban("203.0.113.101")
        assert wait_until(lambda: b.banned("203.0.113.101") and c.banned("203.0.113.101"))
        private_pg.stop()
        a.ban("203.0.113.102")  # the attack goes on: A still bans on its own
        a.ban("203.0.113.103")
        c.ban("203.0.113.104")
        assert publish.publisher(a.cfg).settle() and publish.publisher(c.cfg).settle()
        assert a.banned("203.0.113.102") and a.banned("203.0.113.103") and c.banned("203.0.113.104")
        assert publish.publisher(a.cfg).outbox.size() == 2 and publish.publisher(c.cfg).outbox.size() == 1
        assert not b.banned("203.0.113.102")
        private_pg.start()
        assert a.rt is not None and c.rt is not None
        a.rt.tick()
        c.rt.tick()
        a.rt.tick()  # a second replay attempt: nothing left, nothing doubled
        assert publish.publisher(a.cfg).outbox.size() == 0 and publish.publisher(c.cfg).outbox.size() == 0
        assert wait_until(lambda: all(n.banned(ip) for n in made for ip in (
            "203.0.113.102", "203.0.113.103", "203.0.113.104")))
        store = _store(b)
        try:
            rows = store.query("select ip_address, count(*) as n from v_fsguard_cluster_bans group by ip_address "
                               "order by ip_address")
        finally:
            store.close()
        assert rows == [{"ip_address": f"203.0.113.{i}", "n": 1} for i in (101, 102, 103, 104)]
    finally:
        close_nodes(made)


def test_benchmark_quick_runs() -> None:
    import re
    import subprocess
    import sys

    if why:
        pytest.skip(why)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_cluster.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ") and re.search(r"\d+\.\d+x", last) and " 0 missing" in last, last


def test_cluster_drill_simulate_three_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    from fsguard.cli import main

    if why:
        pytest.skip(why)
    before = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert main(["--json", "drill", "--simulate", "--nodes", "3"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] and rep["nodes"] == 3 and {c["step"] for c in rep["checks"]} == {0, 1, 2, 3, 4}
    after = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert not [n for n in after - before if n.startswith("fsgc-")]  # everything it made is gone
