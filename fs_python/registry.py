"""Who is registered right now: long-lived state shared by the monitor and the api command.

mod_python3 reloads the *entry* module (``fs_python.monitor``, ``fs_python.api``) on every call,
but modules they import stay cached in ``sys.modules``; this one is such a helper, so
:data:`REGISTRY` survives. Calls run on many threads at once: every access holds the lock.

The monitor thread keeps it exact from ``sofia::register`` / ``unregister`` / ``expire`` events,
seeded once from ``show registrations as json``; it writes ``<state_dir>/registrations.json``
(contract 1) atomically as it changes, at most once per ``min_interval`` seconds, because
FreeSWITCH 1.10.12 gives a runtime thread no chance to write anything at shutdown.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs_python.eventline import normalize_ip

SNAPSHOT = "registrations.json"
MAX_ENTRIES = 200_000  # only authenticated registrations get in; still, memory stays bounded
MAX_REALMS = 10_000
MAX_RECENT = 200_000
GRACE = 120  # seconds a registration still shields after the expiry FreeSWITCH granted
MAX_SHIELD = 86400  # a phone asking for ten years is shielded a day at a time (it re-registers)
RECENT = 7 * 86400  # an identity registered from an address this recently still owns its failures


def _text(value: object, limit: int = 128) -> str:
    """Registration fields are attacker-influenced (the user part is chosen by whoever
    authenticates): keep them short and surrogate-free, the api prints them back into FreeSWITCH."""
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    if not s.isascii():
        s = s.encode("utf-8", "backslashreplace").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else "?" for ch in s[:limit])


@dataclass
class Registration:
    ip: str
    user: str
    realm: str
    expires: float  # absolute epoch
    port: str = ""
    proto: str = "udp"
    profile: str = ""

    def key(self) -> tuple[str, str, str, str]:
        return (self.user.lower(), self.realm.lower(), self.ip, self.port)

    def row(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies and is ~10x slower on a 100k-row snapshot.
        # The snapshot's expiry is FreeSWITCH's plus GRACE: the shield ends shortly after it.
        return {"ip": self.ip, "user": self.user, "realm": self.realm, "expires": int(self.expires) + GRACE,
                "port": self.port, "proto": self.proto, "profile": self.profile}


class Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str, str, str], Registration] = {}
        # (user, realm) -> keys of entries: unregister/expire touch one user, never scan everything
        self.by_user: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}
        self.by_ip: dict[str, set[tuple[str, str, str, str]]] = {}  # for the api's check <ip>
        self.realms: set[str] = set()  # realms seen in successful registrations ("served")
        # (user, domain, ip) -> until when that identity was registered from that address: its own
        # failures from there are a customer's, never a jail's (kept RECENT seconds after it ended)
        self.recent: dict[tuple[str, str, str], float] = {}
        self.live = False  # True once a monitor seeded it: then memory is the truth
        self.dirty = False
        self.last_write = 0.0
        self.write_errors = 0
        self.monitor: threading.Thread | None = None
        self.handled = 0  # events the monitor handled / skipped as malformed (for fs_cli and tests)
        self.bad_events = 0

    # -- changes --------------------------------------------------------------------------------
    def seed(self, rows: list[Registration], live: bool = True) -> None:
        """Replace the set: from ``show registrations`` (``live``), or from the last snapshot while
        that answer cannot be had yet (a failed seed never empties what was known)."""
        with self.lock:
            self.entries = {}
            self.by_user = {}
            self.by_ip = {}
            for r in rows[:MAX_ENTRIES]:
                self._put(r)
            for r in rows:
                self._add_realm(r.realm)
            self.live = live
            self.dirty = True

    def add(self, reg: Registration) -> None:
        with self.lock:
            if len(self.entries) < MAX_ENTRIES or reg.key() in self.entries:
                self._put(reg)
                self.dirty = True
            self._add_realm(reg.realm)

    def remove(self, user: str, realm: str, ip: str | None, port: str | None = None) -> int:
        """An unregister. Without ``ip`` (TCP/TLS/WS socket closed) the device is ambiguous when the
        user has several: then nothing is removed and expiry does it (whitelists win)."""
        u, r = user.lower(), realm.lower()
        with self.lock:
            keys = [k for k in self.by_user.get((u, r), ())
                    if (ip is None or k[2] == ip) and (not port or k[3] == port)]
            if ip is None and len(keys) != 1:
                return 0
            for k in keys:
                self._drop(k)
            self.dirty = self.dirty or bool(keys)
            return len(keys)

    def expire(self, user: str, realm: str, ip: str | None, port: str | None, expired_at: float) -> int:
        """sofia's periodic sweep removed a registration; keep ours if it was refreshed since."""
        u, r = user.lower(), realm.lower()
        with self.lock:
            keys = [k for k in self.by_user.get((u, r), ()) if (ip is None or k[2] == ip)
                    and (not port or k[3] == port) and self.entries[k].expires <= expired_at + 5]
            for k in keys:
                self._drop(k)
            self.dirty = self.dirty or bool(keys)
            return len(keys)

    def remember(self, user: str, domain: str, ip: str, until: float) -> None:
        """``user@domain`` registered from ``ip`` until ``until`` (also called for the To-URI
        identity of a REGISTER, which is what a failure event names)."""
        if not user or not domain:
            return
        k = (user.lower(), domain.lower(), ip)
        with self.lock:
            if k in self.recent or len(self.recent) < MAX_RECENT:
                self.recent[k] = max(until, self.recent.get(k, 0.0))

    def restore_recent(self, rows: list[list[Any]]) -> None:
        """Recent identities from the last snapshot (after a FreeSWITCH restart)."""
        for row in rows[:MAX_RECENT]:
            try:
                user, domain, ip, until = str(row[0]), str(row[1]), normalize_ip(row[2]), float(row[3])
            except (TypeError, ValueError, IndexError):
                continue
            if ip is not None:
                self.remember(_text(user), _text(domain), ip, until)

    def owns(self, user: str | None, domain: str | None, ip: str | None, now: float | None = None) -> bool:
        """Whether ``user@domain`` registered from ``ip`` now or within RECENT seconds."""
        if not user or not domain or not ip:
            return False
        t = time.time() if now is None else now
        with self.lock:
            until = self.recent.get((user.lower(), domain.lower(), ip))
        return until is not None and until + RECENT > t

    def _put(self, reg: Registration) -> None:
        k = reg.key()
        self.entries[k] = reg
        rk = (k[0], k[1], k[2])
        if rk in self.recent or len(self.recent) < MAX_RECENT:
            self.recent[rk] = max(reg.expires, self.recent.get(rk, 0.0))
        self.by_user.setdefault((k[0], k[1]), set()).add(k)
        self.by_ip.setdefault(k[2], set()).add(k)

    def _drop(self, k: tuple[str, str, str, str]) -> None:
        self.entries.pop(k, None)
        keys = self.by_user.get((k[0], k[1]))
        if keys is not None:
            keys.discard(k)
            if not keys:
                del self.by_user[(k[0], k[1])]
        ips = self.by_ip.get(k[2])
        if ips is not None:
            ips.discard(k)
            if not ips:
                del self.by_ip[k[2]]

    def _add_realm(self, realm: str) -> None:
        if realm and len(self.realms) < MAX_REALMS:
            self.realms.add(realm.lower())

    # -- reads ----------------------------------------------------------------------------------
    def rows(self, now: float | None = None) -> list[dict[str, Any]]:
        t = time.time() if now is None else now
        with self.lock:
            regs = [r for r in self.entries.values() if r.expires + GRACE > t]
        return [r.row() for r in sorted(regs, key=lambda r: (r.ip, r.user, r.realm, r.port))]

    def rows_for(self, ip: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self.entries[k].row() for k in self.by_ip.get(ip, ())]

    def serves(self, realm: str) -> bool:
        with self.lock:
            return realm.lower() in self.realms

    # -- the snapshot (contract 1) ----------------------------------------------------------------
    def maybe_write(self, state_dir: Path, min_interval: float = 1.0, now: float | None = None) -> bool:
        """Write the snapshot if something changed and ``min_interval`` passed. Never raises."""
        t = time.time() if now is None else now
        with self.lock:
            if not self.dirty or t - self.last_write < min_interval:
                return False
            # drop what expired a while ago (whitelist.check ignores expired rows anyway)
            for k in [k for k, v in self.entries.items() if v.expires + GRACE < t - 60]:
                self._drop(k)
            for rk in [rk for rk, until in self.recent.items() if until + RECENT < t]:
                del self.recent[rk]
            rows = [r.row() for r in self.entries.values()]
            recent = [[u, d, ip, int(until)] for (u, d, ip), until in self.recent.items()]
            self.dirty = False
            self.last_write = t
        try:
            write_snapshot(state_dir, rows, t, recent)
        except (OSError, ValueError):  # ValueError: a state_dir the OS cannot take (NUL byte)
            with self.lock:
                self.dirty = True  # try again next time; the last good file stays in place
                self.write_errors += 1
            return False
        return True


