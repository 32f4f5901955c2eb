"""Issue 11, firewall side, with real packets in throwaway namespaces (fsg4-*), both backends:

* a registered customer inside a feed entry, or outside the allowed countries, reaches 5060 while
  registered (the ``fsguard service`` tick syncs the kernel accept set) and is dropped again once
  it has unregistered and the grace has passed; an admin deny entry still drops it;
* a TCP session established before ``fsguard firewall apply`` on a non-protected port survives it;
* IPv6: N banned addresses in one /64 ban the /64, never when it holds a registered address.

Clients (pbx 198.18.0.1 / 2001:db8:f5::1; NL allowed, feed lists 198.18.10.0/24):
  FEED 198.18.10.1                 registered, listed by the feed
  RU   198.51.100.9, 2001:db8:bad::5 registered, outside the allowed countries
  DENY 198.18.40.1                 registered, on the admin blacklist
  V6   2001:db8:f5:7::1..4, 2001:db8:f5:8::1  IPv6 in an allowed country (escalation)
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fs_python import config, whitelist
from fsguard.firewall import bans, engine, escalate
from fsguard.ops import bans as ops_bans
from fsguard.perimeter import countries, lists, membership, update
from fsguard.service import Service
from fsguard.store import open_store
from tests.fsg4net import PBX4, Lab, Listener, can_run, send_udp

why = can_run()
FIXTURE = Path(__file__).parent / "data" / "perimeter" / "delegated-fsg-extended-latest"
REGS = [("1000", "198.18.10.1"), ("1001", "198.51.100.9"), ("1002", "2001:db8:bad::5"), ("1003", "198.18.40.1")]


def _cfg(tmp: Path, backend: str, netns: str = "") -> config.Config:
    feed = tmp / "feed.txt"
    feed.write_text("198.18.10.0/24\n198.18.40.1\n2001:db8:bad::/64\n")
    (tmp / "fsguard.conf").write_text(
        f"[fsguard]\nstate_dir = {tmp / 'state'}\n"
        f"[firewall]\nbackend = {backend}\nregistration_grace = 60\n"
        f"[fail2ban]\nsocket = {tmp / 'no-fail2ban.sock'}\njail_dir =\nlogpath = {tmp / 'freeswitch.log'}\n"
        f"netns = {netns}\n"
        f"[feeds]\nvoipbl = no\nextra = local={feed}\naccept_test_ranges = yes\n"
        f"[countries]\nallow = NL\nsources = {FIXTURE}\n")
    return config.load(tmp / "fsguard.conf")


def _register(cfg: config.Config, rows: list[tuple[str, str]], expires: float) -> None:
    cfg.fs_dir.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "written": int(time.time()), "registrations": [
        {"user": u, "realm": "example.com", "ip": ip, "port": 5060, "expires": expires} for u, ip in rows]}
    (cfg.fs_dir / "registrations.json").write_text(json.dumps(data))
    whitelist.clear_cache()


class World:
    def __init__(self, tmp: Path, backend: str) -> None:
        self.lab = Lab("r")
        self.cfg = _cfg(tmp, backend, self.lab.pbx)
        ns = self.lab.client
        self.c = {"FEED": ns("198.18.10.1"), "RU": ns("198.51.100.9", "2001:db8:bad::5"), "DENY": ns("198.18.40.1"),
                  "NL": ns("198.18.30.5")}
        self.listener = Listener(self.lab, ports=(5060,))
        self.store = open_store(self.cfg)
        self.service = Service(self.cfg, self.store)

    def close(self) -> None:
        self.store.close()
        self.listener.close()
        self.lab.close()

    def probe(self, accepted: list[tuple[str, str]], dropped: list[tuple[str, str]]) -> None:
        """UDP to 5060 from (client, src): dropped ones first, then accepted ones as sentinels."""
        for who, src in dropped + accepted:
            send_udp(self.c[who], src, 5060)
        for who, src in accepted:
            assert self.listener.got("udp", 5060, src), f"{who} {src} should reach 5060"
        time.sleep(0.3)
        for who, src in dropped:
            assert not self.listener.got("udp", 5060, src, wait=0), f"{who} {src} should be dropped"
        self.listener.seen.clear()


@pytest.fixture(params=["nftables", "iptables"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if why:
        pytest.skip(why)
    w = World(tmp_path, request.param)
    try:
        lists.add(w.store, w.cfg, "deny", "198.18.40.1", "abuse desk")
        assert update.update_all(w.cfg)[0].status == "updated"
        assert countries.refresh(w.cfg).available
        engine.apply(w.cfg, netns=w.lab.pbx, store=w.store)
        yield w
    finally:
        w.close()


def test_registered_customer_accepted_ahead_of_feed_and_country(world: World) -> None:
    customers = [("FEED", "198.18.10.1"), ("RU", "198.51.100.9"), ("RU", "2001:db8:bad::5")]
    world.probe(accepted=[("NL", "198.18.30.5")], dropped=customers + [("DENY", "198.18.40.1")])
    t0 = time.time()
    _register(world.cfg, REGS, t0 + 3600)
    res = world.service.tick(t0)
    assert res.accept_changes == 4, res.errors
    world.probe(accepted=customers, dropped=[("DENY", "198.18.40.1")])  # admin deny still wins
    # `fsguard why` names the deciding rule
    rows = membership.memberships(world.cfg, "198.18.10.1", store=world.store)
    assert rows[-1].list_name == "decision" and "live registration" in rows[-1].detail
    rows = membership.memberships(world.cfg, "198.18.40.1", store=world.store)
    assert "admin blacklist" in rows[-1].detail
    # a re-apply keeps the accept set (no wait for the next tick)
    engine.apply(world.cfg, netns=world.lab.pbx, store=world.store)
    world.probe(accepted=customers, dropped=[])
    # unregister: still accepted within the grace, dropped after it
    _register(world.cfg, [REGS[3]], t0 + 3600)
    assert world.service.tick(t0 + 5).accept_changes == 0
    world.probe(accepted=customers, dropped=[])
    assert world.service.tick(t0 + 70).accept_changes == 3
    world.probe(accepted=[("NL", "198.18.30.5")], dropped=customers)
    assert "live registration" not in membership.memberships(world.cfg, "198.18.10.1", store=world.store)[-1].detail


def test_expired_registration_leaves_the_accept_set(world: World) -> None:
    t0 = time.time()
    _register(world.cfg, REGS[:1], t0 + 30)
    world.service.tick(t0)
    world.probe(accepted=[("FEED", "198.18.10.1")], dropped=[])
    # past its expiry: no longer wanted at t0 + 35 (the kernel timeout ends it too), deleted after
    # the grace at the latest
    world.service.tick(t0 + 35)
    assert world.service.tick(t0 + 100).accept_changes == 1
    world.probe(accepted=[("NL", "198.18.30.5")], dropped=[("FEED", "198.18.10.1")])


ECHO = ("import socket,threading\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',9999));s.listen(5)\n"
        "print('ready',flush=True)\n"
        "def serve(c):\n"
        "  while True:\n"
        "    d=c.recv(100)\n"
        "    if not d: return\n"
        "    c.sendall(d)\n"
        "while True:\n"
        "  c,_=s.accept();threading.Thread(target=serve,args=(c,),daemon=True).start()\n")
CLIENT = ("import socket,sys\n"
          f"s=socket.create_connection(('{PBX4}',9999),timeout=3)\n"
          "for line in sys.stdin:\n"
          "  s.sendall(line.encode())\n"
          "  try:\n"
          "    print('echo' if s.recv(100)==line.encode() else 'wrong',flush=True)\n"
          "  except OSError as e:\n"
          "    print('lost',e,flush=True)\n")


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_session_established_before_apply_survives(tmp_path: Path, backend: str) -> None:
    if why:
        pytest.skip(why)
    lab = Lab("s")
    procs: list[subprocess.Popen[str]] = []
    try:
        cfg = _cfg(tmp_path, backend, lab.pbx)
        client = lab.client("198.18.30.5")
        # a fresh namespace has no stateful rule yet: conntrack has never seen this session
        assert "ct state" not in lab.exec_pbx("nft", "list", "ruleset").stdout
        server = subprocess.Popen(["ip", "netns", "exec", lab.pbx, "python3", "-u", "-c", ECHO],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(server)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        cli = subprocess.Popen(["ip", "netns", "exec", client, "python3", "-u", "-c", CLIENT],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(cli)
        assert cli.stdin is not None and cli.stdout is not None
        cli.stdin.write("before\n")
        cli.stdin.flush()
        assert cli.stdout.readline().strip() == "echo"
        assert update.update_all(cfg)[0].status == "updated"
        engine.apply(cfg, netns=lab.pbx)
        assert "new tcp connection without SYN" in json.dumps(engine.status(cfg, netns=lab.pbx)["counters"])
        cli.stdin.write("after\n")
        cli.stdin.flush()
        assert cli.stdout.readline().strip() == "echo"  # the same TCP session still works
    finally:
        for p in procs:
            p.kill()
            p.wait()
        lab.close()


def test_ipv6_slash64_escalation(world: World) -> None:
    cfg, ns = world.cfg, world.lab.pbx
    cfg.parser.set("firewall", "ipv6_prefix_ban_after", "3")
    net = "2001:db8:f5:7::/64"
    v6 = world.lab.client("198.18.31.1", "2001:db8:f5:7::99")
    world.c["V6"] = v6
    world.probe(accepted=[("V6", "2001:db8:f5:7::99")], dropped=[])
    for i in (1, 2):
        bans.add_ban(cfg, f"2001:db8:f5:7::{i}", 600, netns=ns)
        assert escalate.after_ban(cfg, f"2001:db8:f5:7::{i}", 600, netns=ns) is None
    world.probe(accepted=[("V6", "2001:db8:f5:7::99")], dropped=[])
    # a registered address inside the /64 shields it
    _register(cfg, [("2000", "2001:db8:f5:7::50")], time.time() + 3600)
    bans.add_ban(cfg, "2001:db8:f5:7::3", 600, netns=ns)
    assert escalate.after_ban(cfg, "2001:db8:f5:7::3", 600, netns=ns) is None
    world.probe(accepted=[("V6", "2001:db8:f5:7::99")], dropped=[])
    _register(cfg, [], time.time())
    bans.add_ban(cfg, "2001:db8:f5:7::4", 600, netns=ns)
    assert escalate.after_ban(cfg, "2001:db8:f5:7::4", 600, netns=ns) == net
    world.probe(accepted=[("NL", "198.18.30.5")], dropped=[("V6", "2001:db8:f5:7::99")])
    assert escalate.prefix_banned(cfg, "2001:db8:f5:7::99", netns=ns) == net
    assert escalate.prefix_banned(cfg, "2001:db8:f5:8::1", netns=ns) is None
    # the operator's unban of an address inside the /64 lifts the /64 ban too
    res = ops_bans.unban(cfg, world.store, "2001:db8:f5:7::4", reason="operator")
    assert res.kernel and f"lifted the /64 ban {net}" in res.notes
    assert escalate.prefix_banned(cfg, "2001:db8:f5:7::99", netns=ns) is None
    world.probe(accepted=[("V6", "2001:db8:f5:7::99")], dropped=[])
