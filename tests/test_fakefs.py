"""The stand-in freeswitch module behaves as shared/reference/freeswitch.md says."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fsguard.fakefs import FakeSwitch, FreeSwitchCrash, FreeSwitchDeadlock, Harness, split_command
from fsguard.fakefs import freeswitch as fs
from fsguard.fakefs.logfile import separate_string, str2level


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    sys.path.insert(0, str(tmp_path))
    yield Harness(FakeSwitch(tmp_path / "fs.log"))
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fsg2_probe")]:
        del sys.modules[name]


def _probe(tmp_path: Path, name: str, body: str) -> str:
    """A plugin file the harness can import and reload, like a script in FreeSWITCH's scripts dir."""
    (tmp_path / (name + ".py")).write_text(body)
    return name


def test_consolelog_adds_no_newline_and_unknown_levels_become_debug(h: Harness) -> None:
    fs.consoleLog("info", "one")
    fs.consoleLog("error", "two\n")
    fs.consoleLog("DISABLE", "never\n")
    fs.consoleLog("8", "never either\n")
    lines = h.switch.lines()
    assert len(lines) == 1
    assert "[INFO] switch_cpp.cpp:1466 one" in lines[0] and "[DEBUG] switch_cpp.cpp:1466 two" in lines[0]
    assert "never" not in h.switch.text()
    assert (tmp := Path(str(h.switch.log_path))).read_bytes() == bytes(h.switch.log)  # file and memory agree
    assert tmp.exists()


@pytest.mark.parametrize("level,expected", [("CONSOLE", 0), ("alert", 1), ("Crit", 2), ("ERR", 3), ("warning", 4),
                                            ("NOTICE", 5), ("info", 6), ("DEBUG", 7), ("error", 7), ("warn", 7),
                                            ("bogus", 7), ("", 0), ("-1", 0), ("1.5", 1), ("8", 8), ("63", 63),
                                            ("100", 63), ("DISABLE", -1), (None, 7)])
def test_level_names_and_numbers(level: str | None, expected: int) -> None:
    assert str2level(level) == expected


def test_consolelog2_shows_the_callers_file_and_line(h: Harness) -> None:
    fs.consoleLog2("WARNING", "/usr/share/freeswitch/scripts/fsguard", "", 1, "x\n")
    assert h.switch.text().endswith("[WARNING] fsguard:1 x\n")


def test_record_format_with_and_without_idle_field(tmp_path: Path) -> None:
    Harness(FakeSwitch(idle=12.5))
    fs.consoleLog("ERR", "m\n")
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} 12\.50% \[ERR\] switch_cpp\.cpp:1466 m\n",
                        fs.current().text())
    Harness(FakeSwitch(idle=None))
    fs.consoleLog("ERR", "m\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[ERR\] switch_cpp\.cpp:1466 m\n", fs.current().text())


def test_keyword_arguments_raise_type_error(h: Harness) -> None:
    with pytest.raises(TypeError):
        fs.EventConsumer(len=10)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fs.consoleLog(level_str="INFO", msg="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fs.consoleLog(3, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("call", [
    lambda: fs.consoleLog("INFO", "bad\udcff"),
    lambda: fs.consoleLog2("INFO", "f", "", 1, "bad\udcff"),
    lambda: fs.consoleCleanLog("\udcfe"),
    lambda: fs.Stream().write("x\udcff"),
    lambda: fs.setGlobalVariable("a", "\udcff"),
    lambda: fs.API().executeString("show \udcff"),
    lambda: fs.Event("CUSTOM", "x::\udcff"),
    lambda: fs.Event("json", "{not json"),
])
def test_surrogates_and_invalid_json_crash_with_a_base_exception(h: Harness, call: object) -> None:
    caught_by_except_exception = False
    with pytest.raises(FreeSwitchCrash):
        try:
            call()  # type: ignore[operator]
        except Exception:
            caught_by_except_exception = True
    assert not caught_by_except_exception
    assert not issubclass(FreeSwitchCrash, Exception)
    assert h.switch.crashed is not None
    with pytest.raises(FreeSwitchCrash):  # the process is gone
        fs.running()


