"""The registration shield: a registration protects its own identity, not address spraying.

A registered address is on the ignore list of fsguard's jails (:mod:`fsguard.f2b.ignoresync`), so
an unregistered phone behind a customer's NAT failing a few times never bans the office. What a
shield does *not* cover:

- failures for an identity that registered from that address (now or within
  ``registry.RECENT``) are written by the monitor as ``registered-failure`` lines, which no jail
  counts: they are offences (``v_fsguard_offenders``), never a ban, shielded or not;
- failures for ``[shield] identities`` (10) distinct identities that never registered from that
  address within ``[shield] window`` seconds (600) **suspend** the shield of that address for
  ``[shield] suspend`` seconds (3600, extended while a jail still holds it banned). Suspended:
  ``shield.json`` in the state directory lists it, :func:`fs_python.whitelist.check` stops
  counting its registrations (so fail2ban's action enforces a ban), the service drops it from the
  jails' ignore list, and the failures that fail2ban ignored while it was shielded are handed to the
  auth jail with ``set <jail> attempt <ip> <line>...`` (fail2ban 0.10+; no ignore check, counted
  like read lines, banned at once when they reach ``maxretry``), so the ban comes within the
  jail's findtime with those lines as its evidence.

Admin whitelist entries and carriers always win: an address they cover is never suspended.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fs_python import eventline, whitelist
from fsguard import settings
from fsguard.f2b.client import Client, Fail2banError

if TYPE_CHECKING:
    from fs_python.config import Config

log = logging.getLogger("fsguard.shield")
MAX_TRACKED = 50_000  # shielded addresses with foreign failures in the window (memory bound)
SUSPENDED_KIND = "shield-suspended"  # the offender row that tells the GUI why the shield is off
SUSPENDED_IDENTITY = "(registration shield suspended)"


def registration_only(verdict: whitelist.Verdict) -> bool:
    """Whitelisted by registrations alone (no admin entry, no carrier): a shield, not a licence."""
    return verdict.whitelisted and all(r.startswith("registered ") for r in verdict.reasons)


@dataclass
class Suspension:
    ip: str
    since: float
    until: float
    identities: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        return {"ip": self.ip, "since": int(self.since), "until": int(self.until), "identities": self.identities}


class Shield:
    def __init__(self, cfg: Config, client: Client, auth_jail: str = "fsguard-auth") -> None:
        self.cfg = cfg
        self.client = client
        self.auth_jail = auth_jail
        self.identities = max(1, settings.SHIELD_IDENTITIES.get(cfg))
        self.window = max(1, settings.SHIELD_WINDOW.get(cfg))
        self.suspend_for = max(60, settings.SHIELD_SUSPEND.get(cfg))
        self.path = Path(cfg.state_dir) / whitelist.SHIELD_FILE
        # ip -> identity -> (last failure, its log line): identities that never registered from it
        self.foreign: dict[str, dict[str, tuple[float, str]]] = {}
        self.suspended: dict[str, Suspension] = self._load()
        self._feed: list[tuple[str, list[str]]] = []
        self._dirty = False
        self.new: list[Suspension] = []  # suspended since the service last took them (offender rows)
        # ip -> verdict for the current tick: the snapshots change at most once a tick, and a flood
        # from one address then costs one whitelist check, not one per line
        self._verdicts: dict[str, whitelist.Verdict] = {}

    # -- state ---------------------------------------------------------------------------------
    def _load(self) -> dict[str, Suspension]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            rows = data.get("suspended", []) if isinstance(data, dict) else []
            return {str(r["ip"]): Suspension(str(r["ip"]), float(r.get("since", 0)), float(r["until"]),
                                             [str(i) for i in r.get("identities", [])][:50])
                    for r in rows if isinstance(r, dict) and "ip" in r and "until" in r}
        except (OSError, ValueError, TypeError, KeyError):
            return {}

    def _write(self) -> None:
        data = {"version": 1, "suspended": [s.row() for s in sorted(self.suspended.values(), key=lambda s: s.ip)]}
        from fsguard import safefs

        safefs.write_text(self.path, json.dumps(data, separators=(",", ":")), 0o644, create_dirs=True)
        self._dirty = False

    def active(self, now: float | None = None) -> set[str]:
        t = time.time() if now is None else now
        return {ip for ip, s in self.suspended.items() if s.until > t}

    # -- per failure (the service's tail) ----------------------------------------------------------
    def observe(self, ip: str, identity: str, line: str, now: float) -> Suspension | None:
        """A failure for ``identity`` (never registered from ``ip``) while ``ip`` is shielded by
        registrations only. Returns the new suspension when this failure crosses the threshold."""
        seen = self.foreign.get(ip)
        if seen is None:
            if len(self.foreign) >= MAX_TRACKED:
                self._expire_foreign(now)
                if len(self.foreign) >= MAX_TRACKED:
                    return None
            seen = self.foreign[ip] = {}
        seen[identity] = (now, line)
        if len(seen) > 2 * self.identities:  # bounded per address: the oldest go first
            for k, _ in sorted(seen.items(), key=lambda kv: kv[1][0])[: len(seen) - self.identities]:
                del seen[k]
        recent = {k: v for k, v in seen.items() if v[0] > now - self.window}
        if len(recent) < self.identities or ip in self.active(now):
            return None
        sus = Suspension(ip, now, now + self.suspend_for, sorted(recent)[:50])
        self.suspended[ip] = sus
        self._dirty = True
        lines = [line for _, line in sorted(recent.values())]
        self._feed.append((ip, lines))
        del self.foreign[ip]
        self.new.append(sus)
        log.warning("registration shield of %s suspended: %d identities that never registered from it failed"
                    " within %d s", ip, len(recent), self.window)
        return sus

    def offence(self, ev: eventline.Event, identity: str, line: str, now: float) -> str | None:
        """Why a failure from ``ev.ip`` is an offence (counted, never banned), or None when it is
        fail2ban's business. Feeds the suspension count on the way."""
        assert ev.ip is not None
        verdict = self._verdicts.get(ev.ip)
        if verdict is None:
            try:
                verdict = whitelist.check(ev.ip, state_dir=self.cfg.state_dir, now=now)
            except ValueError:
                return None
            if len(self._verdicts) >= MAX_TRACKED:
                self._verdicts.clear()
            self._verdicts[ev.ip] = verdict
        if ev.kind == "registered-failure":
            return "own identity, registered from this address" + (
                ": " + "; ".join(verdict.reasons) if verdict.whitelisted else " recently")
        if not verdict.whitelisted:
            return None
        if ev.kind == "auth-failure" and registration_only(verdict):
            if self.observe(ev.ip, identity, line, now) is not None:
                self._verdicts[ev.ip] = whitelist.Verdict(False, [])  # its registrations stop counting now
        return "; ".join(verdict.reasons)

    def take_new(self) -> dict[tuple[str, str, str], tuple[int, float, float, str, str]]:
        """Offender rows for suspensions decided since the last call (the GUI's evidence)."""
        rows = {(s.ip, SUSPENDED_IDENTITY, SUSPENDED_KIND): (
            len(s.identities), s.since, s.since, "",
            f"{len(s.identities)} identities that never registered from it failed within {self.window} s: "
            f"the auth jail applies until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(s.until))} "
            "(extended while banned)") for s in self.new}
        self.new = []
        return rows

    def _expire_foreign(self, now: float) -> None:
        for ip in [ip for ip, seen in self.foreign.items() if max(t for t, _ in seen.values()) <= now - self.window]:
            del self.foreign[ip]

    # -- per tick --------------------------------------------------------------------------------
    def apply(self, now: float) -> list[str]:
        """Persist changes, hand newly suspended addresses' failures to the auth jail, keep a
        suspension while a jail still holds its address, forget ended ones. Returns errors."""
        errors: list[str] = []
        self._verdicts.clear()  # snapshots may change before the next tick
        for ip, s in list(self.suspended.items()):
            if s.until > now + 60:
                continue
            try:
                held = any(self.client.is_banned(j, ip) for j in self.client.jails() if j.startswith("fsguard"))
            except Fail2banError:
                held = True  # cannot tell: keep it suspended (never unban an attacker by accident)
            if held:
                s.until = now + self.suspend_for
                self._dirty = True
            elif s.until <= now:
                del self.suspended[ip]
                self._dirty = True
        if self._dirty:
            try:
                self._write()  # before the attempts: fail2ban's action reads it to enforce the ban
            except OSError as exc:
                errors.append(f"shield: cannot write {self.path}: {exc}")
                return errors  # the attempts wait: a ban the action would not enforce is no ban
        feed, self._feed = self._feed, []
        for ip, lines in feed:
            try:
                self.client.send(["set", self.auth_jail, "attempt", ip, *lines])
            except Fail2banError as exc:
                errors.append(f"shield: attempt {ip} in {self.auth_jail}: {exc}")
                self._feed.append((ip, lines))  # next tick
        if len(self._feed) > 1000:
            del self._feed[:-1000]
        if int(now) % 60 < 5:
            self._expire_foreign(now)
        return errors


def describe(cfg: Config, ip: str, now: float | None = None) -> str | None:
    """For ``fsguard why``: the suspension of ``ip``'s registration shield, if any."""
    t = time.time() if now is None else now
    try:
        data = json.loads((Path(cfg.state_dir) / whitelist.SHIELD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for r in data.get("suspended", []) if isinstance(data, dict) else []:
        if isinstance(r, dict) and r.get("ip") == ip and float(r.get("until", 0)) > t:
            who = ", ".join(str(i) for i in r.get("identities", [])[:10])
            until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(r["until"])))
            return (f"registration shield suspended until {until} (extended while banned): "
                    f"{len(r.get('identities', []))} identities that never registered from it failed: {who}")
    return None
