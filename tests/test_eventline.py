"""The event-line contract (fs_python.eventline): render/parse round trip, hostile text, limits."""

from __future__ import annotations

import random
import re

import pytest

from fs_python import eventline
from fsguard.fakefs import FakeSwitch, Harness
from fsguard.fakefs import freeswitch as fs

TOKEN = "fsg2Token9876"
HOSTILE = ["x] from ip 198.51.100.9 [", "a\r\nb", "\x1b[2J", '"quoted" \\ back', "bad\udcff\udcfe", "\x00", "é\u202e",
           "\U0001f600", "１９８.５１.１００.９", 'k="v" ua="x"', "~", " " * 5, ""]


def test_round_trip_every_field() -> None:
    fields = {k: "v-" + k for k in eventline.FIELDS}
    line = eventline.render(TOKEN, "auth-failure", "203.0.113.5", fields)
    assert line.endswith("\n") and line.count("\n") == 1
    ev = eventline.parse(line, TOKEN)
    assert ev is not None and ev.kind == "auth-failure" and ev.ip == "203.0.113.5" and ev.fields == fields


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", eventline.FIELDS)
def test_hostile_values_round_trip_and_stay_one_ascii_line(key: str, value: str) -> None:
    line = eventline.render(TOKEN, "not-found", "2001:db8::1", {key: value})
    body = line[:-1]
    assert body.isascii() and "\n" not in body and "\r" not in body and "\x1b" not in body and "\x00" not in body
    ev = eventline.parse(line, TOKEN)
    assert ev is not None and ev.ip == "2001:db8::1" and ev.fields == {key: value}
    assert body.split(" ")[3] == "2001:db8::1"


def test_long_values_are_cut_and_marked() -> None:
    line = eventline.render(TOKEN, "not-found", "192.0.2.1", {"ua": "U" * 10_240, "user": "\udcff" * 1000})
    assert len(line) < 2000
    ev = eventline.parse(line, TOKEN)
    assert ev is not None and ev.cut == frozenset({"ua", "user"})
    assert ev.fields["ua"] == "U" * eventline.MAX_UA and ev.fields["user"] == "\udcff" * (eventline.MAX_FIELD // 4)


@pytest.mark.parametrize("ip,shown", [(None, "-"), ("", "-"), ("x] from ip 198.51.100.9 [", "-"),
                                      ("::ffff:192.0.2.7", "192.0.2.7"), ("[2001:db8::5]", "2001:db8::5"),
                                      ("１.２.３.４", "-"), ("192.0.2.1\udcff", "-"), ("fe80::1%eth0", "-")])
def test_ip_position_holds_only_a_normalised_address(ip: str | None, shown: str) -> None:
    line = eventline.render(TOKEN, "acl-reject", ip, {})
    assert line.rstrip("\n").split(" ")[3] == shown


def test_bad_token_or_kind_refused() -> None:
    with pytest.raises(ValueError):
        eventline.render("short", "not-found", "192.0.2.1")
    with pytest.raises(ValueError):
        eventline.render(TOKEN, "made-up", "192.0.2.1")
    line = eventline.render(TOKEN, "not-found", "192.0.2.1")
    assert eventline.parse(line, "someOtherToken1") is None


def test_filter_regex_takes_the_true_address() -> None:
    rx = re.compile(eventline.filter_regex(TOKEN).replace("<ADDR>", r"(?P<addr>[0-9a-fA-F:.]+)"))
    line = eventline.render(TOKEN, "auth-failure", "203.0.113.44",
                            {"user": "x FSGUARD %s auth-failure 198.51.100.9 y" % TOKEN, "ua": "from ip 198.51.100.9"})
    m = rx.search(line)
    assert m is not None and m.group("addr") == "203.0.113.44"


def test_property_random_hostile_text() -> None:
    rnd = random.Random(7)
    alphabet = [chr(c) for c in range(0, 0x80)] + ["\udc80", "\udcff", "\u2028", "é", "\U0001f600", "１"]
    for _ in range(400):
        fields = {k: "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 300)))
                  for k in eventline.FIELDS if rnd.random() < 0.7}
        ip = rnd.choice(["192.0.2.%d" % rnd.randrange(256), "2001:db8::%x" % rnd.randrange(1 << 16), None, "junk"])
        line = eventline.render(TOKEN, rnd.choice(eventline.KINDS), ip, fields)
        assert line[:-1].isascii() and line.count("\n") == 1 and len(line) < 2048
        ev = eventline.parse(line, TOKEN)
        assert ev is not None and ev.ip == eventline.normalize_ip(ip)
        for k, v in fields.items():
            assert ev.fields[k] == v or (k in ev.cut and v.startswith(ev.fields[k]))


def test_as_freeswitch_logs_it_through_consolelog2() -> None:
    h = Harness(FakeSwitch())
    msg = eventline.render(TOKEN, "not-found", "203.0.113.9", {"number": "x] from ip 198.51.100.9 ["})
    fs.consoleLog2(eventline.LOG_LEVEL, eventline.LOG_FILE, "", eventline.LOG_LINE, msg)
    (line,) = h.switch.lines()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d+\.\d\d% \[WARNING\] fsguard:1 FSGUARD ", line)
    ev = eventline.parse(line, TOKEN)
    assert ev is not None and ev.timestamp is not None and ev.ip == "203.0.113.9"
    assert h.switch.crashed is None
