"""The GUI's one narrow path to root (contract 7): ``v_fsguard_actions`` rows, consumed here.

The FusionPBX app (running as www-data) can only *ask*: it inserts a row naming one of a fixed set
of actions and an argument. The fsguard service (root) calls :func:`process_pending` each tick; it
validates every row again (the database is not trusted more than the form was), claims it, runs a
Python handler (argument lists only, never a shell), and writes the outcome back for the GUI.

    unban <ip>              lift a ban: fail2ban's own state, the kernel set, the evidence row
    allow <ip|cidr> [label] admin whitelist entry (and lift its bans), snapshot + firewall refresh
    deny <ip|cidr> [label]  admin blacklist entry, firewall refresh (both: the lists page's Add;
                            ``action_expires`` is the entry's expiry; perimeter.lists validates)
    feeds_update            refresh every blacklist feed, then the firewall: in a child process
                            with a time limit (fsguard.jobs), never inside the service tick
    firewall_apply          rebuild whitelist snapshot and ruleset (after list edits in the GUI)
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsguard.cluster import hooks as cluster_hooks

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

ACTIONS = ("unban", "allow", "deny", "feeds_update", "firewall_apply")
MAX_LABEL = 120
MAX_USER = 64
MAX_RESULT = 500


class QueueError(ValueError):
    """A request that is refused; the message says why."""


@dataclass
class ActionResult:
    uuid: str
    action: str
    argument: str
    status: str  # done | failed | rejected
    message: str


@dataclass
class Request:
    uuid: str
    action: str
    argument: str
    label: str
    requested_by: str
    expires: float | None = None


def _printable(text: str, limit: int, what: str) -> str:
    text = (text or "").strip()
    if len(text) > limit or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise QueueError(f"{what}: at most {limit} printable characters")
    return text


def validate(row: dict[str, Any]) -> Request:
    """Check one row as if it came straight from a form (it did, through PHP)."""
    action = str(row.get("action_name") or "")
    if action not in ACTIONS:
        raise QueueError(f"unknown action {action[:40]!r}")
    arg = str(row.get("action_argument") or "").strip()
    if action == "unban":
        try:
            arg = str(ipaddress.ip_address(arg))
        except ValueError:
            raise QueueError(f"unban: not an IP address: {arg[:60]!r}") from None
    elif action in ("allow", "deny"):
        from fsguard.perimeter import lists

        try:  # syntax here; the list's rules when lists.add runs (the same for CLI, GUI and queue)
            arg = lists.network_text(arg)
        except lists.ListError as exc:
            raise QueueError(f"{action}: {exc}") from None
    elif arg:
        raise QueueError(f"{action} takes no argument")
    label = _printable(str(row.get("action_label") or ""), MAX_LABEL, "label")
    user = _printable(str(row.get("requested_by") or ""), MAX_USER, "requested_by")
    expires: float | None = None
    if row.get("action_expires") is not None:
        try:
            expires = float(row["action_expires"])
        except (TypeError, ValueError):
            raise QueueError("expiry: not a time") from None
    return Request(str(row["fsguard_action_uuid"]), action, arg, label, user, expires)


# -- handlers: each returns a message for the GUI or raises ---------------------------------------
def _refresh(cfg: Config, store: Store) -> str:
    from fsguard import firewall
    from fsguard.perimeter import snapshot

    snapshot.write_from_store(cfg, store)
    firewall.apply(cfg)
    cluster_hooks.lists_changed(cfg)  # cluster: every node rebuilds its snapshot and ruleset
    return "whitelist snapshot and firewall refreshed"


def _fail2ban_unban(ip: str) -> str:
    exe = shutil.which("fail2ban-client")
    if exe is None:
        return "fail2ban not installed"
    try:
        proc = subprocess.run([exe, "unban", ip], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"fail2ban: {exc}"
    return "fail2ban: unbanned" if proc.returncode == 0 else f"fail2ban: {(proc.stderr or proc.stdout).strip()[:120]}"


def unban(cfg: Config, store: Store, req: Request) -> str:
    from fsguard import evidence
    from fsguard.firewall import bans

    f2b = _fail2ban_unban(req.argument)
    bans.del_ban(cfg, req.argument)
    n = evidence.record_unban(store, ip=req.argument, jail=None, reason=f"GUI unban by {req.requested_by or '?'}")
    cluster_hooks.unbanned(cfg, req.argument, None, f"GUI unban by {req.requested_by or '?'}")  # cluster
    return f"{req.argument} unbanned ({n} ban rows closed; {f2b})"


def _list_add(cfg: Config, store: Store, req: Request) -> str:
    from fsguard.perimeter import lists

    try:
        entry, created = lists.add(store, cfg, req.action, req.argument, req.label, req.expires)
    except lists.ListError as exc:
        raise QueueError(str(exc)) from None
    msg = f"{entry.cidr} {'added to' if created else 'updated in'} the {req.action} list"
    if req.action == "allow":
        net = ipaddress.ip_network(entry.cidr)
        if net.num_addresses == 1:
            msg += "; " + unban(cfg, store, Request(req.uuid, "unban", str(net.network_address), "",
                                                   req.requested_by))
    try:
        return msg + "; " + _refresh(cfg, store)
    except Exception as exc:  # the entry is saved; the next apply picks it up
        return msg + f"; firewall refresh failed: {type(exc).__name__}: {exc}"


def feeds_update(cfg: Config, store: Store, req: Request) -> str:
    from fsguard import jobs

    jobs.spawn_feeds(cfg, req.uuid, time.time())
    raise jobs.Deferred()


def feeds_update_now(cfg: Config, store: Store) -> str:
    """The refresh itself (in the child :mod:`fsguard.jobs` starts)."""
    from fsguard.perimeter import update

    results = update.update_all(cfg, store)
    summary = ", ".join(f"{r.name}: {r.status} ({r.entries})" for r in results) or "no feeds configured"
    return summary + "; " + _refresh(cfg, store)


def firewall_apply(cfg: Config, store: Store, req: Request) -> str:
    return _refresh(cfg, store)


Handler = Callable[[Any, Any, Request], str]
HANDLERS: dict[str, Handler] = {"unban": unban, "allow": _list_add, "deny": _list_add,
                                "feeds_update": feeds_update, "firewall_apply": firewall_apply}


def finish(store: Store, uuid: str, status: str, message: str) -> None:
    store.execute("update v_fsguard_actions set action_status = :s, action_result = :r, update_date = :d "
                  "where fsguard_action_uuid = :u",
                  {"s": status, "r": message[:MAX_RESULT], "d": _audit(), "u": uuid})


_finish = finish


def _audit() -> str:
    from fsguard.store import audit_now

    return audit_now()


def process_pending(cfg: Config, store: Store, *, limit: int = 20,
                    handlers: dict[str, Handler] | None = None, now: float | None = None,
                    budget: float = 3.0) -> list[ActionResult]:
    """Validate, claim and run pending requests, oldest first: at most ``limit``, and no new one
    once ``budget`` seconds are spent (the rest wait for the next tick: the tick stays short).
    First the outcome of children (feed refresh) and rows left running by a stopped service."""
    from fsguard import jobs

    now = time.time() if now is None else now
    jobs.reap(store, now)
    jobs.fail_stale(store, cfg, now)
    table = handlers or HANDLERS
    rows = store.query("select * from v_fsguard_actions where action_status = 'pending' "
                       "order by insert_date, fsguard_action_uuid limit :n", {"n": limit})
    out: list[ActionResult] = []
    began = time.monotonic()
    for row in rows:
        if time.monotonic() - began > budget:
            break
        uuid = str(row["fsguard_action_uuid"])
        # Claim first: two service instances never run the same request twice. The claim time
        # tells jobs.fail_stale how long a row has been running.
        if store.execute("update v_fsguard_actions set action_status = 'running', update_date = :d "
                         "where fsguard_action_uuid = :u and action_status = 'pending'",
                         {"u": uuid, "d": jobs.iso(now)}) != 1:
            continue
        try:
            req = validate(row)
        except QueueError as exc:
            _finish(store, uuid, "rejected", str(exc))
            out.append(ActionResult(uuid, str(row.get("action_name"))[:40], "", "rejected", str(exc)))
            continue
        start = time.monotonic()
        try:
            msg = table[req.action](cfg, store, req)
            status = "done"
        except jobs.Deferred:
            out.append(ActionResult(uuid, req.action, req.argument, "running", "started in the background"))
            continue
        except QueueError as exc:
            msg, status = str(exc), "rejected"
        except Exception as exc:  # a failed action is reported to the GUI, never kills the service
            msg, status = f"{type(exc).__name__}: {exc}", "failed"
        msg = f"{msg} ({time.monotonic() - start:.1f}s)" if status == "done" else msg
        _finish(store, uuid, status, msg)
        out.append(ActionResult(uuid, req.action, req.argument, status, msg))
    return out
