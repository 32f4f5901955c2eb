"""fsguard's operations layer: what an operator (CLI), the GUI (``fsguard.queue``) and the drill
can ask for, implemented once.

=================  ========================================================================
``bans.why``       is an address banned or whitelisted, and why (fail2ban, kernel set, store)
``bans.unban``     lift a ban: fsguard's jails on ``[fail2ban] socket``, the kernel set (unless
                   ``[fail2ban] firewall = off``, in ``[fail2ban] netns``), the evidence rows
``lists.change``   add/delete an admin whitelist/blacklist entry, then snapshot + firewall
``perimeter.feeds_refresh``   fetch every feed and the country data, then the firewall
``perimeter.firewall_apply``  rewrite the whitelist snapshot, build and load the ruleset
=================  ========================================================================

Each returns a dataclass derived from :class:`Result`: ``to_json()`` gives one JSON shape
(``{"ok": ..., "op": ..., <fields>, "notes": [...]}``) and ``message()`` one line for a person
(the CLI prints it, the GUI shows it). Adapters parse their input and print; they decide nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    op: str = ""
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        return self.op + (": " + "; ".join(self.notes) if self.notes else "")

    def to_json(self) -> dict[str, Any]:
        return jsonable(self)


def jsonable(obj: object) -> Any:
    """Dataclasses, dicts, lists and scalars as JSON values (anything else as its text)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