def test_session_variables_case_insensitive_with_global_fallback(h: Harness, tmp_path: Path) -> None:
    _probe(tmp_path, "fsg2_probe_vars", "import freeswitch\nSEEN = {}\n"
           "def handler(session, args):\n"
           "    SEEN.update(dest=session.getVariable('DESTINATION_NUMBER'), unset=session.getVariable('fsg2_x'),\n"
           "                domain=session.getVariable('domain'), args=args, ready=session.ready())\n")
    h.switch.globals["domain"] = "pbx.example.com"
    call = h.dialplan("fsg2_probe_vars 'a b'  ", destination="1234")
    assert sys.modules["fsg2_probe_vars"].SEEN == {"dest": "1234", "unset": None, "domain": "pbx.example.com",
                                                   "args": "a b", "ready": True}
    assert call.sip == ["480"]  # the dialplan ran out of actions: hung up, 480


def test_session_setvariable_with_surrogate_crashes(h: Harness, tmp_path: Path) -> None:
    _probe(tmp_path, "fsg2_probe_setvar", "def handler(session, args):\n"
           "    session.setVariable('x', session.getVariable('sip_user_agent'))\n")
    with pytest.raises(FreeSwitchCrash):
        h.dialplan("fsg2_probe_setvar", variables={"sip_user_agent": "bad\udcff\udcfeua"})


def test_exception_message_with_surrogate_crashes(h: Harness, tmp_path: Path) -> None:
    _probe(tmp_path, "fsg2_probe_raise", "def fsapi(session, stream, env, args):\n"
           "    raise ValueError('bad ' + '\\udcff')\n")
    with pytest.raises(FreeSwitchCrash):
        h.api("fsg2_probe_raise x")
    assert "Error calling python script" in h.switch.text()


def test_entry_module_reloaded_on_every_call(h: Harness, tmp_path: Path) -> None:
    _probe(tmp_path, "fsg2_probe_counter", "import freeswitch\nimport fsg2_probe_state as S\nS.n += 1\n"
           "def fsapi(session, stream, env, args):\n    stream.write('%d %r' % (S.n, session))\n")
    _probe(tmp_path, "fsg2_probe_state", "n = 0\n")
    assert h.api("fsg2_probe_counter") == "2 'na'"  # top level ran twice: import, then reload
    assert h.api("fsg2_probe_counter") == "3 'na'"
    assert h.api("fsg2_probe_counter::nosuch") == "-ERR no reply\n"
    assert "Module does not define nosuch" in h.switch.text()


def test_event_consumer_pop_timeout_and_overflow(h: Harness) -> None:
    con = fs.EventConsumer("CUSTOM", "sofia::register", 3)
    timer = threading.Timer(0.5, lambda: h.switch.fire("sofia::register", {"n": "late"}))
    timer.start()
    assert con.pop(1, 50) is None  # 50 is milliseconds: it gives up before the event comes
    timer.join()
    late = con.pop(0, 0)
    assert late is not None and late.getHeader("n") == "late"
    assert con.pop(0, 0) is None
    for i in range(5):
        h.switch.fire("sofia::register", {"n": str(i), "absent": None})
    got = [con.pop(0, 0) for _ in range(4)]
    assert [e.getHeader("n") if e else None for e in got] == ["0", "1", "2", None]
    assert con.dropped == 2 and "Cannot queue any more events" in h.switch.text()
    h.switch.fire("sofia::register", {"n": "x"})
    ev = con.pop(1, 100)
    assert ev is not None and ev.getHeader("absent") is None and ev.getHeader("EVENT-SUBCLASS") == "sofia::register"
    assert ev.fire() is False  # not ours