def write_snapshot(state_dir: Path, rows: list[dict[str, Any]], now: float | None = None,
                   recent: list[list[Any]] | None = None) -> Path:
    """Atomic write: a temp file in the same directory, fsync, rename. ``recent`` ([user, domain,
    ip, until] of identities registered lately) lets a restarted monitor keep shielding them."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"version": 1, "written": int(time.time() if now is None else now), "registrations": rows}
    if recent is not None:
        data["recent"] = recent
    fd, tmp = tempfile.mkstemp(prefix=".registrations.", suffix=".tmp", dir=state_dir)
    try:
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))  # one C call, not json.dump's chunks
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        target = state_dir / SNAPSHOT
        os.replace(tmp, target)
        return target
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_snapshot(state_dir: Path, now: float | None = None) -> tuple[list[Registration], list[list[Any]]]:
    """The last snapshot's unexpired registrations and recent identities (a monitor whose seed
    failed starts from them). Raises OSError / ValueError when it exists but cannot be read."""
    t = time.time() if now is None else now
    try:
        with open(Path(state_dir) / SNAPSHOT, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return [], []
    if not isinstance(data, dict) or not isinstance(data.get("registrations", []), list):
        raise ValueError("not a registrations snapshot")
    regs: list[Registration] = []
    for row in data.get("registrations", []):
        if not isinstance(row, dict):
            continue
        ip = normalize_ip(row.get("ip"))
        try:
            expires = float(row.get("expires") or 0) - GRACE
        except (TypeError, ValueError):
            continue
        if ip is None or expires + GRACE <= t:
            continue
        regs.append(Registration(ip, _text(row.get("user")), _text(row.get("realm")), expires,
                                 _text(row.get("port"), 8), _text(row.get("proto") or "udp", 8),
                                 _text(row.get("profile"), 64)))
    recent = [r for r in data.get("recent", []) if isinstance(r, list) and len(r) == 4] \
        if isinstance(data.get("recent"), list) else []
    return regs, recent


def from_show_json(text: str) -> list[Registration]:
    """Rows of ``show registrations as json``; ``{"row_count": 0}`` (no ``rows`` key) is empty.
    Raises ValueError when the text is not that shape."""
    data = json.loads(text)
    if not isinstance(data, dict) or "row_count" not in data:
        raise ValueError("not a show registrations answer")
    rows = data.get("rows") or []
    if not isinstance(rows, list):
        raise ValueError("rows is not a list")
    out: list[Registration] = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        ip = normalize_ip(row.get("network_ip"))
        try:
            expires = float(row.get("expires") or 0)
        except (TypeError, ValueError):
            continue
        if ip is None or expires <= 0:
            continue
        url = str(row.get("url") or "")
        profile = url.split("/")[1] if url.startswith("sofia/") and url.count("/") >= 2 else ""
        out.append(Registration(ip, _text(row.get("reg_user")), _text(row.get("realm")), expires,
                                _text(row.get("network_port"), 8), _text(row.get("network_proto") or "udp", 8),
                                _text(profile, 64)))
    return out


REGISTRY = Registry()
