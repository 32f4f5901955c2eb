"""The simulated FreeSWITCH process behind the stand-in ``freeswitch`` module.

One :class:`FakeSwitch` is "the PBX": its log (mod_logfile format, to a file and/or memory), global
variables, the event bus feeding ``EventConsumer`` queues, API commands, the registrations
``show registrations as json`` lists, and whether it is still running or has crashed.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid as uuidlib
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fsguard.fakefs import logfile

MOD_COMMANDS_APIS = frozenset({"show", "status", "global_getvar"})  # APIs mod_commands provides


class FreeSwitchCrash(BaseException):  # noqa: N818 - named after what it simulates
    """FreeSWITCH segfaulted (a lone surrogate reached C, invalid JSON event, ...).

    A BaseException on purpose: the real process dies, so ``except Exception`` in the code under
    test must not be able to swallow it."""


class FreeSwitchDeadlock(BaseException):  # noqa: N818
    """The call would hang FreeSWITCH forever (the ``python`` API called from inside Python)."""


def has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class FakeSwitch:
    def __init__(
        self,
        log_path: Path | str | None = None,
        *,
        idle: float | None = 99.93,
        hostname: str = "fakefs",
        globals_: dict[str, str] | None = None,
    ) -> None:
        self.log_path = Path(log_path) if log_path is not None else None
        self.idle = idle  # None: pre-1.10.7 format without the idle-CPU field
        self.hostname = hostname
        self.core_uuid = str(uuidlib.uuid4())
        self.globals: dict[str, str] = {"domain": "127.0.0.1", "hostname": hostname}
        self.globals.update(globals_ or {})
        self.log = bytearray()
        self.keep_in_memory = True
        self.is_running = True
        self.crashed: str | None = None
        self.registrations: list[dict[str, str]] = []
        self.api_commands: dict[str, Callable[[str], str]] = {}
        self.consumers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.channels: dict[str, Any] = {}  # uuid -> session.Channel of live calls
        # Loaded modules, in load order; None = a fully started switch (every module loaded).
        # While booting (Harness.boot) an API of a module not loaded yet answers an error, as the
        # real one does for a startup-script that runs before mod_commands is loaded.
        self.modules: list[str] | None = None
        self.api_log: list[tuple[str, str]] = []  # (command, answer) of every API call
        self.now: Callable[[], float] = time.time
        self._lock = threading.RLock()
        self._seq = 0

    # -- logging ------------------------------------------------------------------------------
    def write_raw(self, data: bytes) -> None:
        with self._lock:
            if self.keep_in_memory:
                self.log += data
            if self.log_path is not None:
                with open(self.log_path, "ab") as fh:
                    fh.write(data)

    def log_record(self, level: int, file: str, line: int, msg: str, uuid: str | None = None) -> None:
        """switch_log_printf as mod_logfile writes it (no newline added)."""
        if level < 0 or level > logfile.MAX_LOGGED:
            return
        record = logfile.header(level, file, line, self.now(), self.idle) + msg
        if uuid:
            self.write_raw(logfile.uuid_lines(uuid, record))
        else:
            self.write_raw(record.encode("utf-8", "surrogateescape"))

    def log_clean(self, msg: str, uuid: str | None = None) -> None:
        """A record logged without any prefix (consoleCleanLog, EXECUTE lines)."""
        if uuid:
            self.write_raw(logfile.uuid_lines(uuid, msg))
        else:
            self.write_raw(msg.encode("utf-8", "surrogateescape"))

    def text(self) -> str:
        return bytes(self.log).decode("utf-8", "surrogateescape")

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- crash simulation ---------------------------------------------------------------------
    def crash(self, why: str) -> FreeSwitchCrash:
        self.crashed = why
        self.is_running = False
        return FreeSwitchCrash(why)

    def check_str(self, value: object, where: str) -> None:
        """Every str handed to C must be surrogate-free, or the process segfaults (1.10.12)."""
        if self.crashed:
            raise FreeSwitchCrash("FreeSWITCH already crashed: " + self.crashed)
        if isinstance(value, str) and has_surrogate(value):
            raise self.crash("segfault: lone surrogate passed to %s" % where)

    # -- events -------------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def base_headers(self, name: str, subclass: str | None) -> dict[str, str]:
        t = self.now()
        h = {
            "Event-Name": name,
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "FreeSWITCH-IPv4": self.globals.get("local_ip_v4", "127.0.0.1"),
            "FreeSWITCH-IPv6": "::1",
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)),
            "Event-Date-GMT": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t)),
            "Event-Date-Timestamp": str(int(t * 1_000_000)),
            "Event-Calling-File": "sofia_reg.c",
            "Event-Calling-Function": "sofia_reg_handle_register",
            "Event-Calling-Line-Number": "1",
            "Event-Sequence": str(self.next_seq()),
        }
        if subclass:
            h["Event-Subclass"] = subclass
        return h

    def dispatch(self, name: str, subclass: str | None, headers: dict[str, str], body: str | None = None) -> int:
        """Deliver one event to every matching binding; returns how many queues took it."""
        taken = 0
        for consumer in list(self.consumers):
            for b_name, b_sub in list(consumer._bindings):
                if b_name != "ALL" and b_name != name:
                    continue
                if b_name == "CUSTOM" and b_sub and b_sub != subclass:
                    continue
                try:
                    consumer._queue.put_nowait((dict(headers), body))
                    taken += 1
                except queue.Full:
                    consumer.dropped += 1
                    self.log_record(3, "switch_cpp.cpp", 52, "Cannot queue any more events.....\n")
        return taken

    def fire(self, subclass: str, headers: dict[str, str | bytes | None], name: str = "CUSTOM") -> int:
        """Simulate sofia firing ``CUSTOM <subclass>`` with ``headers`` (None values omitted)."""
        h = self.base_headers(name, subclass if name == "CUSTOM" else None)
        h.update({k: (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
                  for k, v in headers.items() if v is not None})
        return self.dispatch(name, subclass if name == "CUSTOM" else None, h)

    # -- API ----------------------------------------------------------------------------------
    def api(self, cmd: str, args: str) -> str:
        answer = self._api(cmd, args)
        with self._lock:
            self.api_log.append((f"{cmd} {args}".strip(), answer))
            del self.api_log[:-1000]
        return answer

    def _api(self, cmd: str, args: str) -> str:
        if self.modules is not None and cmd in MOD_COMMANDS_APIS and "mod_commands" not in self.modules:
            return "-ERR %s Command not found!\n" % cmd
        if cmd == "":
            self.log_record(3, "switch_cpp.cpp", 276, "No application specified\n")
            return "-ERR No application specified"
        if cmd == "python":
            raise FreeSwitchDeadlock("the python API called from inside Python deadlocks FreeSWITCH")
        if cmd in self.api_commands:
            return self.api_commands[cmd](args)
        if cmd == "show" and args.strip() == "registrations as json":
            with self._lock:
                rows = [dict(r) for r in self.registrations]
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":")) + "\n"
        if cmd == "global_getvar":
            return self.globals.get(args.strip(), "")
        if cmd == "status":
            return "UP 0 years, 0 days\nFreeSWITCH (Version 1.10.12-release) is ready\n"
        return "INVALID COMMAND!\n"

    def add_registration(
        self, user: str, realm: str, ip: str, port: str = "5060", expires: float | None = None, proto: str = "udp"
    ) -> None:
        """A row as ``show registrations as json`` lists it (all values strings)."""
        exp = int(expires if expires is not None else self.now() + 3600)
        with self._lock:
            self.registrations.append({
                "reg_user": user, "realm": realm, "token": uuidlib.uuid4().hex, "url":
                "sofia/internal/sip:%s@%s:%s" % (user, ip, port), "expires": str(exp), "network_ip": ip,
                "network_port": str(port), "network_proto": proto, "hostname": self.hostname,
                "metadata": "",
            })

    def shutdown(self) -> None:
        """``fsctl shutdown``: running() turns false; no SystemExit, no finally (1.10.12)."""
        self.is_running = False