def test_event_routing_by_subclass_and_double_binding(h: Harness) -> None:
    con = fs.EventConsumer("CUSTOM", "sofia::expire")
    con.bind("CUSTOM", "sofia::expire")
    h.switch.fire("sofia::register", {})
    h.switch.fire("sofia::expire", {})
    assert con.pop(0) is not None and con.pop(0) is not None and con.pop(0) is None


def test_blocking_pop_wakes_on_fire_from_another_thread(h: Harness) -> None:
    con = fs.EventConsumer("CUSTOM", "fsg2::x")
    threading.Timer(0.05, lambda: fs.Event("CUSTOM", "fsg2::x").fire()).start()
    ev = con.pop(1, 2000)
    assert ev is not None and ev.getHeader("Event-Subclass") == "fsg2::x"


def test_api_commands_and_show_registrations_shapes(h: Harness) -> None:
    api = fs.API()
    assert api.executeString("show registrations as json") == '{"row_count": 0}\n'
    h.switch.add_registration("1000", "example.com", "203.0.113.5", "5060", expires=2_000_000_000)
    import json

    data = json.loads(api.executeString("show registrations as json"))
    assert data["row_count"] == 1 and data["rows"][0]["network_ip"] == "203.0.113.5"
    assert data["rows"][0]["expires"] == "2000000000"
    assert api.executeString("nosuchcmd foo") == "INVALID COMMAND!\n"
    with pytest.raises(FreeSwitchDeadlock):
        api.executeString("python fs_python.api registered")


def test_running_turns_false_on_shutdown(h: Harness) -> None:
    assert fs.running() is True
    h.switch.shutdown()
    assert fs.running() is False


def test_hangup_causes_and_respond_map_to_sip(h: Harness, tmp_path: Path) -> None:
    names = iter(range(100))

    def run(body: str) -> list[str]:
        name = _probe(tmp_path, "fsg2_probe_sip%d" % next(names), "def handler(session, args):\n    " + body + "\n")
        importlib.invalidate_caches()
        return h.dialplan(name).sip

    assert run("session.hangup('UNALLOCATED_NUMBER')") == ["404"]
    assert run("session.hangup('NO_ROUTE_DESTINATION')") == ["404"]
    assert run("session.hangup('SOMETHING_ODD')") == ["480"]  # unknown cause -> NORMAL_CLEARING
    assert run("session.execute('respond', '404')") == ["404"]
    assert run("session.execute('nosuchapp', '')") == ["502"]
    assert run("(session.answer(), session.hangup())") == ["200", "BYE", "200"]


def test_split_command_like_mod_python3() -> None:
    assert split_command("mod::fn  a 'b c' \\'d  ") == ("mod", "fn", "a b c 'd")
    assert split_command("mod") == ("mod", None, "")


def test_separate_string_port() -> None:
    assert separate_string("a\n'b\nc'\n d \n", "\n", 100) == ["a", "b\nc", "d"]
    assert separate_string("x\n\ny", "\n", 100) == ["x", "", "y"]


def test_separate_string_fast_path_equals_the_c_port() -> None:
    import random

    from fsguard.fakefs.logfile import _separate_slow

    rnd = random.Random(3)
    for _ in range(20_000):
        buf = "".join(rnd.choice("ab \n") for _ in range(rnd.randrange(0, 12)))
        limit = rnd.choice([1, 2, 3, 100])
        assert separate_string(buf, "\n", limit) == _separate_slow(buf, "\n", limit), (buf, limit)


def test_runtime_thread_stays_with_its_own_switch(tmp_path: Path) -> None:
    sys.path.insert(0, str(tmp_path))
    try:
        _probe(tmp_path, "fsg2_probe_loop", "import freeswitch\n"
               "def runtime(args):\n    while freeswitch.running():\n        freeswitch.EventConsumer().pop(1, 20)\n")
        first = Harness(FakeSwitch())
        t = first.pyrun("fsg2_probe_loop")
        second = Harness(FakeSwitch())  # another process becomes current in this thread
        first.switch.shutdown()
        t.join(3)
        assert not t.is_alive() and second.switch.is_running
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fsg2_probe_loop", None)
