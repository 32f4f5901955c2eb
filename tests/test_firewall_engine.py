"""The ruleset as data and its renderings (no kernel needed: dry-run backend), the boot path
(store down -> whitelist snapshot; build failure -> last good ruleset), units, and the
benchmarks' --quick runs (output shape only)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fs_python import config
from fsguard.firewall import FirewallError, engine, ipt, nft
from fsguard.perimeter import snapshot
from fsguard.store import open_store

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "perimeter" / "delegated-fsg-extended-latest"


def _cfg(tmp_path: Path, more: str = "", store: str = "") -> config.Config:
    feed = tmp_path / "feed.txt"
    if not feed.exists():
        feed.write_text("45.1.1.1\n45.2.0.0/16\n2a01:4f8::/32\n")
    p = tmp_path / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n{store}\n[firewall]\nbackend = dry-run\n{more}\n"
                 f"[feeds]\nvoipbl = no\nextra = local={feed}\n[countries]\nallow = NL\nsources = {FIXTURE}\n"
                 "[carriers]\ncidrs = 203.0.113.7\n")
    return config.load(p)


def _ready(cfg: config.Config) -> None:
    from fsguard.perimeter import countries, update

    assert update.update_all(cfg)[0].status == "updated"
    assert countries.refresh(cfg).available


def test_nft_rendering_order_counters_and_scope(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    _ready(cfg)
    from fsguard.perimeter import lists

    store = open_store(cfg)
    lists.add(store, cfg, "allow", "198.51.100.0/24", "office")
    lists.add(store, cfg, "deny", "45.9.9.9", "abuser")
    store.close()
    rs, _ = engine.build_ruleset(cfg)
    text = nft.render(rs, {"chains": ["input", "sip4", "old"], "sets": ["ban4", "feed4", "gone"]})
    assert "delete chain inet fsguard old" in text and "delete set inet fsguard gone" in text
    assert "delete set inet fsguard ban4" not in text  # fail2ban's bans survive a reload
    # nothing outside fsguard's own table
    assert all(" inet fsguard" in ln or not ln.startswith(("add ", "delete ", "flush ", "table "))
               for ln in text.splitlines())
    rules = [ln.strip() for ln in text.splitlines() if " drop" in ln or " accept" in ln or " return" in ln
             or " jump " in ln]
    rules = [r for r in rules if not r.startswith("type filter hook")]
    assert rules and all("counter" in r for r in rules)
    sanity = [r for r in rules if "tcp flags" in r]
    assert len(sanity) == 7
    sip = text[text.index("chain sip4 {"):text.index("chain sip6 {")]
    order = [sip.index(k) for k in ("@ban4", "@allownet4", "@carrier4", "@deny4", "@reg4", "@feed4", "@feednet4",
                                    "@country4", "not a carrier")]
    assert order == sorted(order)  # admin deny beats a registration, a registration beats feeds/countries
    assert "ip6 saddr & ffff:ffff:ffff:ffff:: @ban6net counter drop" in text
    # the stateful rule only on the SIP ports: a session on any other port is never cut by an apply
    nosyn = [r for r in rules if "new tcp connection without SYN" in r]
    assert nosyn == ['tcp dport { 5060, 5061, 5080, 5081 } tcp flags & (fin|syn|rst|ack) != syn ct state new '
                     'counter drop comment "fsguard: new tcp connection without SYN"']
    assert "delete set inet fsguard reg4" not in text and "add set inet fsguard reg4" in text


def test_iptables_rendering_only_own_chains(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    _ready(cfg)
    rs, _ = engine.build_ruleset(cfg)
    for fam in (4, 6):
        text = ipt.render_rules(rs, fam, add_jump=True)
        for line in text.splitlines():
            if line.startswith("-A "):
                assert line.split()[1] in ("FSGUARD", "FSGUARD-SIP", "FSGUARD-TCP") or line.split()[1].startswith(
                    "FSG-")
            if line.startswith("-I "):
                assert line == "-I INPUT 1 -j FSGUARD"
        assert "-j ACCEPT" not in text  # whitelist = RETURN: never overrides the operator's rules
        assert "-I INPUT" not in ipt.render_rules(rs, fam, add_jump=False)
    sets = ipt.render_ipset(rs, set())
    assert "create fsguard-country4-n hash:net family inet" in sets
    assert "add fsguard-feed4-n 45.1.1.1" in sets


@pytest.mark.parametrize("more,msg", [
    ("management_ports = 22 5060", "management port"),
    ("protected_ports = 5060 abc", "not a port"),
    ("country_ports = 5062", "protected_ports"),
    ("protocols = sctp", "protocols"),
    ("carrier_rule = maybe", "carrier_rule"),
])
def test_bad_firewall_config_refused(tmp_path: Path, more: str, msg: str) -> None:
    cfg = _cfg(tmp_path, more)
    with pytest.raises(FirewallError, match=msg):
        engine.build_ruleset(cfg)


def test_boot_with_store_down_uses_snapshot(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = open_store(cfg)
    from fsguard.perimeter import lists

    lists.add(store, cfg, "allow", "198.51.100.0/24", "office")
    snapshot.write_from_store(cfg, store)
    store.close()
    down = _cfg(tmp_path, store="[store]\nkind = pgsql\nhost = 127.0.0.1\nport = 9\ndbname = x\nuser = x\n")
    res = engine.apply(down)
    assert res.sets["allownet4"] == 1 and res.sets["carrier4"] == 1
    assert any("deny list not loaded" in w for w in res.warnings)


def test_build_failure_reapplies_last_good(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    _ready(cfg)
    first = engine.apply(cfg)
    broken = _cfg(tmp_path, "protected_ports = nonsense")
    res = engine.apply(broken)
    assert res.from_last_good and res.sets == first.sets and "last good" in res.warnings[0]
    (engine.state_dir(cfg) / "last-good.json").unlink()
    with pytest.raises(FirewallError):
        engine.apply(broken)


def test_units_and_cron() -> None:
    data = ROOT / "fsguard" / "data"
    fw = (data / "systemd" / "fsguard-firewall.service").read_text()
    assert "ExecStart=@FSGUARD@ firewall apply" in fw
    assert "After=" in fw and "nftables.service" in fw and "WantedBy=multi-user.target" in fw
    timer = (data / "systemd" / "fsguard-feeds.timer").read_text()
    assert "OnUnitActiveSec=4h" in timer
    assert "feeds update" in (data / "systemd" / "fsguard-feeds.service").read_text()
    cron = (data / "cron" / "fsguard").read_text()
    assert "@reboot" in cron and "*/4" in cron


@pytest.mark.skipif(os.geteuid() != 0, reason="benchmarks need root (namespaces)")
@pytest.mark.parametrize("bench", ["bench_feed_load.py", "bench_dynamic_ban.py", "bench_packets.py"])
def test_benchmark_quick_runs(bench: str) -> None:
    # this run's namespaces carry a unique marker: parallel jobs' namespaces never count
    run = uuid.uuid4().hex[:4]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / bench), "--quick"], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, "FSG4_NETNS_RUN": run})
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ") and re.search(r"\d+\.\d+x", last), last
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    assert not [n for n in leftover if n.startswith("fsg4-") and run in n]
