"""``why`` and ``unban``: one implementation for the CLI, the GUI queue and the drill.

Both honour ``[fail2ban] socket`` (which fail2ban-server), ``[fail2ban] firewall = off`` (no
kernel set touched) and ``[fail2ban] netns`` (where the kernel sets are), and touch only
fsguard's own jails: an unban never lifts an address from a jail fsguard does not own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fsguard import settings
from fsguard.ops import Result

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.f2b.client import Client
    from fsguard.store import Store

WHITELIST_CMD = "fsguard allow add {ip} --label 'why it is trusted'"


def _client(cfg: Config) -> Client:
    from fsguard.f2b.client import Client

    return Client(settings.F2B_SOCKET.get(cfg), timeout=5)


def _netns(cfg: Config) -> str | None:
    return settings.F2B_NETNS.get(cfg) or None  # tests and the drill use a namespace


@dataclass
class WhyResult(Result):
    ip: str = ""
    banned: bool = False
    jails: list[str] = field(default_factory=list)
    kernel_banned: bool | None = None
    bans: list[dict[str, Any]] = field(default_factory=list)
    whitelisted: bool = False
    whitelist_reasons: list[str] = field(default_factory=list)
    memberships: list[dict[str, str]] = field(default_factory=list)
    offenders: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def message(self) -> str:
        return f"{self.ip}: " + ("BANNED" if self.banned else "not banned") + (
            f" (jails: {', '.join(self.jails)})" if self.jails else "") + (
            "; whitelisted" if self.whitelisted else "")


def why(cfg: Config, store: Store, ip: str) -> WhyResult:
    from fs_python import whitelist
    from fsguard import evidence, shield
    from fsguard.perimeter import membership

    res = WhyResult("why", ip=ip)
    verdict = whitelist.check(ip, state_dir=cfg.state_dir)
    res.whitelisted, res.whitelist_reasons = verdict.whitelisted, list(verdict.reasons)
    suspended = shield.describe(cfg, ip)  # registered, but sprayed identities: the auth jail applies
    if suspended:
        res.notes.append(suspended)
    try:
        client = _client(cfg)
        running = set(client.jails())
        res.jails = sorted(j for j in running if j.startswith("fsguard") and client.is_banned(j, ip))
    except Exception as exc:
        res.notes.append(f"fail2ban not asked: {exc}")
    if settings.F2B_FIREWALL.get(cfg):
        try:
            from fsguard.firewall import bans

            res.kernel_banned = bans.is_banned(cfg, ip, netns=_netns(cfg))
        except Exception as exc:
            res.notes.append(f"kernel set not checked: {exc}")
    res.bans = evidence.bans_for(store, ip, limit=10)
    active = evidence.active_bans(store, ip)
    res.banned = bool(res.jails) or bool(res.kernel_banned) or bool(active)
    try:
        res.memberships = [{"list": m.list_name, "source": m.source, "detail": m.detail}
                           for m in membership.memberships(cfg, ip)]
    except Exception as exc:
        res.notes.append(f"memberships not checked: {exc}")
    res.offenders = evidence.offenders(store, ip=ip, limit=20)
    if res.banned:
        res.commands.append(f"fsguard unban {ip}")
    if not res.whitelisted:
        res.commands.append(WHITELIST_CMD.format(ip=ip))
    return res


@dataclass
class UnbanResult(Result):
    ip: str = ""
    jails: list[str] = field(default_factory=list)
    kernel: bool = False
    rows: int = 0

    @property
    def found(self) -> bool:
        return bool(self.jails or self.kernel or self.rows)

    def message(self) -> str:
        text = (f"{self.ip}: unbanned (jails: {', '.join(self.jails) or '-'}; kernel set: "
                f"{'yes' if self.kernel else 'no'}; evidence rows closed: {self.rows})") if self.found else (
                f"{self.ip}: was not banned")
        return "; ".join([text] + self.notes)


def unban(cfg: Config, store: Store, ip: str, *, reason: str) -> UnbanResult:
    """Lift ``ip`` from fsguard's jails, the kernel ban set and the evidence rows.

    ``ip`` must already be canonical (the adapters validate it). fail2ban's own unban runs
    fsguard's action (kernel set + evidence); the kernel set and the rows are then checked and
    closed here too, so a ban fail2ban has forgotten (restart, expiry race) is lifted all the same."""
    from fsguard import evidence
    from fsguard.cluster import hooks as cluster_hooks

    res = UnbanResult("unban", ip=ip)
    firewall_on = settings.F2B_FIREWALL.get(cfg)  # a bad value fails before anything is touched
    netns = _netns(cfg)
    try:
        client = _client(cfg)
        for jail in sorted(client.jails()):
            if jail.startswith("fsguard") and client.is_banned(jail, ip):
                client.unban(jail, ip)
                res.jails.append(jail)
    except Exception as exc:
        res.notes.append(f"fail2ban: {exc}")
    if firewall_on:
        try:
            from fsguard.firewall import bans

            if bans.is_banned(cfg, ip, netns=netns):
                bans.del_ban(cfg, ip, netns=netns)
                res.kernel = True
            # an IPv6 address may also sit in an escalated /64 ban: the operator's unban lifts it
            from fsguard.firewall import escalate

            net = escalate.prefix_banned(cfg, ip, netns=netns)
            if net is not None:
                escalate.lift(cfg, ip, netns=netns)
                res.kernel = True
                res.notes.append(f"lifted the /64 ban {net}")
        except Exception as exc:
            res.notes.append(f"kernel set: {exc}")
            res.ok = False
    res.rows = evidence.record_unban(store, ip=ip, jail=None, reason=reason)
    cluster_hooks.unbanned(cfg, ip, None, reason)  # cluster: an operator's unban lifts it on every node
    return res
