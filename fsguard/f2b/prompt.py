"""Bans as soon as fail2ban's filter decides them, not when its actions thread next looks.

fail2ban's filter hands a ban ticket to the jail's queue (``Jail.putFailTicket``); the jail's
actions thread finds it by polling (``Utils.wait_for`` with sleeps of 0.2, 0.4, 0.6 ... s), so a
ban reaches the kernel up to ~0.8 s after the line that earned it. A password cracker answered
~50 times a second (what a real FreeSWITCH managed) gets dozens of guesses in that time.

``install(jail)``, run by fsguard's action when fail2ban starts it, makes the filter thread run the
actions' own ban step (``Actions.__checkBan``) right after queueing a ticket: the same code fail2ban
runs from its command thread for a manual ``banip``, so every check, the database write, the
bantime increment and fsguard's evidence happen exactly as for any ban; only the waiting goes.
Bans restored at start keep fail2ban's own path. Nothing is changed when the method is missing
(another fail2ban version): the actions thread still bans, only later.
"""

from __future__ import annotations

import logging
from typing import Any

MARK = "_fsguard_prompt"


def install(jail: Any, log: logging.Logger | None = None) -> bool:
    """Wrap ``jail.putFailTicket`` once (idempotent: a reload keeps the jail and its wrapper)."""
    log = log or logging.getLogger("fsguard.f2b")
    actions = getattr(jail, "actions", None)
    check = getattr(actions, "_Actions__checkBan", None)
    queue = getattr(jail, "putFailTicket", None)
    if check is None or queue is None:
        log.warning("fsguard: this fail2ban has no Actions.__checkBan: bans wait for the actions thread")
        return False
    if getattr(queue, MARK, False):
        return True

    def put(ticket: Any) -> None:
        queue(ticket)
        if getattr(ticket, "restored", False) or getattr(jail, "idle", False):
            return  # restored at start / jail reloading: fail2ban's actions thread takes them
        try:
            check()
        except Exception as exc:  # the ticket is queued: the actions thread still bans it
            log.error("fsguard: prompt ban failed (the actions thread will ban): %s", exc)

    setattr(put, MARK, True)
    jail.putFailTicket = put
    return True
