"""Allow/deny lists in the store, the whitelist snapshot (contract 2), carriers (config and the
FusionPBX ``providers`` ACL in a real PostgreSQL), memberships (contract 5), and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fs_python import config
from fsguard.perimeter import carriers, lists, membership, snapshot, update
from fsguard.store import Store, open_store
from tests.pgfix import connect, fusion_db, pg_role  # noqa: F401

FIXTURE = Path(__file__).parent / "data" / "perimeter" / "delegated-fsg-extended-latest"


def _cfg(tmp_path: Path, more: str = "") -> config.Config:
    p = tmp_path / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n[firewall]\nbackend = dry-run\n{more}")
    return config.load(p)


def test_add_list_delete_and_validation(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    e, created = lists.add(store, cfg, "allow", "192.0.2.77/24", "office")
    assert created and e.cidr == "192.0.2.0/24"
    _, created2 = lists.add(store, cfg, "allow", "192.0.2.0/24", "office 2")
    assert not created2 and lists.entries(store, "allow")[0].label == "office 2"
    lists.add(store, cfg, "allow", "10.0.0.0/8", "lan")  # private is fine on the allow list
    for bad in ("10.0.0.0/8", "127.0.0.1", "0.0.0.0/0", "1.2.3.4/40", "x", "fe80::1"):
        with pytest.raises(lists.ListError):
            lists.add(store, cfg, "deny", bad)
    with pytest.raises(lists.ListError):
        lists.add(store, cfg, "allow", "::/0")
    with pytest.raises(lists.ListError):
        lists.add(store, cfg, "allow", "192.0.2.1", "bad\nlabel")
    with pytest.raises(lists.ListError):
        lists.add(store, cfg, "deny", "45.1.1.1", expires=time.time() - 5)
    assert [r.cidr for r in lists.entries(store, "deny")] == []
    lists.add(store, cfg, "deny", "45.1.1.1", "scanner", expires=time.time() + 60)
    lists.add(store, cfg, "deny", "2a01:4f8::1")
    assert [r.cidr for r in lists.entries(store, "deny")] == ["2a01:4f8::1/128", "45.1.1.1/32"]
    assert [r.cidr for r in lists.entries(store, "deny", now=time.time() + 120)] == ["2a01:4f8::1/128"]
    assert lists.delete(store, cfg, "deny", "45.1.1.1") == 1
    assert lists.delete(store, cfg, "deny", "45.1.1.1") == 0
    store.close()


def test_whitelist_snapshot_contract(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[carriers]\ncidrs = 203.0.113.7 198.51.100.0/28\n")
    store = open_store(cfg)
    lists.add(store, cfg, "allow", "192.0.2.0/24", "office")
    path = snapshot.write_from_store(cfg, store)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and isinstance(doc["written"], float)
    assert doc["entries"] == [
        {"cidr": "192.0.2.0/24", "source": "allow", "label": "office"},
        {"cidr": "203.0.113.7/32", "source": "carrier", "label": "config"},
        {"cidr": "198.51.100.0/28", "source": "carrier", "label": "config"},
    ]
    # the consumer (contract 3) reads it
    from fs_python import whitelist

    v = whitelist.check("192.0.2.9", state_dir=cfg.state_dir)
    assert v.whitelisted and any("office" in r for r in v.reasons)
    store.close()


def test_carriers_refuse_broad_entries(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[carriers]\ncidrs = 0.0.0.0/0 5.0.0.0/7 203.0.113.7\n")
    got, errors = carriers.from_config(cfg)
    assert [c.cidr for c in got] == ["203.0.113.7/32"] and len(errors) == 2


def test_fusionpbx_providers_acl(fusion_db: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    conn = connect(fusion_db)
    cur = conn.cursor()
    cur.execute("select access_control_uuid from v_access_controls where access_control_name = 'providers'")
    (acl,) = cur.fetchone()
    for node_type, cidr, desc in (("allow", "198.51.100.10/32", "carrier A"), ("allow", "203.0.113.0/28", None),
                                  ("deny", "198.51.100.99/32", "not a carrier"), ("allow", "0.0.0.0/0", "oops"),
                                  ("allow", "", "domain-only node")):
        cur.execute("insert into v_access_control_nodes (access_control_node_uuid, access_control_uuid, node_type, "
                    "node_cidr, node_description) values (gen_random_uuid(), %s, %s, %s, %s)",
                    (acl, node_type, cidr, desc))
    conn.close()
    store = Store.pgsql(host=fusion_db["host"], port=fusion_db["port"], user=fusion_db["user"],
                        password=fusion_db["password"], dbname=fusion_db["dbname"])
    cfg = _cfg(tmp_path, "[carriers]\ncidrs = 192.0.2.5\n")
    got, errors = carriers.carriers(cfg, store)
    assert [(c.cidr, c.label, c.source) for c in got] == [
        ("192.0.2.5/32", "config", "config"),
        ("198.51.100.10/32", "carrier A", "fusionpbx:providers"),
        ("203.0.113.0/28", "providers", "fusionpbx:providers"),
    ]
    assert len(errors) == 1 and "0.0.0.0/0" in errors[0]
    # the rfc1918 list's allow nodes are not carriers
    assert not any(c.cidr == "10.0.0.0/8" for c in got)
    store.close()


def test_memberships(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("198.51.100.0/24\n45.1.1.1\n")
    cfg = _cfg(tmp_path, f"[feeds]\nvoipbl = no\nextra = local={feed}\naccept_test_ranges = yes\n"
               f"[countries]\nallow = NL\nsources = {FIXTURE}\n[carriers]\ncidrs = 203.0.113.7\n")
    store = open_store(cfg)
    lists.add(store, cfg, "allow", "198.51.100.9", "customer")
    lists.add(store, cfg, "deny", "198.51.100.0/25", "scanners")
    update.update_all(cfg)
    from fsguard.perimeter import countries

    countries.refresh(cfg)
    got = membership.memberships(cfg, "198.51.100.9", store=store)
    kinds = {(m.list_name, m.source) for m in got}
    assert kinds == {("whitelist", "allow"), ("blacklist", "deny"), ("feed", "local"),
                     ("country", "RIR delegation files"), ("carrier-rule", "firewall"), ("decision", "firewall")}
    assert any(m.detail.startswith("not a carrier: refused on port 5080 by the carrier rule (1 carrier(s) known, "
                                   "from config") for m in got)
    assert got[-1].detail == "accepted on the SIP ports: admin whitelist"  # the whitelist wins
    assert any("outside the allowed countries (NL)" in m.detail for m in got)
    assert any(m.detail == "admin whitelist 198.51.100.9/32 (customer)" for m in got)
    car = membership.memberships(cfg, "203.0.113.7", store=store)
    assert ("carrier", "config") in {(m.list_name, m.source) for m in car}
    assert any("in an allowed country" in m.detail for m in car)
    assert any(m.detail == "a carrier: accepted on port 5080 by the carrier rule" for m in car)
    # no list at all: the decision names the carrier rule on 5080 (and the country rule)
    other = membership.memberships(cfg, "45.2.2.2", store=store)
    assert other[-1].detail.endswith("; not a carrier: refused on port 5080 by the carrier rule"), other[-1]
    # no carrier known: 5080 is open, and why says so
    (tmp_path / "o").mkdir()
    open_cfg = _cfg(tmp_path / "o", "[feeds]\nvoipbl = no\n")
    opened = membership.memberships(open_cfg, "45.2.2.2")
    assert any(m.detail == "port 5080 open to every address: no carrier rule (no carrier is known)" for m in opened)
    assert opened[-1].detail == "accepted on the SIP ports (no list matches)"
    with pytest.raises(ValueError):
        membership.memberships(cfg, "not-an-ip", store=store)
    store.close()


def _fsguard(cfg_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsguard.cli", "--config", str(cfg_path), *args],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)


def test_cli_lists_and_feeds(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("45.1.1.1\n45.1.1.2\n10.0.0.1\nrm -rf /\n")
    _cfg(tmp_path, f"[feeds]\nvoipbl = no\nextra = local={feed}\n")
    cp = tmp_path / "fsguard.conf"
    r = _fsguard(cp, "allow", "add", "192.0.2.0/24", "--label", "office", "--expires", "30d")
    assert r.returncode == 0 and "added allow 192.0.2.0/24" in r.stdout
    r = _fsguard(cp, "deny", "add", "127.0.0.1")
    assert r.returncode == 2 and "loopback" in r.stderr
    r = _fsguard(cp, "--json", "allow", "list")
    assert json.loads(r.stdout)["result"][0]["label"] == "office"
    r = _fsguard(cp, "allow", "del", "192.0.2.1")
    assert r.returncode == 3
    r = _fsguard(cp, "feeds", "update")
    assert r.returncode == 0, r.stderr
    assert "local: updated, 2 entries in force, +2 -0, 2 rejected" in r.stdout
    assert "private (RFC 1918)" in r.stdout and "not an IP address" in r.stdout
    assert "local: fetching" in r.stderr  # progress
    r = _fsguard(cp, "feeds", "status")
    assert "local" in r.stdout and "updated" in r.stdout
    feed.write_text("")
    r = _fsguard(cp, "feeds", "update")
    assert r.returncode == 8 and "refused" in r.stdout
    r = _fsguard(cp, "firewall", "render")
    assert r.returncode == 0 and "table inet fsguard" in r.stdout and "45.1.1.1" in r.stdout
    r = _fsguard(cp, "firewall", "render", "--backend", "iptables")
    assert "add fsguard-feed4-n 45.1.1.2" in r.stdout and ":FSGUARD-SIP" in r.stdout


def test_allow_breadth_floor_and_union_cap(tmp_path: Path) -> None:
    """Attack 7 on the Python side: no allow entry or set of entries may cover the internet."""
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    for ok in ("10.0.0.0/8", "172.16.0.0/12", "fc00::/7", "100.64.0.0/10", "2a01:4f8::/32", "5.0.0.0/8"):
        lists.add(store, cfg, "allow", ok, "fine")
    for bad, why in (("0.0.0.0/0", "default route"), ("::/0", "default route"), ("0.0.0.0/1", "floor /8"),
                     ("128.0.0.0/1", "floor /8"), ("2000::/3", "floor /32"), ("4.0.0.0/7", "floor /8")):
        with pytest.raises(lists.ListError, match=why):
            lists.add(store, cfg, "allow", bad)
    for first in (6, 7, 8):
        lists.add(store, cfg, "allow", f"{first}.0.0.0/8")
    with pytest.raises(lists.ListError, match="more public IPv4 space"):
        lists.add(store, cfg, "allow", "9.0.0.0/8")
    for deny in ("100.64.0.0/10", "100.127.255.1", "172.20.0.0/16", "0.0.0.0/1"):
        with pytest.raises(lists.ListError):
            lists.add(store, cfg, "deny", deny)
    store.close()


def test_rows_read_back_are_revalidated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A row written straight into the table (the web app's database user can) is checked again:
    refused rows are logged and never reach the snapshot, the firewall or fail2ban."""
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    lists.add(store, cfg, "allow", "192.0.2.0/24", "office")
    for name, cidr in (("allow", "0.0.0.0/0"), ("allow", "::/0"), ("allow", "0.0.0.0/1"), ("allow", "128.0.0.0/1"),
                       ("allow", "not an ip"), ("deny", "10.0.0.0/8"), ("deny", "100.64.0.0/10"),
                       ("deny", "0.0.0.0/0"), ("allow", "198.51.100.0/24")):
        store.insert("v_fsguard_list_entries", {"list_name": name, "cidr": cidr, "label": "forged",
                                                "entry_enabled": True})
    for first in range(11, 20):  # nine /8s: the first four fit under the cap (with the /24s)
        store.insert("v_fsguard_list_entries", {"list_name": "allow", "cidr": f"{first}.0.0.0/8", "label": "",
                                                "entry_enabled": True})
    with caplog.at_level("WARNING", logger="fsguard.lists"):
        allow = [e.cidr for e in lists.entries(store, "allow", cfg=cfg)]
        deny = [e.cidr for e in lists.entries(store, "deny", cfg=cfg)]
    assert allow == ["11.0.0.0/8", "12.0.0.0/8", "13.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"]
    assert deny == []
    assert sum("refused" in r.getMessage() for r in caplog.records) == 4 + 1 + 3 + 6
    doc = json.loads(snapshot.write_from_store(cfg, store).read_text())
    assert [e["cidr"] for e in doc["entries"]] == allow
    # the bad rows can still be deleted by their text
    assert lists.delete(store, cfg, "allow", "0.0.0.0/0") == 1
    store.close()
