"""Contract 4: dynamic bans in real kernel sets, inside throwaway namespaces, both backends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fs_python import config
from fsguard.firewall import FirewallError, bans
from tests.fsg4net import Lab, can_run, sh

why = can_run()


def _cfg(tmp_path: Path, backend: str) -> config.Config:
    p = tmp_path / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n[firewall]\nbackend = {backend}\n")
    return config.load(p)


@pytest.fixture
def lab():
    if why:
        pytest.skip(why)
    lab = Lab("b")
    yield lab
    lab.close()


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_add_is_del_both_families(lab: Lab, tmp_path: Path, backend: str) -> None:
    cfg = _cfg(tmp_path, backend)
    ns = lab.pbx
    assert not bans.is_banned(cfg, "198.18.7.7", netns=ns)
    bans.add_ban(cfg, "198.18.7.7", 600, netns=ns)
    bans.add_ban(cfg, "198.18.7.7", 60, netns=ns)  # re-ban: not an error
    bans.add_ban(cfg, "::ffff:198.18.7.8", None, netns=ns)  # mapped -> IPv4, permanent
    bans.add_ban(cfg, "2001:db8:1::9", 600, netns=ns)
    assert bans.is_banned(cfg, "198.18.7.7", netns=ns)
    assert bans.is_banned(cfg, "198.18.7.8", netns=ns)
    assert bans.is_banned(cfg, "2001:db8:1::9", netns=ns)
    assert not bans.is_banned(cfg, "198.18.7.9", netns=ns)
    bans.del_ban(cfg, "198.18.7.7", netns=ns)
    bans.del_ban(cfg, "198.18.7.7", netns=ns)  # idempotent
    assert not bans.is_banned(cfg, "198.18.7.7", netns=ns)
    if backend == "nftables":
        out = lab.exec_pbx("nft", "list", "set", "inet", "fsguard", "ban6").stdout
        assert "2001:db8:1::9 timeout 10m30s" in out  # 600 s + the default 30 s grace
    else:
        out = lab.exec_pbx("ipset", "list", "fsguard-ban4").stdout
        assert "198.18.7.8 timeout 0" in out


def test_ban_expires(lab: Lab, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "nftables")
    cfg.parser.set("firewall", "ban_grace", "0")
    bans.add_ban(cfg, "198.18.7.10", 1, netns=lab.pbx)
    assert bans.is_banned(cfg, "198.18.7.10", netns=lab.pbx)
    time.sleep(1.6)
    assert not bans.is_banned(cfg, "198.18.7.10", netns=lab.pbx)


BAD = ["", "1.2.3", "198.18.0.0/24", "127.0.0.1", "::", "224.0.0.1", "$(reboot)", "1.2.3.4;ls"]


@pytest.mark.parametrize("bad", BAD)
def test_bad_addresses_refused(tmp_path: Path, bad: str) -> None:
    cfg = _cfg(tmp_path, "dry-run")
    with pytest.raises(FirewallError):
        bans.add_ban(cfg, bad, 60)


def test_dry_run_backend(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "dry-run")
    bans.add_ban(cfg, "203.0.113.9", 60)
    assert bans.is_banned(cfg, "203.0.113.9")
    bans.del_ban(cfg, "203.0.113.9")
    assert not bans.is_banned(cfg, "203.0.113.9")


def test_bad_backend_and_netns(tmp_path: Path) -> None:
    with pytest.raises(FirewallError):
        bans.add_ban(_cfg(tmp_path, "pf"), "203.0.113.9", 60)
    with pytest.raises(FirewallError):
        bans.add_ban(_cfg(tmp_path, "nftables"), "203.0.113.9", 60, netns="x; rm -rf /")


def test_conntrack_entries_deleted(lab: Lab, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "nftables")
    if sh("which", "conntrack", check=False).returncode:
        pytest.skip("conntrack not installed")
    # conntrack tracks flows in a namespace only once a rule uses it: load one ct rule
    lab.exec_pbx("nft", "add", "table", "inet", "fsg4t")
    lab.exec_pbx("nft", "add", "chain", "inet", "fsg4t", "c", "{ type filter hook input priority 0 ; }")
    lab.exec_pbx("nft", "add", "rule", "inet", "fsg4t", "c", "ct", "state", "new", "counter")
    lab.exec_pbx("conntrack", "-I", "-s", "198.18.9.9", "-d", "198.18.0.1", "-p", "udp", "--sport", "5060",
                 "--dport", "5060", "-t", "60", "-u", "SEEN_REPLY")
    assert "198.18.9.9" in lab.exec_pbx("conntrack", "-L", check=False).stdout
    bans.add_ban(cfg, "198.18.9.9", 60, netns=lab.pbx)
    bans.wait_conntrack()
    assert "198.18.9.9" not in lab.exec_pbx("conntrack", "-L", check=False).stdout


def test_nft_command_fallback_when_netlink_fails(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fsguard.firewall import nftnl

    def broken(*a: object, **k: object) -> None:
        raise nftnl.NetlinkError(95, "not supported")

    monkeypatch.setattr(nftnl, "setelem", broken)
    monkeypatch.setattr(nftnl, "has_element", broken)
    cfg = _cfg(tmp_path, "nftables")
    bans.add_ban(cfg, "198.18.7.20", 600, netns=lab.pbx)
    bans.add_ban(cfg, "198.18.7.20", 60, netns=lab.pbx)
    assert bans.is_banned(cfg, "198.18.7.20", netns=lab.pbx)
    bans.del_ban(cfg, "198.18.7.20", netns=lab.pbx)
    assert not bans.is_banned(cfg, "198.18.7.20", netns=lab.pbx)


def test_ipv6_escalation_decision_dry_run(tmp_path: Path) -> None:
    from fsguard.firewall import escalate

    cfg = _cfg(tmp_path, "dry-run")
    cfg.parser.set("firewall", "ipv6_prefix_ban_after", "2")
    state = cfg.state_dir
    state.mkdir(parents=True, exist_ok=True)
    (state / "whitelist.json").write_text('{"entries": [{"cidr": "2001:db8:1:2::/63", "source": "allow"}]}')
    bans.add_ban(cfg, "198.18.7.1", 60)
    assert escalate.after_ban(cfg, "198.18.7.1", 60) is None  # IPv4: never
    for i in (1, 2):
        bans.add_ban(cfg, f"2001:db8:1:1::{i}", 60)
    assert escalate.after_ban(cfg, "2001:db8:1:1::2", 60) == "2001:db8:1:1::/64"
    assert escalate.prefix_banned(cfg, "2001:db8:1:1::77") == "2001:db8:1:1::/64"
    for i in (1, 2):  # an admin whitelist network overlapping the /64 shields it
        bans.add_ban(cfg, f"2001:db8:1:2::{i}", 60)
    assert escalate.after_ban(cfg, "2001:db8:1:2::2", 60) is None
    cfg.parser.set("firewall", "ipv6_prefix_ban_after", "0")  # off
    for i in (1, 2):
        bans.add_ban(cfg, f"2001:db8:1:4::{i}", 60)
    assert escalate.after_ban(cfg, "2001:db8:1:4::2", 60) is None


def test_registry_one_class_per_backend(tmp_path: Path) -> None:
    from fsguard.firewall import backend, registry

    for name in registry.BACKENDS:
        b = registry.get(_cfg(tmp_path, name))
        assert isinstance(b, backend.Backend) and b.name == name


def test_accept_sync_diff_dry_run(tmp_path: Path) -> None:
    from fsguard.firewall import accept, registry

    cfg = _cfg(tmp_path, "dry-run")
    sync = accept.AcceptSync(cfg)
    t0 = time.time()
    rows = [{"ip": "198.51.100.7", "expires": t0 + 600}, {"ip": "2001:db8::7", "expires": t0 + 600},
            {"ip": "not-an-ip", "expires": t0 + 600}, {"ip": "198.51.100.8", "expires": t0 - 1}]
    res = sync.sync(rows, t0)
    assert sorted(res.added) == ["198.51.100.7", "2001:db8::7"] and res.loaded
    assert sync.sync(rows, t0 + 5).skipped  # nothing changed: the kernel is not asked
    backend = registry.get(cfg)
    assert backend.test("reg4", bans.parse_ip("198.51.100.7"), None)
    rows[0]["expires"] = t0 + 1200  # re-registered: the kernel timeout is refreshed
    assert sync.sync(rows, t0 + 10).refreshed == 1
    res = sync.sync(rows[1:], t0 + 15)  # unregistered: kept for the grace, then deleted
    assert not res.removed and not res.skipped
    assert sync.sync(rows[1:], t0 + 15 + accept.grace(cfg)).removed == ["198.51.100.7"]
    assert not backend.test("reg4", bans.parse_ip("198.51.100.7"), None)
    cfg.parser.set("firewall", "registered_accept", "no")
    assert not accept.AcceptSync(cfg).sync(rows, t0).loaded
