"""The body of fsguard's fail2ban Python action (``action.d/fsguard_action.py`` delegates here).

Runs inside fail2ban-server (Debian's python3): no shell, no global command lock. On ban: recheck
the whitelist (bans restored from fail2ban's database at start carry only the IP, and a customer
may have registered since), put the address into the kernel ban set (contract 4), record the
evidence. On unban: lift it and close the evidence row. A failing store never stops a ban; a
failing firewall is logged and re-raised so fail2ban reports it.

Bans last as long as fail2ban says (:class:`Holds`):

- fail2ban's observer thread calls ``prolong`` (bantime.increment) while the actions thread may
  still be inside ``ban``. Both run under the recorder's lock, so one finishes before the other
  starts; a ``prolong`` that comes first is remembered and ``ban`` applies the longer time.
- The kernel ban set is one per address family, shared by every jail. Each jail's hold on an
  address is kept in this process (all of fsguard's jails live in the one fail2ban-server): the
  kernel entry's timeout is the longest hold, and an unban by one jail only shortens it to what
  the other jails still hold; it is deleted when the last jail releases the address.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from fs_python import config as fsconfig
from fsguard import evidence
from fsguard.cluster import hooks as cluster_hooks


def _info(a_info: Any, key: str, default: Any = None) -> Any:
    try:
        value = a_info[key]
    except Exception:  # CallingMap raises various errors for missing/uncomputable keys
        return default
    return default if value is None else value


def _seconds(a_info: Any) -> int | None:
    """fail2ban's bantime: None (or <= 0, fail2ban's -1) means permanent."""
    raw = _info(a_info, "bantime", None)
    try:
        value = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and value > 0 else None


def longest(a: int | None, b: int | None) -> int | None:
    """The longer of two ban lengths; None (permanent) is the longest."""
    return None if a is None or b is None else max(a, b)


class Holds:
    """Which jails hold an address banned, and until when (None: permanent). Process-wide."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._by_ip: dict[str, dict[str, float | None]] = {}

    def put(self, ip: str, jail: str, end: float | None) -> None:
        with self.lock:
            self._by_ip.setdefault(ip, {})[jail] = end

    def get(self, ip: str, jail: str) -> tuple[bool, float | None]:
        with self.lock:
            jails = self._by_ip.get(ip, {})
            return (jail in jails, jails.get(jail))

    def release(self, ip: str, jail: str) -> None:
        with self.lock:
            jails = self._by_ip.get(ip)
            if jails is not None:
                jails.pop(jail, None)
                if not jails:
                    del self._by_ip[ip]

    def others(self, ip: str, jail: str, now: float) -> list[str]:
        with self.lock:
            return [j for j, end in self._by_ip.get(ip, {}).items()
                    if j != jail and (end is None or end > now)]

    def kernel_seconds(self, ip: str, now: float) -> tuple[bool, int | None]:
        """(held by any jail, seconds the kernel entry must still last; None = permanent)."""
        with self.lock:
            ends = [e for e in self._by_ip.get(ip, {}).values() if e is None or e > now]
        if not ends:
            return False, 0
        if any(e is None for e in ends):
            return True, None
        return True, max(1, math.ceil(max(e for e in ends if e is not None) - now))

    def clear(self) -> None:
        with self.lock:
            self._by_ip.clear()


HOLDS = Holds()


