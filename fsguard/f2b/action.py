"""The body of fsguard's fail2ban Python action (``action.d/fsguard_action.py`` delegates here).

Runs inside fail2ban-server (Debian's python3): no shell, no global command lock. On ban: recheck
the whitelist (bans restored from fail2ban's database at start carry only the IP, and a customer
may have registered since), put the address into the kernel ban set (contract 4), record the
evidence. On unban: lift it and close the evidence row. A failing store never stops a ban; a
failing firewall is logged and re-raised so fail2ban reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fs_python import config as fsconfig
from fsguard import evidence


def _info(a_info: Any, key: str, default: Any = None) -> Any:
    try:
        value = a_info[key]
    except Exception:  # CallingMap raises various errors for missing/uncomputable keys
        return default
    return default if value is None else value


class Recorder:
    def __init__(self, jail: str, *, config: str = "", netns: str | None = None, firewall: str = "on",
                 log: logging.Logger | None = None) -> None:
        self.jail = jail
        self.cfg = fsconfig.load(config or None)
        self.netns = netns
        self.firewall = firewall.lower() not in ("off", "0", "false", "no")
        self.log = log or logging.getLogger("fsguard.f2b")
        self._store: Any = None
        self._lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------------
    def store(self) -> Any:
        if self._store is None:
            from fsguard.store import open_store

            self._store = open_store(self.cfg)
        return self._store

    def whitelisted(self, ip: str) -> list[str]:
        try:
            from fs_python import whitelist

            verdict = whitelist.check(ip, state_dir=self.cfg.state_dir)
        except Exception as exc:  # never let a broken snapshot stop a ban
            self.log.warning("fsguard: whitelist check of %s failed: %s", ip, exc)
            return []
        return list(verdict.reasons) if verdict.whitelisted else []

    # -- fail2ban entry points ---------------------------------------------------------------
    def start(self) -> None:
        self.log.info("fsguard action started for jail %s", self.jail)

    def stop(self) -> None:
        with self._lock:
            if self._store is not None:
                try:
                    self._store.close()
                finally:
                    self._store = None

    def ban(self, a_info: Any) -> None:
        ip = str(_info(a_info, "ip", ""))
        restored = bool(_info(a_info, "restored", 0))
        seconds_raw = _info(a_info, "bantime", None)
        seconds = int(seconds_raw) if seconds_raw is not None else None
        reasons = self.whitelisted(ip)
        status = "banned"
        fw_error: Exception | None = None
        if reasons:
            # Whitelists win: fail2ban may believe it banned, the kernel never blocks the address.
            status = "ignored"
            self.log.warning("fsguard: not enforcing ban of whitelisted %s (%s)", ip, "; ".join(reasons))
        elif self.firewall:
            try:
                from fsguard.firewall import bans

                bans.add_ban(self.cfg, ip, seconds if seconds and seconds > 0 else None, netns=self.netns)
            except Exception as exc:
                fw_error = exc
        matches = [m for m in str(_info(a_info, "matches", "")).split("\n") if m]
        users, agents = evidence.evidence_from_matches(matches, self.cfg.event_token or None)
        try:
            with self._lock:
                evidence.record_ban(
                    self.store(), ip=ip, jail=self.jail, start=float(_info(a_info, "time", time.time())),
                    seconds=seconds, failures=int(_info(a_info, "failures", 0)), matches=matches,
                    users=users, agents=agents, restored=restored, status=status)
        except Exception as exc:
            self.log.error("fsguard: could not record ban evidence for %s: %s", ip, exc)
        if fw_error is not None:
            raise fw_error

    def prolong(self, a_info: Any) -> None:
        """A longer ban than first announced (bantime.increment): extend the set entry and row."""
        ip = str(_info(a_info, "ip", ""))
        seconds_raw = _info(a_info, "bantime", None)
        seconds = int(seconds_raw) if seconds_raw is not None else None
        if self.whitelisted(ip):
            return  # never enforced in the first place
        fw_error: Exception | None = None
        if self.firewall:
            try:
                from fsguard.firewall import bans

                bans.add_ban(self.cfg, ip, seconds if seconds and seconds > 0 else None, netns=self.netns)
            except Exception as exc:
                fw_error = exc
        try:
            with self._lock:
                evidence.prolong_ban(self.store(), ip=ip, jail=self.jail, seconds=seconds)
        except Exception as exc:
            self.log.error("fsguard: could not record the longer ban of %s: %s", ip, exc)
        if fw_error is not None:
            raise fw_error

    def unban(self, a_info: Any) -> None:
        ip = str(_info(a_info, "ip", ""))
        fw_error: Exception | None = None
        if self.firewall:
            try:
                from fsguard.firewall import bans

                bans.del_ban(self.cfg, ip, netns=self.netns)
            except Exception as exc:
                fw_error = exc
        try:
            with self._lock:
                evidence.record_unban(self.store(), ip=ip, jail=self.jail, reason="fail2ban unban")
        except Exception as exc:
            self.log.error("fsguard: could not record unban of %s: %s", ip, exc)
        if fw_error is not None:
            raise fw_error
