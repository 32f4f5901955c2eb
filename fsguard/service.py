"""``fsguard service``: the one background loop next to fail2ban.

Each tick (default every 5 s):

1. **ignore sync** (``fsguard.f2b.ignoresync``): fsguard's jails ignore registered customers,
   the admin whitelist and carriers; whitelisted addresses that are banned are unbanned.
2. **tail**: new fsguard event lines in the FreeSWITCH log go to ``v_fsguard_events``, and
   failures from whitelisted addresses are counted per user identity in ``v_fsguard_offenders``.
3. **queue**: ``fsguard.queue.process_pending(cfg, store)``.

After step 1 the same registrations keep the firewall's accept sets current
(:mod:`fsguard.firewall.accept`: element adds/deletes, never a reload; skipped with
``[fail2ban] firewall = off``).

A step that fails is logged and retried next tick; the last good state stays in force.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs_python import eventline
from fs_python.config import ConfigError
from fsguard import evidence, heartbeat, settings, shield
from fsguard.cluster import hooks as cluster_hooks
from fsguard.f2b import armed
from fsguard.f2b.client import Client, Fail2banError
from fsguard.f2b.ignoresync import IgnoreSync, canon
from fsguard.firewall.accept import AcceptSync

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.service")
FAILURE_KINDS = frozenset(eventline.KINDS)
MAX_READ = 2 * 1024 * 1024  # per tick (~10,000 lines): a flood is drained over several short ticks, so the
# ignore-list sync in the same loop never waits seconds behind it (measured: 8 MB held a tick 13-19 s)
EVENTS_KEEP = 7 * 86400


@dataclass
class TickResult:
    ignore_added: int = 0
    ignore_removed: int = 0
    unbanned: list[str] = field(default_factory=list)
    events: int = 0
    offences: int = 0
    queue: int = 0
    repaired: list[str] = field(default_factory=list)
    skipped: int = 0  # evidence records the store refused (the rest of the batch is kept)
    accept_changes: int = 0  # registered addresses added to / removed from the kernel accept sets
    errors: list[str] = field(default_factory=list)


class Service:
    def __init__(self, cfg: Config, store: Store, *, client: Client | None = None) -> None:
        self.cfg = cfg
        self.store = store
        sock = settings.F2B_SOCKET.get(cfg)
        self.client = client or Client(sock)
        self.jails = list(settings.F2B_JAILS.get(cfg))
        self.base = {c for c in (canon(x) for x in settings.F2B_IGNOREIP.get(cfg)) if c}
        self.logpath = Path(settings.F2B_LOGPATH.get(cfg))
        jail_dir = settings.F2B_JAIL_DIR.get(cfg)
        self.jail_dir = Path(jail_dir) if jail_dir else None
        self.ignore = IgnoreSync(cfg, self.client, self.jails, self.base, self.jail_dir)
        self.shield = shield.Shield(cfg, self.client, settings.SHIELD_AUTH_JAIL.get(cfg))
        self.ignore.exclude = self.shield.active  # a suspended shield is off the ignore list
        self.offender_cap = max(1, settings.SERVICE_OFFENDER_IDENTITIES.get(cfg))
        self._pos: tuple[int, int] | None = None  # (inode, offset)
        self._armed_at = 0.0
        self._restarted: dict[str, float] = {}
        self.armed_interval = float(settings.F2B_ARMED_CHECK_INTERVAL.get(cfg))
        fw_on = settings.F2B_FIREWALL.get(cfg)
        self.accept = AcceptSync(cfg, netns=settings.F2B_NETNS.get(cfg) or None) if fw_on else None

    # -- 1. ignore sync (fsguard.f2b.ignoresync) ------------------------------------------------
    def wanted(self, now: float) -> set[str]:
        return self.ignore.wanted(now)

    def sync_ignore(self, now: float, result: TickResult) -> None:
        res = self.ignore.sync(now)
        result.ignore_added += res.added
        result.ignore_removed += res.removed
        result.unbanned.extend(res.unbanned)
        result.errors.extend(res.errors)

    def keep_armed(self, now: float, result: TickResult) -> None:
        """Every fsguard jail has its action, every fail2ban ban is in the kernel set (fsguard.f2b.armed)."""
        if now - self._armed_at < self.armed_interval:
            return
        self._armed_at = now
        state = armed.check(self.cfg, self.client, self.jails, now)
        result.errors.extend(state.errors)
        done, failed = armed.repair(self.cfg, self.client, self.store, state, conf_dir=armed.conf_dir_of(self.cfg),
                                    restarted=self._restarted)
        for line in done:
            log.warning("repaired: %s", line)
        result.repaired.extend(done)
        result.errors.extend(failed)

    def watch_log(self) -> None:
        """FreeSWITCH creates its log (never root: see f2b.render). A jail started while it was
        missing reads only the placeholder: add the log once it exists, so no failure is lost."""
        try:
            if not stat.S_ISREG(os.lstat(self.logpath).st_mode):
                return  # a symlink or FIFO in FreeSWITCH's log dir is never handed to fail2ban
        except FileNotFoundError:
            return
        running = set(self.client.jails())  # read every tick: fail2ban may have restarted since
        for jail in self.jails:
            if jail in running and str(self.logpath) not in self.client.log_paths(jail):
                self.client.add_log_path(jail, str(self.logpath))
                log.warning("%s: added %s to the jail (it was missing when fail2ban started)", jail, self.logpath)

    # -- 2. tail ---------------------------------------------------------------------------------
    def read_new_lines(self) -> list[str]:
        # FreeSWITCH's directory: no symlink followed, no FIFO or device read (it would hold the tick)
        try:
            fd = os.open(self.logpath, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OSError(f"{self.logpath}: not read ({exc.strerror}; a symlink is refused)") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{self.logpath}: not a regular file, not read")
            if self._pos is None:
                self._pos = (st.st_ino, st.st_size)  # start at the end: history is fail2ban's business
                return []
            ino, off = self._pos
            if ino != st.st_ino or st.st_size < off:
                off = 0  # rotated or truncated
            fh.seek(off)
            data = fh.read(MAX_READ)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._pos = (st.st_ino, off + end + 1)
        # Only b"\n" ends a record (str.splitlines() would also split on CR, U+2028, \x85...: a
        # bare CR in a SIP header would start a forged "line" of its own).
        return [raw.decode("utf-8", "replace") for raw in data[:end].split(b"\n")]

    def ingest(self, lines: list[str], now: float, result: TickResult) -> None:
        tokens = self.cfg.event_tokens(now)
        if not tokens:
            return
        events: list[tuple[float, eventline.Event]] = []
        counts: dict[tuple[str, str, str], tuple[int, float, float, str, str]] = {}
        for line in lines:
            if "FSGUARD" not in line:
                continue
            ev = eventline.parse_record(line, tokens)  # the whole record prefix, one of our tokens
            if ev is None or ev.ip is None:
                continue
            events.append((now, ev))
            if ev.kind not in FAILURE_KINDS:
                continue
            user = ev.fields.get("user") or ev.fields.get("number") or "-"
            ident = user + ("@" + ev.fields["domain"] if ev.fields.get("domain") else "")
            # an offence (whitelisted, or a registered identity's own failure) or fail2ban's business;
            # the registration shield counts foreign identities on the way (fsguard.shield)
            reason = self.shield.offence(ev, eventline.escape(ident, 200)[0], line, now)
            if reason is None:
                continue
            key = (ev.ip, ident, ev.kind)
            n, first, _, _, _ = counts.get(key, (0, now, now, "", ""))
            ua = ev.fields.get("ua", "")  # raw here; evidence stores it escaped (printable ASCII)
            counts[key] = (n + 1, first, now, ua, reason[:300])
        counts.update(self.shield.take_new())
        if events:
            kept = events[-1000:]  # the dashboard needs recent ones
            skipped = evidence.record_events(self.store, kept)
            result.events += len(kept) - skipped
            result.skipped += skipped
        if counts:
            result.skipped += evidence.add_offences(self.store, counts, self.offender_cap)
            result.offences += sum(v[0] for v in counts.values())

    # -- the loop --------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> TickResult:
        now = time.time() if now is None else now
        result = TickResult()
        result.errors += cluster_hooks.service_tick(self, now)  # cluster: remote bans, outbox, registrations
        try:
            if settings.F2B_BACKEND.get(self.cfg) != "systemd":
                self.watch_log()
        except (Fail2banError, OSError, ConfigError) as exc:
            result.errors.append(f"log watch: {exc}")
        try:
            self.sync_ignore(now, result)
        except (Fail2banError, OSError) as exc:
            result.errors.append(f"ignore sync: {exc}")
        if self.accept is not None:
            try:
                # the rows the ignore sync just read, and (cluster) the other nodes' live registrations
                regs = self.ignore.registrations + cluster_hooks.service_registrations(self.cfg)
                synced = self.accept.sync(regs, now)
                result.accept_changes = len(synced.added) + len(synced.removed)
            except Exception as exc:  # the last good accept set stays in the kernel
                result.errors.append(f"accept sync: {type(exc).__name__}: {exc}")
        try:
            self.keep_armed(now, result)
        except Exception as exc:  # a failing check never stops the loop
            result.errors.append(f"armed check: {type(exc).__name__}: {exc}")
        try:
            self.ingest(self.read_new_lines(), now, result)
        except Exception as exc:  # a bad store/line never stops the loop
            result.errors.append(f"tail: {type(exc).__name__}: {exc}")
        result.errors += self.shield.apply(now)
        try:
            from fsguard import queue

            result.queue = len(queue.process_pending(self.cfg, self.store, now=now))
        except Exception as exc:
            result.errors.append(f"queue: {type(exc).__name__}: {exc}")
        if int(now) % 3600 < 5:
            try:
                evidence.prune_events(self.store, now - EVENTS_KEEP)
                evidence.prune_offenders(self.store, now - evidence.OFFENDERS_KEEP)
            except Exception as exc:
                result.errors.append(f"prune: {exc}")
        for err in result.errors:
            log.warning("%s", err)
        heartbeat.beat(self.cfg.state_dir, now, len(result.errors))
        return result

    def run(self, interval: float = 5.0, stop: Any = None) -> None:
        while stop is None or not stop.is_set():
            started = time.monotonic()
            self.tick()
            delay = max(0.5, interval - (time.monotonic() - started))
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
