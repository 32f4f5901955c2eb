"""Scan evidence where real scanners end (issue 12): fs_python.monitor in the stand-in FreeSWITCH.

- ``challenge``: FusionPBX's external profile (auth-calls, apply-inbound-acl=providers) challenges
  every INVITE from outside ``providers`` and fires ``sofia::pre_register`` for it; the address is
  the event's ``network-ip``. Carriers, registered customers and whitelist entries never count.
- ``no-sdp``: an INVITE without SDP ends in ``CHANNEL_HANGUP`` with MANDATORY_IE_MISSING.
- ``scanner-ua``: a challenged request whose User-Agent is a known scanner's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fs_python import fslog, whitelist
from fs_python.registry import REGISTRY
from fsguard.fakefs import Harness
from tests import fsg_fixtures
from tests.test_monitor import events, register, start, wait_for

fs_env = fsg_fixtures.fs_env  # the fixture

CARRIER = "203.0.113.50"


def _whitelist(h: Harness) -> None:
    cfg = fslog.settings()
    assert cfg is not None
    entries = [{"cidr": CARRIER + "/32", "source": "carrier", "label": "acme"},
               {"cidr": "192.0.2.0/24", "source": "admin", "label": "office"}]
    (cfg.state_dir / "whitelist.json").write_text(json.dumps({"version": 1, "written": int(time.time()),
                                                              "entries": entries}))
    whitelist.clear_cache()


def _challenge(h: Harness, ip: str, profile: str = "external", ua: str = "PolycomVVX",
               host: str = "pbx.example") -> None:
    # what sofia fires for an INVITE it challenges with 407 (naming swap: from-* = To-URI)
    h.switch.fire("sofia::pre_register", {"profile-name": profile, "from-user": "0046812345678", "from-host": host,
                                          "to-user": "100", "to-host": host, "network-ip": ip,
                                          "network-port": "5070", "user-agent": ua})


def test_challenge_on_carrier_profile_counts_only_untrusted(fs_env: Harness) -> None:
    _whitelist(fs_env)
    start(fs_env)
    register(fs_env, "1000", "pbx.example", "198.51.100.30")
    _challenge(fs_env, "198.51.100.20")  # a scanner using host names: counted
    _challenge(fs_env, CARRIER)  # a carrier (not in providers for some reason): never
    _challenge(fs_env, "192.0.2.44")  # admin whitelist: never
    _challenge(fs_env, "198.51.100.30")  # a registered customer dialling in on 5080: never
    _challenge(fs_env, "198.51.100.21", profile="internal")  # a normal first INVITE/REGISTER: never
    _challenge(fs_env, "not-an-ip")  # no address: nothing to ban
    assert wait_for(lambda: REGISTRY.handled >= 7)
    got = events(fs_env)
    assert [(e.kind, e.ip) for e in got] == [("challenge", "198.51.100.20")]
    assert got[0].fields["profile"] == "external" and got[0].fields["user"] == "0046812345678"
    assert fs_env.switch.crashed is None


def test_scanner_user_agent_and_no_double_count(fs_env: Harness) -> None:
    _whitelist(fs_env)
    start(fs_env)
    _challenge(fs_env, "198.51.100.22", profile="internal", ua="friendly-scanner")  # svwar
    _challenge(fs_env, "198.51.100.23", profile="internal", ua="sipvicious 0.3.4")
    _challenge(fs_env, "192.0.2.9", profile="internal", ua="friendly-scanner")  # whitelisted: never
    _challenge(fs_env, "198.51.100.24", profile="external", ua="friendly-scanner")  # one line, not two
    _challenge(fs_env, "198.51.100.25", profile="internal", ua="friendly-scanner", host="192.0.2.200")
    # the IP-literal line waits for the challenge's outcome (none comes: a scanner never answers)
    assert wait_for(lambda: len(events(fs_env)) >= 4, timeout=10.0)
    assert [(e.kind, e.ip) for e in events(fs_env)] == [
        ("scanner-ua", "198.51.100.22"), ("scanner-ua", "198.51.100.23"), ("challenge", "198.51.100.24"),
        ("ip-literal-domain", "198.51.100.25")]


def test_extra_scanner_agents_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fs_env: Harness) -> None:
    sub = tmp_path / "c"
    sub.mkdir()
    conf = fsg_fixtures.write_config(sub, "[fs_python]\nscanner_agents = MyEvilTool\ncarrier_profiles = carriers\n")
    monkeypatch.setenv("FSGUARD_CONFIG", str(conf))
    fslog.reset()
    start(fs_env)
    _challenge(fs_env, "198.51.100.26", profile="internal", ua="myeviltool/2")
    _challenge(fs_env, "198.51.100.27", profile="external")  # no longer a carrier-only profile
    _challenge(fs_env, "198.51.100.28", profile="carriers")
    assert wait_for(lambda: REGISTRY.handled >= 3)
    assert [(e.kind, e.ip) for e in events(fs_env)] == [("scanner-ua", "198.51.100.26"),
                                                        ("challenge", "198.51.100.28")]


def _hangup(h: Harness, ip: str | None, cause: str = "MANDATORY_IE_MISSING", direction: str = "inbound") -> None:
    h.switch.fire("", {"Hangup-Cause": cause, "Call-Direction": direction, "Caller-Network-Addr": ip,
                       "Caller-Destination-Number": "900", "variable_sip_network_ip": ip,
                       "variable_sofia_profile_name": "external", "variable_sip_user_agent": "sipp\udcff",
                       "variable_sip_from_user": "x] from ip 198.51.100.9 ["}, name="CHANNEL_HANGUP")


def test_invite_without_sdp_becomes_no_sdp(fs_env: Harness) -> None:
    _whitelist(fs_env)
    start(fs_env)
    _hangup(fs_env, "198.51.100.40")
    _hangup(fs_env, "198.51.100.41", cause="NORMAL_CLEARING")  # an ordinary call
    _hangup(fs_env, "198.51.100.42", direction="outbound")  # our own leg
    _hangup(fs_env, CARRIER)  # a carrier's late-offer INVITE: never counted
    _hangup(fs_env, None)
    assert wait_for(lambda: REGISTRY.handled >= 5)
    got = events(fs_env)
    assert [(e.kind, e.ip) for e in got] == [("no-sdp", "198.51.100.40")]
    assert got[0].fields["number"] == "900" and got[0].fields["method"] == "INVITE"
    assert got[0].fields["ua"] == "sipp\udcff" and fs_env.switch.crashed is None
