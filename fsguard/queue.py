"""The GUI's one narrow path to root (contract 7): ``v_fsguard_actions`` rows, consumed here.

The FusionPBX app (running as www-data) can only *ask*: it inserts a row naming one of a fixed set
of actions and an argument. The fsguard service (root) calls :func:`process_pending` each tick; it
validates every row again (the database is not trusted more than the form was), claims it, runs a
Python handler (argument lists only, never a shell), and writes the outcome back for the GUI.

    unban <ip>              fsguard.ops.bans.unban (fsguard's jails, kernel set, evidence rows)
    allow <ip|cidr> [label] fsguard.ops.lists.change: whitelist entry, lift its bans, snapshot, firewall
    deny <ip|cidr> [label]  fsguard.ops.lists.change: blacklist entry, snapshot, firewall (both: the
                            lists page's Add; ``action_expires`` is the entry's expiry)
    feeds_update            fsguard.ops.perimeter.feeds_refresh: every feed + countries, then the
                            firewall: in a child process with a time limit (fsguard.jobs), never
                            inside the service tick
    firewall_apply          fsguard.ops.perimeter.firewall_apply: snapshot and ruleset (after GUI
                            edits), in a child process too

The handlers are adapters over :mod:`fsguard.ops`, the functions ``fsguard unban``, ``fsguard
allow|deny add``, ``fsguard feeds update`` and ``fsguard firewall apply`` run: both do the same.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


# -- handlers: adapters over fsguard.ops (the CLI runs the same functions); a message or raise ----
def unban(cfg: Config, store: Store, req: Request) -> str:
    from fsguard.ops import bans

    res = bans.unban(cfg, store, req.argument, reason=f"GUI unban by {req.requested_by or '?'}")
    if not res.ok:
        raise QueueError(res.message())
    return res.message()


def _list_add(cfg: Config, store: Store, req: Request) -> str:
    from fsguard.ops import lists as ops_lists
    from fsguard.ops import perimeter
    from fsguard.perimeter.lists import ListError

    try:  # the entry, its unban and the whitelist snapshot now; the ruleset load in the background
        res = ops_lists.change(cfg, store, req.action, "add", req.argument, label=req.label, expires=req.expires,
                               apply=False, by=f"GUI user {req.requested_by or '?'}")
    except ListError as exc:
        raise QueueError(str(exc)) from None
    msg = res.message()
    if perimeter.applied_before(cfg):
        store.insert("v_fsguard_actions", {"action_name": "firewall_apply", "action_argument": "",
                                           "action_label": "", "action_status": "pending",
                                           "requested_by": req.requested_by})
        msg += "; firewall re-apply queued (runs in the background)"
    return msg


def feeds_update(cfg: Config, store: Store, req: Request) -> str:
    from fsguard import jobs

    jobs.spawn(cfg, req.uuid, "feeds_update", time.time())
    raise jobs.Deferred()


def feeds_update_now(cfg: Config, store: Store) -> str:
    """The refresh itself (in the child :mod:`fsguard.jobs` starts)."""
    from fsguard.ops import perimeter

    return perimeter.feeds_refresh(cfg, store).message()


def firewall_apply(cfg: Config, store: Store, req: Request) -> str:
    from fsguard import jobs

    jobs.spawn(cfg, req.uuid, "firewall_apply", time.time())
    raise jobs.Deferred()


def firewall_apply_now(cfg: Config, store: Store) -> str:
    """The apply itself (in the child :mod:`fsguard.jobs` starts)."""
    from fsguard.ops import perimeter

    return perimeter.firewall_apply(cfg, store, lists_changed=True).message()  # after list edits in the GUI


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
        if row.get("action_name") in jobs.KINDS and jobs.busy():
            continue  # one background child at a time: this one waits (pending) for the next tick
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
