"""Real packets through fsguard's ruleset, both backends, in throwaway namespaces (fsg4-*).

Clients (pbx at 198.18.0.1 / 2001:db8:f5::1; countries from a delegation-file fixture, NL allowed):
  BAD  198.18.10.1, 2001:db8:a::1   listed by the feed (DE)
  WL   198.18.20.1                  listed by the feed but on the admin allow list
  WLB  198.18.20.2                  on the allow list, then banned by fail2ban
  NL   198.18.30.5, 2001:db8:f5::10 allowed country, not a carrier
  RU   198.51.100.9, 2001:db8:bad::5 outside the allowed countries
  CAR  203.0.113.7                  a carrier
  BAN  198.18.30.6                  allowed country, then banned
  NET  198.18.77.9, 2001:db8:77::9  inside networks listed by the feed (interval sets + prefilter)
  NLF  198.19.5.5                   in a /16 wholly inside an allowed country (country prefilter)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fs_python import config
from fsguard.firewall import FirewallError, bans, engine, ipt, nft
from fsguard.perimeter import countries, lists, update
from fsguard.store import open_store
from tests.fsg4net import Lab, Listener, can_run, send_udp, sh, tcp_connect

why = can_run()
FIXTURE = Path(__file__).parent / "data" / "perimeter" / "delegated-fsg-extended-latest"
FEED = "# test feed\n198.18.10.1\n198.18.20.1\n198.18.20.2\n2001:db8:a::1\n198.18.77.0/24\n2001:db8:77::/48\n"


class World:
    def __init__(self, tmp: Path, backend: str) -> None:
        self.tmp = tmp
        self.feed = tmp / "feed.txt"
        self.feed.write_text(FEED)
        (tmp / "fsguard.conf").write_text(
            f"[fsguard]\nstate_dir = {tmp / 'state'}\n"
            f"[firewall]\nbackend = {backend}\n"
            f"[feeds]\nvoipbl = no\nextra = local={self.feed}\naccept_test_ranges = yes\n"
            f"[countries]\nallow = NL\nsources = {FIXTURE}\n"
            "[carriers]\ncidrs = 203.0.113.7\n"
        )
        self.cfg = config.load(tmp / "fsguard.conf")
        self.lab = Lab("k")
        ns = self.lab.client
        self.c = {
            "BAD": ns("198.18.10.1", "2001:db8:a::1"), "WL": ns("198.18.20.1"), "WLB": ns("198.18.20.2"),
            "NL": ns("198.18.30.5", "2001:db8:f5::10"), "RU": ns("198.51.100.9", "2001:db8:bad::5"),
            "CAR": ns("203.0.113.7"), "BAN": ns("198.18.30.6"), "NET": ns("198.18.77.9", "2001:db8:77::9"),
            "NLF": ns("198.19.5.5"),
        }
        self.listener = Listener(self.lab)

    def close(self) -> None:
        self.listener.close()
        self.lab.close()

    def probe(self, accepted: list[tuple[str, str, int]], dropped: list[tuple[str, str, int]]) -> None:
        """UDP from (client, src, port): dropped ones first, then accepted ones as sentinels."""
        for who, src, port in dropped + accepted:
            send_udp(self.c[who], src, port)
        for who, src, port in accepted:
            assert self.listener.got("udp", port, src), f"{who} {src} -> {port} should arrive"
        time.sleep(0.3)
        for who, src, port in dropped:
            assert not self.listener.got("udp", port, src, wait=0), f"{who} {src} -> {port} should be dropped"
        self.listener.seen.clear()


@pytest.fixture(scope="module", params=["nftables", "iptables"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if why:
        pytest.skip(why)
    w = World(tmp_path_factory.mktemp(request.param), request.param)
    try:
        store = open_store(w.cfg)
        lists.add(store, w.cfg, "allow", "198.18.20.1", "office")
        lists.add(store, w.cfg, "allow", "198.18.20.2", "branch")
        store.close()
        assert update.update_all(w.cfg)[0].status == "updated"
        assert countries.refresh(w.cfg).available
        engine.apply(w.cfg, netns=w.lab.pbx)
        yield w
    finally:
        w.close()


def test_lists_feeds_countries_carriers(world: World) -> None:
    world.probe(
        accepted=[("WL", "198.18.20.1", 5060), ("WL", "198.18.20.1", 5080), ("NL", "198.18.30.5", 5060),
                  ("NL", "2001:db8:f5::10", 5060), ("CAR", "203.0.113.7", 5080), ("CAR", "203.0.113.7", 5060),
                  ("RU", "198.51.100.9", 5061), ("NLF", "198.19.5.5", 5060)],
        dropped=[("BAD", "198.18.10.1", 5060), ("BAD", "198.18.10.1", 5080), ("BAD", "2001:db8:a::1", 5060),
                 ("RU", "198.51.100.9", 5060), ("RU", "2001:db8:bad::5", 5060),
                 ("NL", "198.18.30.5", 5080), ("NL", "2001:db8:f5::10", 5080),
                 ("NET", "198.18.77.9", 5060), ("NET", "2001:db8:77::9", 5061)],
    )


def test_tcp_to_sip_ports(world: World) -> None:
    assert tcp_connect(world.c["NL"], "198.18.30.5", 5060)
    assert not tcp_connect(world.c["BAD"], "198.18.10.1", 5060, timeout=0.5)
    assert not tcp_connect(world.c["NL"], "198.18.30.5", 5080, timeout=0.5)
    assert tcp_connect(world.c["CAR"], "203.0.113.7", 5080)


def test_ssh_stays_reachable(world: World) -> None:
    for who, src in (("BAD", "198.18.10.1"), ("RU", "198.51.100.9"), ("BAD", "2001:db8:a::1")):
        assert tcp_connect(world.c[who], src, 22), f"ssh from {src}"


HPING = {
    "tcp flags ALL NONE (null scan)": [],
    "tcp flags ALL ALL (xmas)": ["-F", "-S", "-R", "-P", "-A", "-U"],
    "tcp flags FIN,URG,PSH": ["-F", "-U", "-P"],
    "tcp flags SYN,RST,ACK,FIN,URG": ["-S", "-R", "-A", "-F", "-U"],
    "tcp flags SYN,RST": ["-S", "-R"],
    "tcp flags SYN,FIN": ["-S", "-F"],
    "new tcp connection without SYN": ["-A"],
}


def _counter(w: World, comment: str) -> int:
    rows = engine.status(w.cfg, netns=w.lab.pbx)["counters"]
    return sum(r["packets"] for r in rows if r["rule"] == f"fsguard: {comment}")


@pytest.mark.skipif(shutil.which("hping3") is None, reason="hping3 not installed")
@pytest.mark.parametrize("comment", list(HPING))
def test_tcp_flag_sanity_drops(world: World, comment: str) -> None:
    before = _counter(world, comment)
    port = "5060" if "without SYN" in comment else "5099"  # the no-SYN check covers only the SIP ports
    out = sh("ip", "netns", "exec", world.c["NL"], "hping3", "-c", "1", "-i", "u1000", "-p", port,
             *HPING[comment], "198.18.0.1", check=False)
    assert "1 packets transmitted" in out.stdout + out.stderr
    assert "0 packets received" in out.stdout + out.stderr  # no RST back: the kernel never saw it
    assert _counter(world, comment) == before + 1


@pytest.mark.skipif(shutil.which("hping3") is None, reason="hping3 not installed")
def test_plain_syn_to_closed_port_is_answered(world: World) -> None:
    # the control for the test above: a proper SYN does reach the kernel (RST comes back)
    out = sh("ip", "netns", "exec", world.c["NL"], "hping3", "-c", "1", "-p", "5099", "-S", "198.18.0.1",
             check=False)
    assert "1 packets received" in out.stdout + out.stderr


def test_broken_feed_keeps_previous_state(world: World) -> None:
    world.feed.write_text("<html>503 Service Unavailable</html>\n")
    res = update.update_all(world.cfg)[0]
    assert res.status == "refused" and res.entries == 6
    world.feed.write_text("198.18.99.1\n")  # suddenly much smaller
    assert update.update_all(world.cfg)[0].status == "refused"
    engine.apply(world.cfg, netns=world.lab.pbx)
    world.probe(accepted=[("NL", "198.18.30.5", 5060)], dropped=[("BAD", "198.18.10.1", 5060)])
    world.feed.write_text(FEED)


def test_failed_load_keeps_previous_state(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    if world.cfg.get("firewall", "backend") == "nftables":
        real = nft.render
        monkeypatch.setattr(nft, "render",
                            lambda rs, ex=None, **kw: real(rs, ex, **kw) + "add rule inet fsguard sip4 bogus\n")
    else:
        real_rules = ipt.render_rules
        monkeypatch.setattr(ipt, "render_rules",
                            lambda rs, fam, add_jump: real_rules(rs, fam, add_jump=add_jump).replace(
                                "COMMIT", "-A FSGUARD-SIP -j NO-SUCH-CHAIN\nCOMMIT"))
    # the new ruleset would have dropped nothing from the feed
    world.feed.write_text("198.18.88.1\n198.18.88.2\n198.18.88.3\n198.18.88.4\n198.18.88.5\n198.18.88.6\n")
    assert update.update_all(world.cfg)[0].status == "updated"
    with pytest.raises(FirewallError):
        engine.apply(world.cfg, netns=world.lab.pbx)
    world.probe(accepted=[("NL", "198.18.30.5", 5060)], dropped=[("BAD", "198.18.10.1", 5060)])
    monkeypatch.undo()
    world.feed.write_text(FEED)
    assert update.update_all(world.cfg)[0].status == "updated"
    engine.apply(world.cfg, netns=world.lab.pbx)


def test_fail2ban_ban_drops_before_any_accept(world: World) -> None:
    world.probe(accepted=[("BAN", "198.18.30.6", 5060), ("WLB", "198.18.20.2", 5060)], dropped=[])
    bans.add_ban(world.cfg, "198.18.30.6", 600, netns=world.lab.pbx)
    bans.add_ban(world.cfg, "198.18.20.2", 600, netns=world.lab.pbx)  # whitelisted, still banned first
    world.probe(accepted=[("NL", "198.18.30.5", 5060)],
                dropped=[("BAN", "198.18.30.6", 5060), ("BAN", "198.18.30.6", 5081), ("WLB", "198.18.20.2", 5060)])
    # a re-apply keeps fail2ban's bans
    engine.apply(world.cfg, netns=world.lab.pbx)
    world.probe(accepted=[("NL", "198.18.30.5", 5060)], dropped=[("BAN", "198.18.30.6", 5060)])
    assert tcp_connect(world.c["BAN"], "198.18.30.6", 22)  # the ban never covers SSH
    bans.del_ban(world.cfg, "198.18.30.6", netns=world.lab.pbx)
    world.probe(accepted=[("BAN", "198.18.30.6", 5060)], dropped=[])


def test_remove_leaves_nothing(world: World) -> None:
    assert engine.remove(world.cfg, netns=world.lab.pbx)
    left = world.lab.exec_pbx("nft", "list", "ruleset").stdout.lower()
    assert "fsguard" not in left and "fsg-" not in left
    assert not world.lab.exec_pbx("ipset", "list", "-n").stdout.strip()
    world.probe(accepted=[("BAD", "198.18.10.1", 5060)], dropped=[])
    engine.apply(world.cfg, netns=world.lab.pbx)  # and it comes back
    world.probe(accepted=[], dropped=[("BAD", "198.18.10.1", 5060)])
