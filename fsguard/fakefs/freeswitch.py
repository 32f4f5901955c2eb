"""The stand-in for mod_python3's SWIG ``freeswitch`` module (FreeSWITCH 1.10.12).

Installed as ``sys.modules["freeswitch"]`` by :func:`fsguard.fakefs.install`. Faithful to
shared/reference/freeswitch.md and the probe recordings: positional arguments only, ``None`` for
missing variables/headers, ``consoleLog`` adding no newline and mapping unknown levels to DEBUG,
``pop`` timeouts in milliseconds, and a :class:`FreeSwitchCrash` (a BaseException) whenever a
string with lone surrogates is handed back to C, as the real process segfaults then.
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

from fsguard.fakefs import capi, logfile
from fsguard.fakefs.session import Session
from fsguard.fakefs.switch import FreeSwitchCrash

use = capi.use
current = capi.current
_c_str = capi.c_str
_c_int = capi.c_int


# -- logging ------------------------------------------------------------------------------------
def consoleLog(level_str: str | None, msg: str | None, /) -> None:  # noqa: N802 - SWIG's names
    lv = _c_str(level_str, "consoleLog", 1)
    text = _c_str(msg, "consoleLog", 2) or ""
    current().log_record(logfile.str2level(lv), "switch_cpp.cpp", 1466, text)


def consoleLog2(level_str: str | None, file: str | None, func: str | None, line: int, msg: str | None, /) -> None:  # noqa: N802
    lv = _c_str(level_str, "consoleLog2", 1)
    f = _c_str(file, "consoleLog2", 2) or ""
    _c_str(func, "consoleLog2", 3)
    ln = _c_int(line, "consoleLog2", 4)
    text = _c_str(msg, "consoleLog2", 5) or ""
    current().log_record(logfile.str2level(lv), logfile.cut_path(f), ln, text)


def consoleCleanLog(msg: str | None, /) -> None:  # noqa: N802
    current().log_clean(_c_str(msg, "consoleCleanLog", 1) or "")


# -- globals, lifecycle --------------------------------------------------------------------------
def getGlobalVariable(name: str | None, /) -> str | None:  # noqa: N802
    n = _c_str(name, "getGlobalVariable", 1)
    return None if n is None else current().globals.get(n)


def setGlobalVariable(name: str | None, value: str | None, /) -> None:  # noqa: N802
    n = _c_str(name, "setGlobalVariable", 1)
    v = _c_str(value, "setGlobalVariable", 2)
    if n:
        if v is None:
            current().globals.pop(n, None)
        else:
            current().globals[n] = v


def running() -> bool:
    sw = current()
    if sw.crashed:
        raise FreeSwitchCrash("FreeSWITCH already crashed: " + sw.crashed)
    return sw.is_running


def msleep(ms: int, /) -> None:
    # holds the GIL in the real module: fsguard must never call it from a call thread
    time.sleep(_c_int(ms, "msleep", 1) / 1000.0)


# -- API, Stream -------------------------------------------------------------------------------------
class API:
    def __init__(self, session: object = None, /) -> None:
        self._session = session

    def executeString(self, command: str | None, /) -> str:  # noqa: N802
        cmd = _c_str(command, "API_executeString", 2) or ""
        name, _, args = cmd.strip().partition(" ")
        return current().api(name, args)

    def execute(self, command: str | None, data: str | None = None, /) -> str:
        cmd = _c_str(command, "API_execute", 2) or ""
        args = _c_str(data, "API_execute", 3) or ""
        return current().api(cmd.strip(), args)


class Stream:
    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, data: str | None, /) -> None:
        text = _c_str(data, "Stream_write", 2)
        if text:
            self._parts.append(text)

    def get_data(self) -> str:
        return "".join(self._parts)


# -- events ---------------------------------------------------------------------------------------------
_EVENT_NAMES = frozenset(
    "CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE HEARTBEAT API LOG RE_SCHEDULE SHUTDOWN STARTUP "
    "MESSAGE PRESENCE_IN NOTIFY_IN BACKGROUND_JOB ALL".split()
)


class Event:
    def __init__(self, type: str | None, subclass_name: str | None = None, /) -> None:  # noqa: A002
        sw = current()
        t = _c_str(type, "new_Event", 1) or ""
        sub = _c_str(subclass_name, "new_Event", 2)
        self._mine = True
        self._body: str | None = None
        self._route_sub: str | None = None
        if t.lower() == "json":
            try:
                data = json.loads(sub or "")
                if not isinstance(data, dict):
                    raise ValueError("not an object")
            except ValueError:
                raise sw.crash("segfault: Event('json', <invalid JSON>)") from None
            self._headers = {str(k): str(v) for k, v in data.items() if k != "_body"}
            if "_body" in data:
                self._body = str(data["_body"])
            self._type = self._headers.get("Event-Name", "CUSTOM")
            return
        if sub and t.upper() != "CUSTOM":
            sw.log_record(4, "switch_cpp.cpp", 311,
                          "Changing event type to custom because you specified a subclass name!\n")
            t = "CUSTOM"
        self._type = t.upper()
        self._route_sub = sub
        self._headers = sw.base_headers(self._type, sub)
        self._headers.update({"Event-Calling-File": "switch_cpp.cpp", "Event-Calling-Function": "Event",
                              "Event-Calling-Line-Number": "315"})

    @classmethod
    def _wrap(cls, headers: dict[str, str], body: str | None) -> Event:
        ev = cls.__new__(cls)
        ev._mine = False
        ev._headers = headers
        ev._body = body
        ev._type = headers.get("Event-Name", "CUSTOM")
        ev._route_sub = headers.get("Event-Subclass")
        return ev

    def getHeader(self, header_name: str | None, /) -> str | None:  # noqa: N802
        name = _c_str(header_name, "Event_getHeader", 2)
        if not name:
            current().log_record(3, "switch_cpp.cpp", 440, "Trying to getHeader an invalid header!\n")
            return None
        if name in self._headers:
            return self._headers[name]
        low = name.lower()  # event headers are looked up case-insensitively
        for k, v in self._headers.items():
            if k.lower() == low:
                return v
        return None

    def addHeader(self, header_name: str | None, value: str | None, /) -> bool:  # noqa: N802
        name = _c_str(header_name, "Event_addHeader", 2)
        val = _c_str(value, "Event_addHeader", 3)
        if not name or val is None:
            return False
        self._headers[name] = val
        return True

    def delHeader(self, header_name: str | None, /) -> bool:  # noqa: N802
        name = _c_str(header_name, "Event_delHeader", 2)
        if not name:
            current().log_record(3, "switch_cpp.cpp", 470, "Trying to delHeader an invalid header!\n")
            return False
        return self._headers.pop(name, None) is not None

    def addBody(self, value: str | None, /) -> bool:  # noqa: N802
        val = _c_str(value, "Event_addBody", 2)
        if val is None:
            return False
        self._body = (self._body or "") + val
        return True

    def getBody(self) -> str | None:  # noqa: N802
        return self._body

    def getType(self) -> str:  # noqa: N802
        return self._type

    def serialize(self, format: str | None = None, /) -> str:  # noqa: A002
        fmt = _c_str(format, "Event_serialize", 2)
        if fmt == "json":
            data: dict[str, Any] = dict(self._headers)
            if self._body is not None:
                data["_body"] = self._body
            return json.dumps(data)
        from urllib.parse import quote

        text = "".join("%s: %s\n" % (k, quote(v, safe="")) for k, v in self._headers.items())
        if self._body:
            text += "Content-Length: %d\n\n%s" % (len(self._body), self._body)
        return text

    def fire(self) -> bool:
        sw = current()
        if not self._mine:
            sw.log_record(3, "switch_cpp.cpp", 400, "Not My event!\n")
            return False
        self._mine = False  # the event belongs to the core once fired
        sw.dispatch(self._type, self._route_sub if self._type == "CUSTOM" else None, dict(self._headers), self._body)
        return True


class EventConsumer:
    def __init__(self, event_name: str | None = None, subclass_name: str | None = "", len: int = 5000, /) -> None:  # noqa: A002
        sw = current()
        self._switch = sw
        self._bindings: list[tuple[str, str]] = []
        size = _c_int(len, "new_EventConsumer", 3)
        self._queue: queue.Queue[tuple[dict[str, str], str | None]] = queue.Queue(maxsize=max(size, 1))
        self.dropped = 0
        sw.consumers.add(self)
        name = _c_str(event_name, "new_EventConsumer", 1)
        sub = _c_str(subclass_name, "new_EventConsumer", 2) or ""
        if name:
            self.bind(name, sub)

    def bind(self, event_name: str | None, subclass_name: str | None = "", /) -> int:
        name = (_c_str(event_name, "EventConsumer_bind", 2) or "").upper()
        sub = _c_str(subclass_name, "EventConsumer_bind", 3) or ""
        if name not in _EVENT_NAMES:
            self._switch.log_record(3, "switch_cpp.cpp", 90, "Can't bind to %s, event not found\n" % name)
            return 0
        self._bindings.append((name, sub))
        self._switch.log_record(7, "switch_cpp.cpp", 86, "bound to %s %s\n" % (name, sub))
        return 1

    def pop(self, block: int = 0, timeout: int = 0, /) -> Event | None:
        b = _c_int(block, "EventConsumer_pop", 2)
        t = _c_int(timeout, "EventConsumer_pop", 3)
        try:
            if not b:
                item = self._queue.get_nowait()
            elif t > 0:
                item = self._queue.get(timeout=t / 1000.0)
            else:
                while True:  # block=1, timeout=0 waits forever (shutdown does not wake it)
                    if self._switch.crashed:
                        raise FreeSwitchCrash(self._switch.crashed)
                    try:
                        item = self._queue.get(timeout=0.2)
                        break
                    except queue.Empty:
                        continue
        except queue.Empty:
            return None
        return Event._wrap(item[0], item[1])

    def cleanup(self) -> None:
        for name, _sub in self._bindings:
            self._switch.log_record(7, "switch_event.c", 2196,
                                    "Event Binding deleted for src/switch_cpp.cpp:%s\n" % name)
        self._bindings = []

    def __del__(self) -> None:
        try:
            self.cleanup()
        except Exception:  # noqa: S110 - interpreter teardown
            pass


CoreSession = Session

__all__ = [
    "API", "CoreSession", "Event", "EventConsumer", "Session", "Stream", "consoleCleanLog", "consoleLog",
    "consoleLog2", "getGlobalVariable", "msleep", "running", "setGlobalVariable", "use", "current",
]
