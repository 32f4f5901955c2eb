"""``change``: add or delete an admin whitelist (``allow``) / blacklist (``deny``) entry.

One sequence for every caller: validate and write the entry; whitelisting a single address lifts
its bans (whitelists win); rewrite the whitelist snapshot (contract 2) so fail2ban's ignore list
and the in-FreeSWITCH check see it at once; re-apply the firewall when it has been applied
before (a host whose firewall was never loaded does not get one loaded by a list edit).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fsguard.ops import Result, perimeter
from fsguard.ops.bans import UnbanResult, unban

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

LISTS = ("allow", "deny")


@dataclass
class ListChange(Result):
    list_name: str = ""
    action: str = ""  # add | del
    cidr: str = ""
    label: str = ""
    expires: float | None = None
    created: bool = False
    deleted: int = 0
    unban: UnbanResult | None = None
    snapshot: str = ""
    firewall: str = ""  # re-applied | not applied before | skipped | NOT re-applied: <why>

    def message(self) -> str:
        if self.action == "add":
            head = f"{'added' if self.created else 'updated'} {self.list_name} {self.cidr}"
        elif self.deleted:
            head = f"removed {self.cidr} from {self.list_name}"
        else:
            head = f"{self.cidr} is not on the {self.list_name} list"
        parts = [head] + ([self.unban.message()] if self.unban and self.unban.found else [])
        if self.firewall == "re-applied" or self.firewall.startswith("NOT"):
            parts.append(f"firewall {self.firewall}")
        return "; ".join(parts + self.notes)


def change(cfg: Config, store: Store, list_name: str, action: str, cidr: str, *, label: str = "",
           expires: float | None = None, apply: bool = True, by: str = "operator") -> ListChange:
    """Raises :class:`fsguard.perimeter.lists.ListError` (bad entry) before anything is written."""
    from fsguard.cluster import hooks as cluster_hooks
    from fsguard.perimeter import lists, snapshot

    if list_name not in LISTS or action not in ("add", "del"):
        raise lists.ListError(f"unknown list operation {list_name!r} {action!r}")
    res = ListChange("list", list_name=list_name, action=action, label=label, expires=expires)
    if action == "add":
        entry, res.created = lists.add(store, cfg, list_name, cidr, label, expires)
        res.cidr = entry.cidr
    else:
        res.cidr = cidr
        res.deleted = lists.delete(store, cfg, list_name, cidr)
        if not res.deleted:
            res.ok = False
            return res
    if list_name == "allow" and action == "add":
        net = ipaddress.ip_network(res.cidr)
        if net.num_addresses == 1:
            res.unban = unban(cfg, store, str(net.network_address), reason=f"whitelisted by {by}")
    res.snapshot = snapshot.write_from_store(cfg, store).as_posix()
    cluster_hooks.lists_changed(cfg)  # cluster: every node rebuilds its snapshot and ruleset
    if not apply:
        res.firewall = "skipped"
    elif not perimeter.applied_before(cfg):
        res.firewall = "not applied before"
    else:
        try:
            perimeter.firewall_apply(cfg, store, snapshot=False)
            res.firewall = "re-applied"
        except Exception as exc:  # the entry is saved; the previous ruleset stays until the next apply
            res.firewall = f"NOT re-applied: {exc}"
    return res

