"""The stand-in PBX's insides: fs_python's real code behind the stand-in ``freeswitch`` module.

What a real FreeSWITCH does with mod_python3 and fsguard installed, done through
:mod:`fsguard.fakefs` (contract 8):

* the monitor ``fs_python.monitor`` runs as a startup-script (``runtime(args)`` in its own thread)
  and receives sofia's ``CUSTOM sofia::*`` events as the stand-in fires them;
* the public context's last extension, ``python fs_python.not_found``, runs for every inbound call
  with no route (``handler(session, args)``, imported and reloaded per call like mod_python3);
* every log record (sofia's, mod_python3's, fsguard's own event lines) goes through one simulated
  mod_logfile into the drill's freeswitch.log.
"""

from __future__ import annotations

import time
from typing import Any

from fsguard.drill.fslog import FsLog
from fsguard.drill.pbx import CallInfo, Hooks

LEVELS = ("CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")
MONITOR = "fs_python.monitor"
NOT_FOUND = "fs_python.not_found"


class FsBridge(Hooks):
    def __init__(self, env: Any) -> None:
        from fsguard.fakefs import FakeSwitch, Harness

        self.switch = FakeSwitch(env.logpath, hostname="fsguard-drill",
                                 globals_={"domain": env.domain, "local_ip_v4": env.topo.pbx_ip})
        self.switch.keep_in_memory = False
        self.harness = Harness(self.switch)
        self.log: FsLog = env.fslog
        self.log.sink = self._sink
        self.monitor_started = False

    def _sink(self, level: str, file: str, line: int, message: str, uuid: str | None) -> None:
        self.switch.log_record(LEVELS.index(level), file, line, message, uuid)

    def start_monitor(self) -> None:
        self.harness.pyrun(MONITOR)
        self.monitor_started = True

    def api(self, command: str) -> str:
        """``fs_cli -x "python <command>"`` against the stand-in: what fs_cli would print."""
        return self.harness.api(command)

    def monitor_alive(self) -> bool:
        return any(t.is_alive() for t in self.harness.threads)

    # -- Hooks -------------------------------------------------------------------------------
    def event(self, subclass: str, headers: dict[str, str]) -> None:
        if subclass == "sofia::register":
            exp = time.time() + float(headers.get("expires") or 0)
            self.switch.add_registration(headers.get("username", ""), headers.get("realm", ""),
                                         headers.get("network-ip", ""), headers.get("network-port", "5060"),
                                         exp, headers.get("network-proto", "udp"))
        elif subclass == "sofia::unregister":
            ip = headers.get("network-ip")
            self.switch.registrations = [r for r in self.switch.registrations if r.get("network_ip") != ip]
        self.switch.fire(subclass, dict(headers))

    def channel_event(self, name: str, headers: dict[str, str]) -> None:
        self.switch.fire("", dict(headers), name=name)

    def public_dialplan(self, call: CallInfo, log: FsLog) -> int:
        result = self.harness.dialplan(
            NOT_FOUND, profile=call.profile, network_ip=call.network_ip, network_port=str(call.network_port),
            from_user=call.from_user, destination=call.destination_number, uuid=call.uuid,
            variables={"sip_from_host": call.from_host, "sip_to_user": call.to_user, "sip_to_host": call.to_host,
                       "sip_user_agent": call.user_agent, "sip_call_id": call.call_id})
        return result.final or 480  # answered or left hanging: FreeSWITCH then hangs up (480)

    def close(self) -> None:
        # FreeSWITCH 1.10.12 sends no SystemExit at shutdown: running() turns false and the
        # monitor's bounded pop() loop notices (reference §1).
        self.switch.shutdown()
        self.harness.join(3.0)
        self.log.sink = None


def connect(env: Any) -> FsBridge:
    from fs_python import fslog

    # fs_python caches its config (and so the event token) like it does inside FreeSWITCH: a drill
    # run earlier in this process had another config, so start from scratch.
    fslog.reset()
    bridge = FsBridge(env)
    bridge.start_monitor()
    return bridge
