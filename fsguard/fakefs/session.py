"""``freeswitch.Session`` of the stand-in: one inbound SIP call in the dialplan's EXECUTE state.

The log records, SIP answers and hangup causes follow the probe recordings
(``samples/mod_python3-probe/real*_freeswitch.log``, ``real2_sipp.txt``)."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fsguard.fakefs import capi, logfile

# switch_channel_str2cause names, and sofia's hangup-cause -> SIP status mapping
CAUSE_TO_SIP = {
    "UNALLOCATED_NUMBER": 404, "NO_ROUTE_TRANSIT_NET": 404, "NO_ROUTE_DESTINATION": 404,
    "USER_BUSY": 486, "NO_USER_RESPONSE": 408, "NO_ANSWER": 480, "SUBSCRIBER_ABSENT": 480,
    "CALL_REJECTED": 603, "NUMBER_CHANGED": 410, "REDIRECTION_TO_NEW_DESTINATION": 410,
    "EXCHANGE_ROUTING_ERROR": 483, "DESTINATION_OUT_OF_ORDER": 502, "INVALID_NUMBER_FORMAT": 484,
    "FACILITY_REJECTED": 501, "NORMAL_UNSPECIFIED": 480, "NORMAL_CLEARING": 480,
    "INCOMPATIBLE_DESTINATION": 488, "SERVICE_UNAVAILABLE": 503, "NORMAL_TEMPORARY_FAILURE": 503,
    "NORMAL_CIRCUIT_CONGESTION": 503, "SWITCH_CONGESTION": 503, "RECOVERY_ON_TIMER_EXPIRE": 504,
    "BEARERCAPABILITY_NOTAUTH": 403, "BEARERCAPABILITY_NOTAVAIL": 503, "MANDATORY_IE_MISSING": 400,
    "ORIGINATOR_CANCEL": 487, "NETWORK_OUT_OF_ORDER": 500, "CHAN_NOT_IMPLEMENTED": 501,
    "OUTGOING_CALL_BARRED": 403, "INCOMING_CALL_BARRED": 403, "GATEWAY_DOWN": 502,
}
SIP_TO_CAUSE = {404: "UNALLOCATED_NUMBER", 403: "CALL_REJECTED", 486: "USER_BUSY", 480: "NO_USER_RESPONSE",
                603: "CALL_REJECTED", 502: "DESTINATION_OUT_OF_ORDER", 503: "NORMAL_TEMPORARY_FAILURE"}
PHRASES = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 410: "Gone", 480: "Temporarily Unavailable",
           483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
           488: "Not Acceptable Here", 500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Server Time-out", 603: "Decline"}
KNOWN_APPS = frozenset("log set export unset respond hangup answer pre_answer sleep info ring_ready playback "
                       "set_global python".split())
_VAR_RE = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Channel:
    uuid: str
    name: str
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower name -> (name, value)
    state: str = "CS_EXECUTE"
    answered: bool = False
    early: bool = False
    sip: list[str] = field(default_factory=list)  # what the caller received, e.g. ["183", "486"]
    cause: str | None = None
    hook: Callable[..., Any] | None = None
    hook_session: Any = None
    hook_done: bool = False
    in_app: bool = False

    def get(self, name: str) -> str | None:
        hit = self.variables.get(name.lower())
        if hit is not None:
            return hit[1]
        g = capi.current().globals
        return g.get(name, g.get(name.lower()))  # channel lookups fall back to globals

    def set(self, name: str, value: str | None) -> None:
        if value is None:
            self.variables.pop(name.lower(), None)
        else:
            self.variables[name.lower()] = (name, value)

    def expand(self, text: str) -> str:
        return _VAR_RE.sub(lambda m: self.get(m.group(1)) or "", text)

    @property
    def up(self) -> bool:
        return self.cause is None


def new_channel(variables: dict[str, str | bytes], name: str, uuid: str | None = None) -> Channel:
    ch = Channel(uuid or str(uuidlib.uuid4()), name)
    for k, v in variables.items():
        # bytes are what the wire carried: C hands them to Python UTF-8 decoded with surrogateescape
        ch.set(k, v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
    ch.set("uuid", ch.uuid)
    ch.set("channel_name", name)
    return ch


class Session:
    """CoreSession as SWIG exposes it. ``Session(uuid)`` attaches to a live call of the switch."""

    def __init__(self, uuid: str | None = None, /) -> None:
        u = capi.c_str(uuid, "new_Session", 1)
        ch = capi.current().channels.get(u or "")
        self._ch: Channel = ch if ch is not None else Channel(u or "", "")
        if ch is None:
            self._ch.cause = "NONE"
        self.uuid = self._ch.uuid

    @classmethod
    def _attach(cls, ch: Channel) -> Session:
        s = cls.__new__(cls)
        s._ch = ch
        s.uuid = ch.uuid
        return s

    # logging ---------------------------------------------------------------------------------
    def _log(self, level: int, file: str, line: int, msg: str) -> None:
        capi.current().log_record(level, file, line, msg, self._ch.uuid)

    def consoleLog(self, level_str: str | None, msg: str | None, /) -> None:  # noqa: N802
        lv = capi.c_str(level_str, "CoreSession_consoleLog", 2)
        text = capi.c_str(msg, "CoreSession_consoleLog", 3) or ""
        self._log(logfile.str2level(lv), "switch_cpp.cpp", 1393, text)

    def consoleLog2(self, level_str: str | None, file: str | None, func: str | None, line: int, msg: str | None, /) -> None:  # noqa: N802,E501
        lv = capi.c_str(level_str, "CoreSession_consoleLog2", 2)
        f = capi.c_str(file, "CoreSession_consoleLog2", 3) or ""
        capi.c_str(func, "CoreSession_consoleLog2", 4)
        ln = capi.c_int(line, "CoreSession_consoleLog2", 5)
        text = capi.c_str(msg, "CoreSession_consoleLog2", 6) or ""
        self._log(logfile.str2level(lv), logfile.cut_path(f), ln, text)

    # variables -------------------------------------------------------------------------------
    def getVariable(self, var: str | None, /) -> str | None:  # noqa: N802
        name = capi.c_str(var, "CoreSession_getVariable", 2)
        return None if not name else self._ch.get(name)

    def setVariable(self, var: str | None, val: str | None, /) -> None:  # noqa: N802
        name = capi.c_str(var, "CoreSession_setVariable", 2)
        value = capi.c_str(val, "CoreSession_setVariable", 3)
        self._log(7, "switch_cpp.cpp", 774, "CoreSession::setVariable(%s, %s)\n" % (name, value))
        if name:
            self._ch.set(name, value)

    # call state ------------------------------------------------------------------------------
    def ready(self) -> bool:
        return self._ch.up

    def answered(self) -> bool:
        return self._ch.answered

    def mediaReady(self) -> bool:  # noqa: N802
        return self._ch.up and (self._ch.answered or self._ch.early)

    def getState(self) -> str:  # noqa: N802
        return self._ch.state

    def hangupCause(self) -> str:  # noqa: N802
        return "NONE"  # what 1.10.12 reads for dialplan calls, even after a hangup (recorded)

    def answer(self) -> int:
        ch = self._ch
        if ch.up and not ch.answered:
            ch.answered = True
            ch.sip.append("200")
            self._log(5, "switch_cpp.cpp", 704, "Channel [%s] has been answered\n" % ch.name)
        return 1 if ch.up else 0

    def preAnswer(self) -> int:  # noqa: N802
        ch = self._ch
        if ch.up and not ch.answered and not ch.early:
            ch.early = True
            ch.sip.append("183")
            self._log(6, "switch_cpp.cpp", 732, "Sending early media\n")
        return 1 if ch.up else 0

    def setHangupHook(self, hangup_func: Callable[..., Any], /) -> None:  # noqa: N802
        if not callable(hangup_func):
            raise TypeError("hangup hook must be callable")
        self._ch.hook = hangup_func
        self._ch.hook_session = self

    def hangup(self, cause: str | None = "normal_clearing", /) -> None:
        c = capi.c_str(cause, "CoreSession_hangup", 2) or "normal_clearing"
        self._log(7, "switch_cpp.cpp", 750, "CoreSession::hangup\n")
        if self._ch.up:
            name = c.upper() if c.upper() in CAUSE_TO_SIP else "NORMAL_CLEARING"
            self._do_hangup(name, "switch_cpp.cpp", 752)

    def _do_hangup(self, cause: str, file: str, line: int, sip: int | None = None) -> None:
        ch = self._ch
        self._log(5, file, line, "Hangup %s [%s] [%s]\n" % (ch.name, ch.state, cause))
        ch.cause = cause
        ch.state = "CS_HANGUP"
        if ch.answered:
            ch.sip += ["BYE", "200"]  # the BYE and the caller's 200 OK to it
        else:
            ch.sip.append(str(sip if sip is not None else CAUSE_TO_SIP.get(cause, 480)))
        if not ch.in_app:
            self._run_hook()

    def _run_hook(self) -> None:
        # recorded: after session.hangup() the hook runs at once; when an application hung the
        # call up (respond, hangup, an unknown app) it runs once execute() has finished
        ch = self._ch
        if ch.hook is not None and not ch.hook_done and not ch.up:
            ch.hook_done = True
            try:
                ch.hook(ch.hook_session, "hangup", None)
            except Exception as exc:  # the C caller prints it and goes on
                capi.current().log_record(3, "mod_python3.c", 184, "Hangup hook error: %s\n" % type(exc).__name__)

    # dialplan applications -------------------------------------------------------------------
    def execute(self, app: str | None, data: str | None = None, /) -> None:
        name = capi.c_str(app, "CoreSession_execute", 2) or ""
        raw = capi.c_str(data, "CoreSession_execute", 3) or ""
        ch = self._ch
        ch.in_app = True
        try:
            self._execute(name, raw)
        finally:
            ch.in_app = False
        self._run_hook()

    def _execute(self, name: str, raw: str) -> None:
        sw = capi.current()
        ch = self._ch
        if name not in KNOWN_APPS:
            self._log(3, "switch_core_session.c", 2766, "Invalid Application %s\n" % name)
            if ch.up:
                self._do_hangup("DESTINATION_OUT_OF_ORDER", "switch_core_session.c", 2767)
            return
        arg = ch.expand(raw)
        zombie = not ch.up
        if zombie:
            self._log(7, "switch_core_session.c", 2749, "%s ZOMBIE EXEC %s(%s)\n" % (ch.name, name, arg))
        sw.log_clean("EXECUTE [depth=0] %s %s(%s)\n" % (ch.name, name, arg), ch.uuid)
        if zombie:
            self._log(7, "switch_core_session.c", 2963,
                      "%s skip receive message [APPLICATION_EXEC] (channel is hungup already)\n" % ch.name)
        self._run_app(name, arg)
        if not ch.up:
            self._log(7, "switch_core_session.c", 2979,
                      "%s skip receive message [APPLICATION_EXEC_COMPLETE] (channel is hungup already)\n" % ch.name)

    def _run_app(self, name: str, arg: str) -> None:
        ch = self._ch
        if name == "log":
            level, _, text = arg.partition(" ")
            lv = logfile.str2level(level)
            if level.upper() not in logfile.LEVELS:
                lv, text = 7, arg
            self._log(lv, "mod_dptools.c", 1865, text + "\n")
        elif name in ("set", "export"):
            var, _, val = arg.partition("=")
            self._log(7, "mod_dptools.c", 1671, "SET %s [%s]=[%s]\n" % (ch.name, var, val))
            ch.set(var, val or None)
        elif name == "unset":
            ch.set(arg, None)
        elif name == "answer":
            self.answer()
        elif name == "pre_answer":
            self.preAnswer()
        elif name == "hangup" and ch.up:
            c = (arg or "normal_clearing").upper()
            self._do_hangup(c if c in CAUSE_TO_SIP else "NORMAL_CLEARING", "mod_dptools.c", 1374)
        elif name == "respond" and ch.up:
            code_txt, _, reason = arg.partition(" ")
            code = int(code_txt) if code_txt.isdigit() else 0
            self._log(7, "mod_sofia.c", 2350, "Responding with %d [%s]\n" % (code, reason or PHRASES.get(code, "")))
            if code >= 300:
                self._do_hangup(SIP_TO_CAUSE.get(code, "CALL_REJECTED"), "mod_sofia.c", 2416, sip=code)
            elif code == 183:
                ch.early = True
                ch.sip.append("183")
            elif code == 200:
                self.answer()
