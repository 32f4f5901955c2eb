"""The work behind ``python fs_python.not_found`` (the entry module stays tiny, see below).

Run by the public context's last extension. Logs one ``not-found`` event (the socket source
address ``sip_network_ip`` in the event line's fixed IP position, the attacker-controlled dialled
number, user agent, from/to users and domain escaped after it), then hangs up with
UNALLOCATED_NUMBER, which sofia answers as SIP 404, so the call does not linger.

With ``[fs_python] fusionpbx_404_line = true`` it also writes FusionPBX's classic
``[inbound routes] 404 not found <ip>`` for existing fail2ban filters; only a validated IP stands
on that line, nothing from a SIP header.

mod_python3 reloads the entry module on every call (a reload of a module this size costs
~150 µs, of a two-line module ~30 µs), so the code lives here, in a helper module that stays cached.
"""

from __future__ import annotations

from typing import Any

from fs_python import config, eventline, fslog

# channel variable -> event field; all attacker text except the profile name
_FIELDS = (
    ("profile", "sofia_profile_name"),
    ("number", "destination_number"),
    ("from", "sip_from_user"),
    ("to", "sip_to_user"),
    ("domain", "sip_to_host"),
    ("ua", "sip_user_agent"),
)


def _get(session: Any, name: str) -> str | None:
    try:
        value = session.getVariable(name)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def handle(session: Any) -> None:
    ip = eventline.normalize_ip(_get(session, "sip_network_ip"))
    fields: dict[str, object] = {"method": "INVITE"}
    for key, var in _FIELDS:
        value = _get(session, var)
        if value is not None:
            fields[key] = value
    fslog.event("not-found", ip, fields)
    cfg = fslog.settings()
    if ip is not None and cfg is not None and config.FUSIONPBX_404_LINE.get(cfg):
        fslog.log("WARNING", "[inbound routes] 404 not found %s" % ip)


def handler(session: Any, args: str) -> None:
    """mod_python3's dialplan entry point. Never raises into FreeSWITCH."""
    try:
        if isinstance(session, str):  # "na": called outside a call, nothing to answer
            return
        try:
            handle(session)
        finally:
            if session.ready():
                session.hangup("UNALLOCATED_NUMBER")
    except BaseException as exc:  # noqa: BLE001 - an exception here would reach FreeSWITCH
        fslog.log("ERR", "fsguard not_found failed: %s" % type(exc).__name__)
