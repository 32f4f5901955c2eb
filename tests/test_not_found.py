"""fs_python.not_found through the stand-in, driven the way mod_python3 does (import+reload per call)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from fs_python import eventline, fslog
from fsguard.fakefs import Harness
from tests import fsg_fixtures
from tests.fsg_fixtures import TOKEN, write_config

fs_env = fsg_fixtures.fs_env  # the fixture

HOSTILE = [
    "x] from ip 198.51.100.9 [",
    "a\r\nb\rc\nd",
    "\x1b[31mred\x1b[0m",
    "[bracket] \"quote\" 'single' \\back",
    "bad\udcff\udcfeua",
    "%FF\udc80 raw",
    "nul\x00byte",
    "fullwidth １９８.５１.１００.９",
    "2026-11-26 19:16:18.546302 97.00% [WARNING] sofia_reg.c:1787 SIP auth failure from ip 198.51.100.23",
    "U" * 10_240,
]
ATTACKER_VARS = ("destination_number", "sip_user_agent", "sip_from_user", "sip_to_user", "sip_to_host")
FIELD_OF = {"destination_number": "number", "sip_user_agent": "ua", "sip_from_user": "from",
            "sip_to_user": "to", "sip_to_host": "domain"}


def _events(h: Harness) -> list[eventline.Event]:
    """Every physical log line carrying our marker must parse as one well-formed event."""
    found = []
    for line in h.switch.lines():
        if " fsguard:1 " in line:
            ev = eventline.parse(line, TOKEN)
            assert ev is not None, "malformed event line: %r" % line[:300]
            found.append(ev)
    return found


def _check_one_call(h: Harness, ip: str | None, variables: dict[str, str | None], expect_ip: str | None) -> None:
    start = len(h.switch.log)
    call = h.dialplan("fs_python.not_found", network_ip=ip or "127.0.0.1",
                      variables={"sip_network_ip": ip, **variables})
    assert h.switch.crashed is None
    assert call.final == 404 and call.cause == "UNALLOCATED_NUMBER"
    new = bytes(h.switch.log[start:]).decode("utf-8", "surrogateescape")
    # our records (FreeSWITCH's own records, e.g. the channel name, carry raw attacker text)
    ours = [ln for ln in new.split("\n") if " [WARNING] fsguard:1 " in ln]
    assert len(ours) == 1, ours
    line = ours[0]
    assert line.isascii() and len(line.encode()) < 2000
    ev = eventline.parse(line, TOKEN)
    assert ev is not None and ev.kind == "not-found"
    assert ev.ip == expect_ip
    # the address a filter reads: the 4th token of the message, never attacker text
    msg = line.split(" fsguard:1 ", 1)[1]
    assert msg.split(" ")[3] == (expect_ip or "-")
    for var, value in variables.items():
        if value is None:
            assert FIELD_OF[var] not in ev.fields
        elif FIELD_OF[var] not in ev.cut:
            assert ev.fields[FIELD_OF[var]] == value.split("\x00")[0] or ev.fields[FIELD_OF[var]] == value


def test_logs_event_with_true_ip_and_answers_404(fs_env: Harness) -> None:
    _check_one_call(fs_env, "203.0.113.9", {"destination_number": "0044123", "sip_user_agent": "friendly-scanner",
                                            "sip_from_user": "100", "sip_to_user": "0044123",
                                            "sip_to_host": "198.51.100.1"}, "203.0.113.9")
    ev = _events(fs_env)[0]
    assert ev.fields == {"profile": "external", "method": "INVITE", "domain": "198.51.100.1", "number": "0044123",
                         "from": "100", "to": "0044123", "ua": "friendly-scanner"}
    # the record is logged at WARNING by "fsguard:1", and Python logged no error
    assert re.search(r"\[WARNING\] fsguard:1 FSGUARD %s not-found 203\.0\.113\.9 " % TOKEN, fs_env.switch.text())
    assert "Error calling python script" not in fs_env.switch.text()


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("var", ATTACKER_VARS)
def test_hostile_text_in_every_attacker_field(fs_env: Harness, var: str, value: str) -> None:
    _check_one_call(fs_env, "203.0.113.9", {var: value}, "203.0.113.9")


@pytest.mark.parametrize("ip,expect", [("2001:db8::5", "2001:db8::5"), ("::ffff:203.0.113.7", "203.0.113.7"),
                                       ("2001:DB8:0:0::5", "2001:db8::5"), (None, None),
                                       ("x] from ip 198.51.100.9 [", None), ("198.51.100.9\udcff", None),
                                       ("", None), ("fe80::1%eth0", None)])
def test_ip_forms_and_missing_ip(fs_env: Harness, ip: str | None, expect: str | None) -> None:
    _check_one_call(fs_env, ip, {"destination_number": "1"}, expect)


def test_all_variables_missing(fs_env: Harness) -> None:
    missing: dict[str, str | None] = {v: None for v in ATTACKER_VARS}
    missing["sofia_profile_name"] = None
    call = fs_env.dialplan("fs_python.not_found", variables={"sip_network_ip": None, **missing})
    assert call.final == 404 and fs_env.switch.crashed is None
    (ev,) = _events(fs_env)
    assert ev.ip is None and ev.fields == {"method": "INVITE"}


def test_random_hostile_calls_property(fs_env: Harness) -> None:
    rnd = random.Random(20261126)
    alphabet = list("ab 1.:@[]\"'\\%~=") + ["\r", "\n", "\t", "\x00", "\x1b", "\x7f", "\udcff", "\udc80", "é", "\u202e",
                                          "１", "\U0001f600", "FSGUARD ", TOKEN, " from ip 198.51.100.9 "]
    for _ in range(150):
        ip = rnd.choice(["203.0.113.%d" % rnd.randrange(1, 255), "2001:db8::%x" % rnd.randrange(1, 65535), None,
                         "198.51.100.9 x", "::ffff:192.0.2.%d" % rnd.randrange(1, 255)])
        expect = eventline.normalize_ip(ip)
        variables = {var: ("".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 400)))
                           if rnd.random() < 0.85 else None) for var in ATTACKER_VARS}
        _check_one_call(fs_env, ip, variables, expect)


def test_no_token_logs_one_clear_error_and_no_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     fs_env: Harness) -> None:
    conf = write_config(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, token=None)
    monkeypatch.setenv("FSGUARD_CONFIG", str(conf))
    fslog.reset()
    for _ in range(3):
        call = fs_env.dialplan("fs_python.not_found", variables={"sip_user_agent": "bad\udcff"})
        assert call.final == 404
    text = fs_env.switch.text()
    assert fs_env.switch.crashed is None
    assert "FSGUARD" not in text
    errors = [ln for ln in fs_env.switch.lines() if "[ERR]" in ln and "event_token" in ln]
    assert len(errors) == 1 and errors[0].isascii()


def test_fusionpbx_classic_line_only_with_a_valid_ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     fs_env: Harness) -> None:
    sub = tmp_path / "c"
    sub.mkdir()
    monkeypatch.setenv("FSGUARD_CONFIG", str(write_config(sub, "[fs_python]\nfusionpbx_404_line = true\n")))
    fslog.reset()
    fs_env.dialplan("fs_python.not_found", network_ip="203.0.113.44",
                    variables={"destination_number": "x] 404 not found 198.51.100.9 ["})
    fs_env.dialplan("fs_python.not_found", variables={"sip_network_ip": "not an ip 198.51.100.9"})
    classic = [ln for ln in fs_env.switch.lines() if "[inbound routes]" in ln]
    assert len(classic) == 1
    assert classic[0].endswith("[inbound routes] 404 not found 203.0.113.44")
    assert "198.51.100.9" not in classic[0]


def test_called_from_fs_cli_does_nothing_harmful(fs_env: Harness) -> None:
    assert fs_env.api("fs_python.not_found::handler x") == "-ERR no reply\n"  # fsapi signature differs
    from fs_python import not_found

    not_found.handler("na", "")  # a string session: nothing to answer, nothing raised
    assert fs_env.switch.crashed is None


def test_raw_wire_bytes_arrive_as_surrogates_and_are_logged_escaped(fs_env: Harness) -> None:
    # the reference's observation: User-Agent bad\xff\xfeua -> getVariable gives 'bad\udcff\udcfeua'
    call = fs_env.dialplan("fs_python.not_found", network_ip="203.0.113.10",
                           variables={"sip_user_agent": b"bad\xff\xfeua", "destination_number": b"\xff] 1 ["})
    assert call.final == 404 and fs_env.switch.crashed is None
    (ev,) = _events(fs_env)
    assert ev.fields["ua"] == "bad\udcff\udcfeua" and ev.fields["number"] == "\udcff] 1 ["
    line = next(ln for ln in fs_env.switch.lines() if " fsguard:1 " in ln)
    assert 'ua="bad\\xff\\xfeua"' in line and 'number="\\xff] 1 ["' in line
