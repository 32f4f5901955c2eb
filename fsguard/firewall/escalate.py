"""IPv6 escalation: after N banned addresses inside one /64, ban the whole /64 (issue 11).

An IPv6 attacker normally holds at least a /64 and can rotate through it, so per-address bans
alone never stop it. fail2ban's fsguard action calls :func:`after_ban` right after each ban: when
``[firewall] ipv6_prefix_ban_after`` (default 3; 0 = never) addresses of the banned address's /64
are in the kernel ban set, the /64 goes into ``ban6net`` for the jail's ban time (plus the usual
``ban_grace``; a longer time already there is kept). Never when the /64 holds a whitelisted
address: an admin allow entry or carrier overlapping it (``whitelist.json``), a live registration
inside it (``registrations.json``) or an address of ``[fail2ban] ignoreip``.

fail2ban does not know the /64: its own unbans lift single addresses only, and the /64 leaves the
kernel by its timeout (or :func:`lift`, for an operator's unban).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from typing import TYPE_CHECKING

from fs_python import whitelist
from fsguard import settings
from fsguard.firewall import FirewallError, registry
from fsguard.firewall.backend import BAN_PREFIX6
from fsguard.firewall.bans import kernel_seconds, parse_ip

if TYPE_CHECKING:
    from fs_python.config import Config

log = logging.getLogger("fsguard.firewall")


def threshold(cfg: Config) -> int:
    from fsguard import settings

    return max(0, settings.FIREWALL_IPV6_PREFIX_BAN_AFTER.get(cfg))


def prefix_of(ip: str) -> ipaddress.IPv6Network | None:
    addr = parse_ip(ip)
    if addr.version != 6:
        return None
    return ipaddress.IPv6Network(f"{addr}/{BAN_PREFIX6}", strict=False)


def _key(text: str) -> str:
    return text.split("/", 1)[0]


def shielded(cfg: Config, net: ipaddress.IPv6Network, now: float | None = None) -> list[str]:
    """Why ``net`` must never be banned as a whole (empty: it may be)."""
    now = time.time() if now is None else now
    out: list[str] = []
    state = cfg.state_dir
    try:
        # FreeSWITCH's file: untrusted (no symlink, size cap); each row validated below
        doc = whitelist.read_json(cfg.fs_dir / whitelist.REGISTRATIONS_FILE)
        regs = doc.get("registrations", []) if isinstance(doc, dict) else []
    except (OSError, ValueError, AttributeError):
        regs = []
    from fsguard.cluster import hooks as cluster_hooks

    regs = (list(regs) if isinstance(regs, list) else []) + cluster_hooks.service_registrations(cfg)  # other nodes
    for row in regs:
        try:
            addr = ipaddress.ip_address(str(row.get("ip", "")))
            live = float(row.get("expires", 0) or 0) > now
        except (ValueError, TypeError, AttributeError):
            continue
        if live and addr in net:
            out.append(f"registered address {addr}")
    try:
        entries = json.loads((state / "whitelist.json").read_text(encoding="utf-8")).get("entries", [])
    except (OSError, ValueError, AttributeError):
        entries = []
    ignore = settings.F2B_IGNOREIP.get(cfg)
    for text in [str(e.get("cidr", "")) for e in entries if isinstance(e, dict)] + list(ignore):
        try:
            other = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            continue
        if isinstance(other, ipaddress.IPv6Network) and other.overlaps(net):
            out.append(f"whitelisted {other}")
    return out


def after_ban(cfg: Config, ip: str, seconds: int | None, *, netns: str | None = None) -> str | None:
    """Called after ``ip`` was banned: ban its /64 when due. Returns the /64 banned, else None.
    Never raises (a failed escalation must not fail the address's own ban); failures are logged."""
    try:
        n = threshold(cfg)
        net = prefix_of(ip)
        if not n or net is None:
            return None
        backend = registry.get(cfg)
        banned = backend.elements("ban6", netns) or {}
        inside = sum(1 for t in banned if ipaddress.ip_address(_key(t)) in net)
        if inside < n:
            return None
        why = shielded(cfg, net)
        if why:
            log.warning("fsguard: %d banned addresses in %s, not banning the /64: %s", inside, net, why[0])
            return None
        secs = kernel_seconds(cfg, seconds)
        have = {_key(k): v for k, v in (backend.elements("ban6net", netns) or {}).items()}
        key = str(net.network_address)
        left = have.get(key, 0)
        if key in have and (left is None or (secs is not None and left >= secs)):
            return str(net)  # already banned at least as long
        backend.add("ban6net", net, secs, netns)
        log.warning("fsguard: %d banned addresses in %s: banned the /64 for %s", inside, net,
                    f"{secs} s" if secs else "ever")
        return str(net)
    except (FirewallError, OSError, ValueError) as exc:
        log.error("fsguard: IPv6 /64 escalation after banning %s failed: %s", ip, exc)
        return None


def prefix_banned(cfg: Config, ip: str, *, netns: str | None = None) -> str | None:
    """The banned /64 holding ``ip``, or None."""
    net = prefix_of(ip)
    if net is None or not registry.get(cfg).test("ban6net", net, netns):
        return None
    return str(net)


def lift(cfg: Config, ip: str, *, netns: str | None = None) -> None:
    """Lift the /64 ban holding ``ip`` (an operator's unban); absent is not an error."""
    net = prefix_of(ip)
    if net is not None:
        registry.get(cfg).delete("ban6net", net, netns)