class Recorder:
    def __init__(self, jail: str, *, config: str = "", netns: str | None = None, firewall: str = "on",
                 log: logging.Logger | None = None, holds: Holds | None = None) -> None:
        self.jail = jail
        self.cfg = fsconfig.load(config or None)
        self.netns = netns
        self.firewall = firewall.lower() not in ("off", "0", "false", "no")
        self.log = log or logging.getLogger("fsguard.f2b")
        self.holds = holds or HOLDS
        self.started = time.time()
        self._store: Any = None
        self._lock = threading.RLock()  # ban / prolong / unban of this jail run one at a time
        self._early: dict[str, tuple[float, int | None]] = {}  # ip -> prolong that came before ban

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

    def _kernel(self, ip: str) -> None:
        """Make the kernel entry last as long as the longest hold (or lift it when none is left)."""
        if not self.firewall:
            return
        from fsguard.firewall import bans

        held, seconds = self.holds.kernel_seconds(ip, time.time())
        if held:
            bans.add_ban(self.cfg, ip, seconds, netns=self.netns)
        else:
            bans.del_ban(self.cfg, ip, netns=self.netns)

    # -- fail2ban entry points ---------------------------------------------------------------
    def start(self) -> None:
        self.log.info("fsguard action started for jail %s", self.jail)
        # The first ban must not pay for imports, the store's first connection and the snapshots'
        # first read (~0.3 s each, measured): a password guesser is answered meanwhile.
        try:
            from fsguard.firewall import bans  # noqa: F401

            self.whitelisted("127.0.0.1")
            with self._lock:
                self.store()
        except Exception as exc:  # retried at the first ban
            self.log.warning("fsguard: warm-up of jail %s: %s", self.jail, exc)

    def stop(self) -> None:
        with self._lock:
            if self._store is not None:
                try:
                    self._store.close()
                finally:
                    self._store = None

    def ban(self, a_info: Any) -> None:
        with self._lock:
            self._ban(a_info)

    def _ban(self, a_info: Any) -> None:
        ip = str(_info(a_info, "ip", ""))
        start = float(_info(a_info, "time", time.time()))
        seconds = _seconds(a_info)
        early = self._early.pop(ip, None)
        if early is not None:
            seconds = longest(seconds, early[1])  # prolong came first: its longer time counts
        # fail2ban marks a ban "restored" when another jail banned the address at the same moment
        # (bantime.overalljails finds that ban in its database): a real restore is a ban from
        # before this server started, or one no other jail holds.
        restored = bool(_info(a_info, "restored", 0)) and (
            start < self.started - 1 or not self.holds.others(ip, self.jail, time.time()))
        reasons = self.whitelisted(ip)
        status = "banned"
        kernel = "added" if self.firewall else "skipped (firewall off)"
        fw_error: Exception | None = None
        if reasons:
            # Whitelists win: fail2ban may believe it banned, the kernel never blocks the address.
            status, kernel = "ignored", "skipped (whitelisted)"
            self.log.warning("fsguard: not enforcing ban of whitelisted %s (%s)", ip, "; ".join(reasons))
        else:
            self.holds.put(ip, self.jail, None if seconds is None else start + seconds)
            try:
                self._kernel(ip)
                if self.firewall:  # IPv6: N banned addresses in one /64 ban the /64 (never raises)
                    from fsguard.firewall import escalate

                    escalate.after_ban(self.cfg, ip, seconds if seconds and seconds > 0 else None, netns=self.netns)
            except Exception as exc:
                fw_error = exc
                kernel = f"failed: {type(exc).__name__}: {exc}"
        matches = [m for m in str(_info(a_info, "matches", "")).split("\n") if m]
        users, agents = evidence.evidence_from_matches(matches, self.cfg.event_token or None)
        try:
            evidence.record_ban(
                self.store(), ip=ip, jail=self.jail, start=start,
                seconds=-1 if seconds is None else seconds, failures=int(_info(a_info, "failures", 0)),
                matches=matches, users=users, agents=agents, restored=restored, status=status, kernel=kernel)
        except Exception as exc:
            self.log.error("fsguard: could not record ban evidence for %s: %s", ip, exc)
        cluster_hooks.banned(self.cfg, self.jail, a_info, status)  # cluster: every node enforces it
        if fw_error is not None:
            raise fw_error

    def prolong(self, a_info: Any) -> None:
        """A longer ban than first announced (bantime.increment): extend the set entry and row."""
        with self._lock:
            self._prolong(a_info)

    def _prolong(self, a_info: Any) -> None:
        ip = str(_info(a_info, "ip", ""))
        seconds = _seconds(a_info)
        held, end = self.holds.get(ip, self.jail)
        if not held:
            if self.whitelisted(ip):
                return  # never enforced in the first place
            # ban() has not run yet (fail2ban's observer is ahead of its actions thread)
            prev = self._early.get(ip)
            self._early[ip] = (time.time(), seconds if prev is None else longest(prev[1], seconds))
            for k in [k for k, (t, _) in self._early.items() if t < time.time() - 600]:
                del self._early[k]  # a ban that never came
            return
        start = float(_info(a_info, "time", time.time()))
        new_end = None if seconds is None else start + seconds
        if end is None or (new_end is not None and new_end <= end):
            return  # never shorten a ban (an end of None is already permanent)
        self.holds.put(ip, self.jail, new_end)
        fw_error: Exception | None = None
        try:
            self._kernel(ip)
        except Exception as exc:
            fw_error = exc
        try:
            evidence.prolong_ban(self.store(), ip=ip, jail=self.jail, seconds=-1 if seconds is None else seconds)
        except Exception as exc:
            self.log.error("fsguard: could not record the longer ban of %s: %s", ip, exc)
        cluster_hooks.prolonged(self.cfg, self.jail, a_info)  # cluster
        if fw_error is not None:
            raise fw_error

    def unban(self, a_info: Any) -> None:
        with self._lock:
            self._unban(a_info)

    def _unban(self, a_info: Any) -> None:
        ip = str(_info(a_info, "ip", ""))
        self._early.pop(ip, None)
        self.holds.release(ip, self.jail)
        others = self.holds.others(ip, self.jail, time.time())
        fw_error: Exception | None = None
        try:
            self._kernel(ip)  # another jail still holding it keeps the entry, for its own time
        except Exception as exc:
            fw_error = exc
        reason = "fail2ban unban" + (f" (still banned by {', '.join(sorted(others))})" if others else "")
        try:
            evidence.record_unban(self.store(), ip=ip, jail=self.jail, reason=reason)
        except Exception as exc:
            self.log.error("fsguard: could not record unban of %s: %s", ip, exc)
        cluster_hooks.unbanned(self.cfg, ip, self.jail, "fail2ban unban")  # cluster
        if fw_error is not None:
            raise fw_error
