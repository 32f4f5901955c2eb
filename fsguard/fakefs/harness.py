"""Call Python entry points the way mod_python3 (FreeSWITCH 1.10.12) does.

- ``api("mod[::fn] args")``  = ``fs_cli -x "python mod args"``: ``fsapi(session="na", stream, env, args)``,
  the answer is what was written to the stream, or ``-ERR no reply`` when nothing was.
- ``dialplan("mod args", ...)`` = ``<action application="python" data="mod args"/>`` in a call:
  ``handler(session, args)``; returns the :class:`Call` with what the caller got over SIP.
- ``pyrun("mod args")`` / startup-script: ``runtime(args)`` in a new detached thread.

Every call imports the named module and then reloads it (top-level code runs twice on the first
call), logs the same ``mod_python3.c`` records as the real module, and reports exceptions the same
way (``Error calling python script`` + ``Python Error by calling script``). A lone surrogate in an
exception message crashes the process, as it does for real.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

from fsguard.fakefs import capi, logfile
from fsguard.fakefs import freeswitch as fakemod
from fsguard.fakefs.session import Channel, Session, new_channel
from fsguard.fakefs.switch import FakeSwitch, FreeSwitchCrash, has_surrogate

PY = "mod_python3.c"


def install(switch: FakeSwitch | None = None) -> FakeSwitch:
    """Make ``import freeswitch`` give the stand-in, talking to ``switch`` (a new one if None)."""
    sys.modules["freeswitch"] = fakemod
    return capi.use(switch if switch is not None else FakeSwitch())


def split_command(command: str) -> tuple[str, str | None, str]:
    """mod_python3's ``mod[::fn] args`` split; args lose single quotes/escapes and outer spaces."""
    script, _, rest = command.strip().partition(" ")
    fn = None
    if "::" in script:
        script, fn = script.split("::", 1)
    return script, fn, logfile._cleanup(rest, " ") if rest else ""


@dataclass
class Call:
    """One simulated inbound call that ran a python dialplan action."""

    channel: Channel
    session: Session
    sip: list[str] = field(default_factory=list)

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def final(self) -> int | None:
        """The final SIP status the caller received (None when answered)."""
        codes = [int(c) for c in self.sip if c.isdigit() and int(c) >= 300]
        return codes[-1] if codes else None

    @property
    def cause(self) -> str | None:
        return self.channel.cause


