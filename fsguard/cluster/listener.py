"""One listening connection per node: remote decisions into this node's kernel sets.

``LISTEN fsguard_cluster`` on a dedicated psycopg2 connection, ``select()`` on its socket. On
every (re)connect the listener first LISTENs, then loads every ban in force cluster-wide
(:meth:`Listener.resync`), so nothing decided while it was away is missed; ``ready`` is set after
the first load. Other nodes' bans go straight into the kernel (``fsguard.firewall.bans``), never
through this node's fail2ban (no re-counting); this node's whitelist still wins.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fsguard import cluster

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

log = logging.getLogger("fsguard.cluster")
RECONNECT = 1.0

IN_FORCE = ("select ip_address, bool_or(ban_end is null) as permanent, max(ban_end) as ban_end "
            "from v_fsguard_cluster_bans where ban_status = 'banned' and (ban_end is null or ban_end > :now) "
            "group by ip_address")


class Listener:
    def __init__(self, cfg: Config, *, fail2ban_unban: Callable[[str], None] | None = None,
                 lists_changed: Callable[[], None] | None = None,
                 feeds_changed: Callable[[], None] | None = None,
                 on_applied: Callable[[str, str, float], None] | None = None) -> None:
        self.cfg = cfg
        self.node = cluster.node_name(cfg)
        self.netns = cluster.netns(cfg)
        self.fail2ban_unban = fail2ban_unban
        self.lists_changed = lists_changed
        self.feeds_changed = feeds_changed
        self.on_applied = on_applied  # (kind, ip, monotonic time of the kernel change): benchmarks
        self.ready = threading.Event()
        self.connected = threading.Event()
        self.lags: deque[float] = deque(maxlen=200)
        self.applied = 0
        self.handled = 0  # notifications processed (tests wait on it instead of sleeping)
        self.seen: deque[tuple[str, str, str]] = deque(maxlen=1000)  # (kind, ip, node) handled
        self.errors: deque[str] = deque(maxlen=20)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._remote: set[str] = set()  # addresses this listener put into the kernel
        self._conntrack: queue.Queue[str | None] = queue.Queue()
        self._ct_thread: threading.Thread | None = None

    # -- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"fsguard-cluster-{self.node}", daemon=True)
            self._thread.start()
            self._ct_thread = threading.Thread(target=self._ct_run, name="fsguard-cluster-ct", daemon=True)
            self._ct_thread.start()

    def _ct_run(self) -> None:
        from fsguard.firewall import bans

        while (ip := self._conntrack.get()) is not None:
            try:
                bans.drop_conntrack(self.cfg, ip, netns=self.netns)
            except Exception as exc:  # the ban holds without it
                self._note(f"conntrack {ip}: {exc}")

    def stop(self) -> None:
        self._stop.set()
        self._conntrack.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._ct_thread is not None:
            self._ct_thread.join(timeout=10)
            self._ct_thread = None
        self._close()

    def _close(self) -> None:
        self.connected.clear()
        if self._store is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._store.close()
            self._store = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._store = cluster.connect(self.cfg)
                self._store.execute(f"listen {cluster.CHANNEL}")
                self.resync()
                self.connected.set()
                self.ready.set()
                self._loop(self._store)
            except Exception as exc:  # database gone: enforce alone, retry
                self._note(f"listener: {type(exc).__name__}: {exc}")
            self._close()
            self._stop.wait(RECONNECT)

    def _loop(self, store: Store) -> None:
        conn = store.conn
        while not self._stop.is_set():
            if select.select([conn], [], [], 1.0)[0]:
                conn.poll()
                while conn.notifies:
                    note = conn.notifies.pop(0)
                    try:
                        msg = json.loads(note.payload)
                        self.handle(msg)
                        self.seen.append((str(msg.get("k")), str(msg.get("ip")), str(msg.get("n"))))
                    except Exception as exc:  # one bad decision never stops the listener
                        self._note(f"apply: {type(exc).__name__}: {exc}")
                    self.handled += 1

    def _note(self, text: str) -> None:
        self.errors.append(text)
        log.warning("cluster: %s", text)

    # -- applying -------------------------------------------------------------------------------
    def _whitelisted(self, ip: str) -> bool:
        from fs_python import whitelist

        try:
            return whitelist.check(ip, state_dir=self.cfg.state_dir).whitelisted
        except ValueError:
            return True  # not an address: never put into the kernel

    def _ban(self, ip: str, end: float | None, now: float) -> bool:
        from fsguard.firewall import bans

        if end is not None and end <= now:
            return False
        if self._whitelisted(ip):
            log.info("cluster: not enforcing remote ban of whitelisted %s", ip)
            return False
        # the kernel add now, the conntrack cleanup (a process per address) after: in a burst every
        # ban is enforced first (fsguard's drop rules match tracked packets too)
        bans.add_ban(self.cfg, ip, None if end is None else max(1, int(end - now + 0.999)), netns=self.netns,
                     conntrack=False)
        self._conntrack.put(ip)
        self._remote.add(ip)
        self.applied += 1
        if self.on_applied is not None:
            self.on_applied("ban", ip, time.monotonic())
        return True

    def _in_force(self, ip: str) -> tuple[bool, float | None]:
        """(any node's ban of ``ip`` in force, its latest end or None for permanent)."""
        assert self._store is not None
        row = self._store.query_one(IN_FORCE.replace("group by", "and ip_address = :ip group by"),
                                    {"ip": ip, "now": time.time()})
        if row is None:
            return False, None
        return True, None if row["permanent"] else float(row["ban_end"])

    def handle(self, msg: dict[str, Any]) -> None:
        kind, ip = msg.get("k"), str(msg.get("ip") or "")
        own = msg.get("n") == self.node
        now = time.time()
        if kind == "unban" and own and not msg.get("op"):
            # our fail2ban lifted its own ban (and the kernel entry); another node's ban of the
            # same address still holds here
            held, end = self._in_force(ip)
            if held:
                self._ban(ip, end, now)
            return
        if own:
            return  # our own decision: already in our kernel
        if kind == "ban":
            end = msg.get("end")
            if self._ban(ip, None if end is None else float(end), now):
                self.lags.append(max(0.0, now - float(msg.get("t") or now)))
        elif kind == "unban":
            from fsguard.firewall import bans

            if msg.get("op") and self.fail2ban_unban is not None:
                try:
                    self.fail2ban_unban(ip)  # an operator's unban lifts this node's own ban too
                except Exception as exc:
                    self._note(f"fail2ban unban {ip}: {exc}")
            if not self._in_force(ip)[0]:  # another node's ban of the same ip keeps it in
                bans.del_ban(self.cfg, ip, netns=self.netns)
                self._remote.discard(ip)
                if self.on_applied is not None:
                    self.on_applied("unban", ip, time.monotonic())
        elif kind == "lists" and self.lists_changed is not None:
            self.lists_changed()
        elif kind == "feeds" and self.feeds_changed is not None:
            self.feeds_changed()

    def resync(self) -> int:
        """Every ban in force cluster-wide into this node's kernel sets, and remote bans lifted
        while this listener was away out of them; return how many bans were (re)applied."""
        from fsguard.firewall import bans

        assert self._store is not None
        now = time.time()
        n = 0
        rows = self._store.query(IN_FORCE, {"now": now})
        for row in rows:
            try:
                n += self._ban(str(row["ip_address"]), None if row["permanent"] else float(row["ban_end"]), now)
            except Exception as exc:
                self._note(f"resync {row['ip_address']}: {exc}")
        for ip in self._remote - {str(r["ip_address"]) for r in rows}:
            try:
                bans.del_ban(self.cfg, ip, netns=self.netns)
                self._remote.discard(ip)
            except Exception as exc:
                self._note(f"resync lift {ip}: {exc}")
        return n

    def lag(self) -> float | None:
        """Median seconds from a remote decision's publication to its kernel add here."""
        if not self.lags:
            return None
        vals = sorted(self.lags)
        return vals[len(vals) // 2]
