"""The drill's stand-in PBX: answers as FreeSWITCH 1.10.12 does and writes its exact log lines.

Runs over real UDP/TCP on loopback (no namespace needed); the records are compared with the real
lines in shared/reference/samples/freeswitch-1.10.12-real.log.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from fsguard.drill import sip
from fsguard.drill.client import Agent
from fsguard.drill.fslog import FsLog
from fsguard.drill.pbx import CallInfo, Directory, Hooks, StandInPBX

SAMPLE = Path("/work/shared/reference/samples/freeswitch-1.10.12-real.log")
REPO_SAMPLE = Path(__file__).resolve().parents[2] / "shared/reference/samples/freeswitch-1.10.12-real.log"
HEAD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d{1,3}\.\d\d% ")


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        return free_port()
    t.close()
    return port


class Recorder(Hooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, str]]] = []
        self.calls: list[CallInfo] = []

    def event(self, subclass: str, headers: dict[str, str]) -> None:
        self.events.append((subclass, headers))

    def channel_event(self, name: str, headers: dict[str, str]) -> None:
        self.events.append((name, headers))

    def public_dialplan(self, call: CallInfo, log: FsLog) -> int:
        self.calls.append(call)
        return super().public_dialplan(call, log)


@pytest.fixture
def pbx(tmp_path: Path):
    log = FsLog(tmp_path / "freeswitch.log")
    hooks = Recorder()
    ports = {"internal": free_port(), "external": free_port()}
    p = StandInPBX(log, Directory({"127.0.0.1": {"1000": "s3cret"}}), bind_ip="127.0.0.1", netns=None,
                   hooks=hooks, ports=ports)
    p.start()
    yield p, hooks, ports, tmp_path / "freeswitch.log"
    p.stop()
    log.close()


def agent() -> Agent:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return Agent(s, "127.0.0.1", timeout=1.0)


def body(line: str) -> str:
    """A record without its date and idle field."""
    return HEAD.sub("", line)


# Verbatim from the sample (lines 732-738), for checkouts without shared/reference.
EMBEDDED = """\
2026-11-26 19:16:18.546302 48.13% [WARNING] sofia_reg.c:1842 SIP auth challenge (REGISTER) on sofia profile 'internal' for [1000@127.0.0.1] from ip 127.0.0.1
2026-11-26 19:16:18.546302 48.13% [WARNING] sofia_reg.c:1787 SIP auth failure (REGISTER) on sofia profile 'internal' for [1000@127.0.0.1] from ip 127.0.0.1
2026-11-26 19:16:22.646290 48.20% [WARNING] sofia_reg.c:1842 SIP auth challenge (REGISTER) on sofia profile 'internal' for [9999@127.0.0.1] from ip 127.0.0.1
2026-11-26 19:16:22.646290 48.20% [WARNING] sofia_reg.c:3210 Can't find user [9999@127.0.0.1] from 127.0.0.1
You must define a domain called '127.0.0.1' in your directory and add a user with the id="9999" attribute
and you must configure your device to use the proper domain in its authentication credentials.
2026-11-26 19:16:22.646290 48.20% [WARNING] sofia_reg.c:1787 SIP auth failure (REGISTER) on sofia profile 'internal' for [9999@127.0.0.1] from ip 127.0.0.1
"""  # noqa: E501


def sample_lines() -> list[str]:
    embedded = EMBEDDED.splitlines()
    for path in (SAMPLE, REPO_SAMPLE):
        if path.exists():
            real = path.read_text(encoding="utf-8").splitlines()
            start = real.index(embedded[0])
            assert real[start:start + len(embedded)] == embedded  # the copy is still verbatim
            return real
    return embedded


def test_register_right_and_wrong_password_like_freeswitch(pbx) -> None:
    p, hooks, ports, logpath = pbx
    a = agent()
    assert a.register("1000", "127.0.0.1", "s3cret", ports["internal"]) == [401, 200]
    assert a.register("1000", "127.0.0.1", "wrong", ports["internal"]) == [401, 403]
    assert a.register("9999", "127.0.0.1", "x", ports["internal"]) == [401, 403]
    a.close()
    got = [body(line) for line in logpath.read_text().splitlines()]
    real = sample_lines()
    # The very records FreeSWITCH 1.10.12 wrote for the same exchanges (sample lines 730-738),
    # apart from the source address of our agent (also 127.0.0.1 there) and the date/idle field.
    want_challenge = body([ln for ln in real if "SIP auth challenge (REGISTER)" in ln and "[1000@" in ln][0])
    want_failure = body([ln for ln in real if "SIP auth failure (REGISTER)" in ln and "[1000@" in ln][0])
    i = real.index([ln for ln in real if "Can't find user [9999@" in ln][0])
    want_unknown = [body(real[i]), real[i + 1], real[i + 2], body(real[i + 3])]
    assert got[0] == want_challenge  # right password: challenge only, nothing else logged
    assert got[1:3] == [want_challenge, want_failure]
    assert got[3] == body([ln for ln in real if "SIP auth challenge (REGISTER)" in ln and "[9999@" in ln][0])
    assert got[4:8] == want_unknown
    assert len(got) == 8


def test_register_events_carry_the_network_ip_and_sofia_naming(pbx) -> None:
    p, hooks, ports, _ = pbx
    a = agent()
    a.register("1000", "127.0.0.1", "s3cret", ports["internal"])
    a.register("1000", "127.0.0.1", "bad", ports["internal"])
    a.close()
    kinds = [k for k, _ in hooks.events]
    assert kinds == ["sofia::pre_register", "sofia::register", "sofia::pre_register", "sofia::register_failure"]
    pre, reg, _, fail = (h for _, h in hooks.events)
    assert pre["network-ip"] == "127.0.0.1" and pre["from-user"] == "1000" and pre["from-host"] == "127.0.0.1"
    assert reg["username"] == "1000" and reg["realm"] == "127.0.0.1" and int(reg["expires"]) > 0
    assert fail["registration-type"] == "REGISTER" and fail["to-user"] == "1000"
    assert fail["network-port"] == str(a.local_port)
    assert p.registered["127.0.0.1"][0] == "1000"


def test_ip_literal_domain_is_an_unknown_user(pbx) -> None:
    p, hooks, ports, logpath = pbx
    p.directory = Directory({"pbx.example.net": {"1000": "s3cret"}})
    a = agent()
    assert a.register("100", "127.0.0.1", "100", ports["internal"]) == [401, 403]
    a.close()
    text = logpath.read_text()
    assert "Can't find user [100@127.0.0.1] from 127.0.0.1\nYou must define a domain called '127.0.0.1'" in text
    assert hooks.events[0][1]["from-host"] == "127.0.0.1"  # what the monitor checks for an IP literal


def test_invite_unknown_number_external_404_and_internal_auth(pbx) -> None:
    p, hooks, ports, logpath = pbx
    a = agent()
    assert a.invite("0046812345", ports["external"], "127.0.0.1") == [404]
    assert a.invite("0046812345", ports["internal"], "127.0.0.1", user="1000", password="nope") == [407, 403]
    a.close()
    assert hooks.calls[0].destination_number == "0046812345" and hooks.calls[0].network_ip == "127.0.0.1"
    text = logpath.read_text()
    assert "No Route, Aborting" in text
    assert ("SIP auth failure (INVITE) on sofia profile 'internal' for [0046812345@127.0.0.1] from ip 127.0.0.1"
            in text)  # for INVITE the bracketed user is the number called (reference section 3)
    assert hooks.events[-1][1]["registration-type"] == "INVITE"


def test_invite_without_sdp_is_480_before_any_dialplan(pbx) -> None:
    """freeswitch.md section 7: 480, sofia.c:8033/8035 records, MANDATORY_IE_MISSING, no dialplan."""
    p, hooks, ports, logpath = pbx
    a = agent()
    assert a.invite("900", ports["external"], "127.0.0.1", sdp=False) == [480]
    assert a.invite("901", ports["external"], "127.0.0.1") == [404]  # with an offer: the dialplan runs
    a.close()
    assert [c.destination_number for c in hooks.calls] == ["901"]
    name, h = hooks.events[0]
    assert name == "CHANNEL_HANGUP" and h["Hangup-Cause"] == "MANDATORY_IE_MISSING"
    assert h["variable_sip_network_ip"] == "127.0.0.1" and h["Caller-Destination-Number"] == "900"
    recs = [ln for ln in logpath.read_text().splitlines() if "sofia.c:803" in ln]  # uuid-prefixed
    assert [r.split("% ", 1)[1] for r in recs] == [
        "[INFO] sofia.c:8033 No SDP in INVITE and 3pcc not enabled, hanging up.",
        f"[NOTICE] sofia.c:8035 Hangup sofia/external/scanner@127.0.0.1:{a.local_port} [CS_NEW] [MANDATORY_IE_MISSING]"]


def test_fusionpbx_external_challenges_non_carriers(tmp_path: Path) -> None:
    """FusionPBX 5.5's external profile (auth-calls, apply-inbound-acl=providers): 407 and
    sofia::pre_register for a non-carrier, the dialplan only for a carrier."""
    log = FsLog(tmp_path / "freeswitch.log")
    hooks = Recorder()
    ports = {"internal": free_port(), "external": free_port()}
    p = StandInPBX(log, Directory({}), bind_ip="127.0.0.1", netns=None, hooks=hooks, ports=ports,
                   auth_calls=("internal", "external"), providers=("127.0.0.2/32",))
    p.start()
    try:
        a = agent()
        assert a.invite("0046812345", ports["external"], "pbx.example") == [407]
        a.close()
        pre = [h for name, h in hooks.events if name == "sofia::pre_register"]
        assert len(pre) == 1 and pre[0]["profile-name"] == "external" and pre[0]["network-ip"] == "127.0.0.1"
        assert not hooks.calls
        assert ("SIP auth challenge (INVITE) on sofia profile 'external' for [0046812345@pbx.example] "
                "from ip 127.0.0.1") in (tmp_path / "freeswitch.log").read_text()
        p.providers = [__import__("ipaddress").ip_network("127.0.0.1/32")]
        a = agent()
        assert a.invite("0046812345", ports["external"], "pbx.example") == [404]  # a carrier: dialplan
        a.close()
        assert len(hooks.calls) == 1
    finally:
        p.stop()
        log.close()


def test_hostile_input_is_data_and_never_stops_the_pbx(pbx) -> None:
    p, hooks, ports, logpath = pbx
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    for junk in (b"", b"\xff\xfe garbage", b"REGISTER sip:x SIP/2.0\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"):
        s.sendto(junk, ("127.0.0.1", ports["internal"]))
    s.close()
    a = agent()
    # a To user carrying text that imitates another record: written as sofia writes it (unsanitised)
    assert a.register("x] from ip 198.51.100.9 [", "127.0.0.1", "pw", ports["internal"])[0] == 401
    assert a.options(ports["internal"]) == 200  # still answering
    a.close()
    assert "for [x] from ip 198.51.100.9 [@127.0.0.1] from ip 127.0.0.1" in logpath.read_text()


def test_options_over_tcp(pbx) -> None:
    p, hooks, ports, _ = pbx
    c = socket.create_connection(("127.0.0.1", ports["internal"]), timeout=2)
    req = sip.Message(f"OPTIONS sip:127.0.0.1:{ports['internal']} SIP/2.0")
    req.headers = [("via", "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx"), ("from", "<sip:a@b>;tag=1"),
                   ("to", "<sip:c@d>"), ("call-id", "tcp-1"), ("cseq", "1 OPTIONS")]
    c.sendall(req.encode())
    data = c.recv(4096)
    c.close()
    assert sip.parse(data).status == 200


def test_digest_roundtrip_and_rejection() -> None:
    chal = 'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"'
    auth = sip.authorization(chal, "1000", "pw", "REGISTER", "sip:r")
    params = sip.parse_auth(auth)
    assert sip.check_authorization(params, "pw", "REGISTER")
    assert not sip.check_authorization(params, "other", "REGISTER")
    assert not sip.check_authorization(params, "pw", "INVITE")


def test_ipv6_register_and_invite(tmp_path: Path) -> None:
    log = FsLog(tmp_path / "freeswitch.log")
    hooks = Recorder()
    ports = {"internal": free_port(), "external": free_port()}
    p = StandInPBX(log, Directory({"[::1]": {"1000": "pw"}}), bind_ip="127.0.0.1", bind_ip6="::1", netns=None,
                   hooks=hooks, ports=ports)
    p.start()
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        a = Agent(s, "::1", timeout=1.0)
        assert a.options(ports["internal"]) == 200
        assert a.register("1000", "[::1]", "bad", ports["internal"]) == [401, 403]
        assert a.invite("999", ports["external"], "[::1]") == [404]
        a.close()
    finally:
        p.stop()
        log.close()
    assert hooks.events[-1][1]["network-ip"] == "::1"
    assert hooks.calls[0].channel.startswith("sofia/external/scanner@[::1]:")
    assert "SIP auth failure (REGISTER) on sofia profile 'internal' for [1000@[::1]] from ip ::1" in \
        (tmp_path / "freeswitch.log").read_text()