class Harness:
    def __init__(self, switch: FakeSwitch | None = None, *, scripts_dir: Path | str | None = None,
                 recursion_limit: int | None = 240) -> None:
        self.switch = install(switch)
        self.recursion_limit = recursion_limit
        self.threads: list[threading.Thread] = []
        self.thread_errors: list[BaseException] = []
        if scripts_dir is not None and str(scripts_dir) not in sys.path:
            sys.path.insert(0, str(scripts_dir))

    # -- the three entry points ----------------------------------------------------------------
    def api(self, command: str) -> str:
        """``fs_cli -x "python <command>"``: the text fs_cli prints (before its own newline)."""
        capi.use(self.switch)
        script, fn, args = split_command(command)
        env = fakemod.Event._wrap({"Event-Name": "API", "API-Command": "python",
                                   "API-Command-Argument": command}, None)
        stream = fakemod.Stream()
        self._run(script, fn or "fsapi", ("na", stream, env, args))
        return stream.get_data() or "-ERR no reply\n"

    def dialplan(self, data: str, *, variables: dict[str, str | bytes | None] | None = None, profile: str = "external",
                 network_ip: str = "127.0.0.1", network_port: str = "5072", from_user: str = "sipp",
                 destination: str = "7780", uuid: str | None = None) -> Call:
        """An INVITE reaching ``<action application="python" data="<data>"/>``."""
        capi.use(self.switch)
        base: dict[str, str | bytes | None] = {
            "destination_number": destination, "caller_id_number": from_user, "caller_id_name": from_user,
            "sip_network_ip": network_ip, "sip_network_port": network_port, "sip_received_ip": network_ip,
            "sip_from_user": from_user, "sip_from_host": network_ip, "sip_to_user": destination,
            "sip_to_host": self.switch.globals.get("domain", "127.0.0.1"), "sip_req_user": destination,
            "sofia_profile_name": profile, "direction": "inbound", "context": "public",
            "sip_user_agent": "sipp", "call_direction": "inbound",
        }
        base.update(variables or {})
        values: dict[str, str | bytes] = {k: v for k, v in base.items() if v is not None}
        ch = new_channel(values, "", uuid)
        name = "sofia/%s/%s@%s:%s" % (profile, ch.get("sip_from_user") or "", network_ip, network_port)
        ch.name = name
        ch.set("channel_name", name)
        self.switch.channels[ch.uuid] = ch
        session = Session._attach(ch)
        call = Call(ch, session)
        try:
            self.switch.log_clean("EXECUTE [depth=0] %s python(%s)\n" % (name, ch.expand(data)), ch.uuid)
            script, fn, args = split_command(ch.expand(data))
            self._run(script, fn or "handler", (session, args))
            self.switch.log_record(7, "switch_cpp.cpp", 1210, "%s destroy/unlink session from object\n" % name, ch.uuid)
            if not ch.up:
                self.switch.log_record(7, "switch_core_session.c", 2979, "%s skip receive message "
                                       "[APPLICATION_EXEC_COMPLETE] (channel is hungup already)\n" % name, ch.uuid)
            else:
                # no further dialplan action: FreeSWITCH hangs the call up, the caller gets 480
                ch.cause, ch.state = "NORMAL_CLEARING", "CS_HANGUP"
                ch.sip.append("BYE" if ch.answered else "480")
        finally:
            self.switch.channels.pop(ch.uuid, None)
        call.sip = list(ch.sip)
        return call

    def pyrun(self, command: str, *, default_fn: str = "runtime") -> threading.Thread:
        """``pyrun mod args`` or a python.conf.xml startup-script: runtime(args) in a new thread."""
        capi.use(self.switch)
        script, fn, args = split_command(command)

        def body() -> None:
            capi.bind_thread(self.switch)
            try:
                self._run(script, fn or default_fn, (args,), limit=False)
            except BaseException as exc:  # a crash ends the thread; the test inspects it
                self.thread_errors.append(exc)

        t = threading.Thread(target=body, name="fakefs-pyrun-" + script, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    startup_script = pyrun

    def boot(self, modules_conf: str, startup_scripts: list[str], *, first_call_timeout: float = 5.0) -> None:
        """FreeSWITCH starting: the modules of ``modules.conf.xml`` load in order; when mod_python3
        loads, its startup-scripts start (``runtime`` threads) and run while it is loading, so an
        API of a module listed after it does not exist yet (reference freeswitch.md §7). Each
        script's first API call is awaited before the next module loads: the order is forced,
        not left to timing."""
        import re

        masked = re.sub(r"<!--.*?-->", "", modules_conf, flags=re.S)
        names = re.findall(r'<load\s+module="([\w.-]+)"\s*/>', masked)
        self.switch.modules = []
        for name in names:
            self.switch.modules.append(name)
            if name == "mod_python3":
                for script in startup_scripts:
                    before = len(self.switch.api_log)
                    self.pyrun(script)
                    deadline = time.monotonic() + first_call_timeout
                    while len(self.switch.api_log) == before and time.monotonic() < deadline:
                        time.sleep(0.01)  # waits for the call (an order), never decides a race
        self.switch.modules = None  # fully started

    # -- mod_python3's eval_some_python ---------------------------------------------------------------
    def _run(self, script: str, fn: str, call_args: tuple[object, ...], limit: bool = True) -> None:
        sw = self.switch
        sw.log_record(5, PY, 231, "Invoking py module: %s\n" % script)
        try:
            module = importlib.import_module(script)
            module = importlib.reload(module)
        except FreeSwitchCrash:
            raise
        except BaseException as exc:  # noqa: BLE001 - mod_python3 reports every import failure
            sw.log_record(3, PY, 270, "Error importing module\n")
            self._python_error(script, exc, with_traceback=False)
            return
        func = getattr(module, fn, None)
        if func is None:
            sw.log_record(3, PY, 286, "Module does not define %s\n" % fn)
            self._python_error(script, AttributeError("module '%s' has no attribute '%s'" % (script, fn)), False)
            return
        sw.log_record(7, PY, 323, "Call python script \n")
        error: BaseException | None = None
        old_limit = sys.getrecursionlimit()
        try:
            if limit and self.recursion_limit and threading.current_thread() is threading.main_thread():
                sys.setrecursionlimit(_depth() + self.recursion_limit)
            func(*call_args)
        except FreeSwitchCrash:
            raise
        except SystemExit:
            pass  # recorded: `raise SystemExit(2)` in fsapi logs no error at all
        except BaseException as exc:  # noqa: BLE001 - everything else is logged like the real module
            error = exc
        finally:
            sys.setrecursionlimit(old_limit)
        sw.log_record(7, PY, 325, "Finished calling python script \n")
        if error is not None:
            sw.log_record(3, PY, 334, "Error calling python script\n")
            self._python_error(script, error, with_traceback=True)

    def _python_error(self, script: str, exc: BaseException, with_traceback: bool) -> None:
        message = str(exc)
        if has_surrogate(message) or has_surrogate(script):
            raise self.switch.crash("segfault: lone surrogate in an exception message")
        text = 'Python Error by calling script "%s": %s\nMessage: %s\n' % (script, type(exc), message)
        if with_traceback:
            text += "Exception: NoneType: None\n\nTraceback (most recent call last)\n"
            tb: types.TracebackType | None = exc.__traceback__
            tb = tb.tb_next if tb is not None else None  # skip the harness's own frame
            while tb is not None:
                code = tb.tb_frame.f_code
                text += '\tFile: "%s", line %d, in %s\n' % (code.co_filename, tb.tb_lineno, code.co_name)
                tb = tb.tb_next
        self.switch.log_record(3, PY, 184, text)

    def join(self, timeout: float = 5.0) -> bool:
        """Wait for runtime threads; True when all ended."""
        for t in self.threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self.threads)


def _depth() -> int:
    f = sys._getframe()
    n = 0
    while f is not None:
        n += 1
        f = f.f_back  # type: ignore[assignment]
    return n
