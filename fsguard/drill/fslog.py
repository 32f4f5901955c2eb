"""freeswitch.log as FreeSWITCH 1.10.12's mod_logfile writes it (shared/reference/freeswitch.md §2).

``YYYY-MM-DD HH:MM:SS.uuuuuu NN.NN% [LEVEL] file.c:LINE message`` in local time; call lines are
prefixed with the call's uuid and a space; continuation lines have no prefix at all. The sofia
lines below are the verbatim formats of sofia_reg.c in 1.10.12 (line numbers as that version
prints them), the text between the brackets written unsanitised, exactly as sofia does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

VERSION = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit"


def _idle() -> str:
    """The idle-CPU field (1.10.7+), derived from the load average like a busy-ness figure."""
    try:
        load = os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except OSError:
        load = 0.0
    return "%.2f%%" % max(0.0, min(100.0, 100.0 - load * 100.0))


def timestamp(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + ".%06d" % int((now % 1) * 1_000_000)


class FsLog:
    """Appends records to a freeswitch.log; one lock so records never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # When set, records go through the stand-in FreeSWITCH process instead (one writer, one
        # format for sofia's records and fs_python's): sink(level, "file.c", line, message, uuid).
        self.sink: Callable[[str, str, int, str, str | None], None] | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered append, bytes written as FreeSWITCH would (raw attacker bytes included).
        self._fh = open(path, "a", encoding="utf-8", errors="surrogateescape", buffering=1)  # noqa: SIM115

    def close(self) -> None:
        with self._lock:
            self._fh.close()

    def prefix(self, level: str, source: str, uuid: str | None = None) -> str:
        head = f"{timestamp()} {_idle()} [{level}] {source} "
        return f"{uuid} {head}" if uuid else head

    def record(self, level: str, source: str, message: str, uuid: str | None = None) -> None:
        """One record; ``message`` may hold continuation lines (written without a prefix)."""
        if self.sink is not None:
            file, _, line = source.rpartition(":")
            self.sink(level, file, int(line), message if message.endswith("\n") else message + "\n", uuid)
            return
        self.raw(self.prefix(level, source, uuid) + message + ("" if message.endswith("\n") else "\n"))

    def raw(self, text: str) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.write(text)
                self._fh.flush()

    # -- sofia's records (1.10.12) ----------------------------------------------------------
    def auth_challenge(self, method: str, profile: str, user: str, host: str, ip: str) -> None:
        self.record("WARNING", "sofia_reg.c:1842",
                    f"SIP auth challenge ({method}) on sofia profile '{profile}' for [{user}@{host}] from ip {ip}")

    def auth_failure(self, method: str, profile: str, user: str, host: str, ip: str) -> None:
        self.record("WARNING", "sofia_reg.c:1787",
                    f"SIP auth failure ({method}) on sofia profile '{profile}' for [{user}@{host}] from ip {ip}")

    def cant_find_user(self, user: str, host: str, ip: str) -> None:
        self.record(
            "WARNING", "sofia_reg.c:3210",
            f"Can't find user [{user}@{host}] from {ip}\n"
            f"You must define a domain called '{host}' in your directory and add a user with the "
            f'id="{user}" attribute\n'
            "and you must configure your device to use the proper domain in its authentication credentials.\n")

    # -- channel records of an inbound call ---------------------------------------------------
    def new_channel(self, uuid: str, chan: str, ip: str, port: int, call_id: str) -> None:
        self.record("NOTICE", "switch_channel.c:1142", f"New Channel {chan} [{uuid}]", uuid)
        self.record("INFO", "sofia.c:10460",
                    f"{chan} receiving invite from {ip}:{port} version: {VERSION} call-id: {call_id}", uuid)

    def no_route(self, uuid: str, chan: str) -> None:
        self.record("INFO", "switch_core_state_machine.c:306", "No Route, Aborting", uuid)
        self.record("NOTICE", "switch_core_state_machine.c:307",
                    f"Hangup {chan} [CS_ROUTING] [NO_ROUTE_DESTINATION]", uuid)

    def no_sdp(self, uuid: str, chan: str) -> None:
        # freeswitch.md section 7, observed on 1.10.12 (an INVITE without SDP, 3pcc off)
        self.record("INFO", "sofia.c:8033", "No SDP in INVITE and 3pcc not enabled, hanging up.", uuid)
        self.record("NOTICE", "sofia.c:8035", f"Hangup {chan} [CS_NEW] [MANDATORY_IE_MISSING]", uuid)

    def hangup(self, uuid: str, chan: str, cause: str, state: str = "CS_EXECUTE") -> None:
        self.record("NOTICE", "switch_cpp.cpp:752", f"Hangup {chan} [{state}] [{cause}]", uuid)
