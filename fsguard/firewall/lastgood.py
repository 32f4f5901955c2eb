"""The last good ruleset, re-validated before root commits it again.

``last-good.json`` is data: root re-applies it when a build fails, so it gets the checks fresh
input gets. Every text that reaches an nft/ipset script (rule comments, set names, flag masks,
protocols) must be one fsguard's own builder produces, every number in range, and no accept set
(admin whitelist, carriers) may hold a network broader than the allow floor: a file saying
``allow4 = 0.0.0.0/0`` is refused, never loaded. The file itself must be root's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fs_python.whitelist import FLOOR
from fsguard import safefs
from fsguard.firewall import FirewallError
from fsguard.firewall.backend import DYNAMIC_SETS
from fsguard.firewall.ruleset import SANITY, NetSet, Rule, Ruleset

MAX_FILE = 256 << 20
KINDS = {"sanity", "newnosyn", "mgmt", "ban", "accept", "drop", "registered", "country", "carrier"}
SET_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
COMMENT = re.compile(r"[A-Za-z0-9 ()/,._+-]{0,80}")
FLAGS = {m for m, _, _ in SANITY} | {c for _, c, _ in SANITY} | {""}
PROTOCOLS = {"udp", "tcp", "sctp"}
ACCEPT_SETS = re.compile(r"(?:allow|allownet|carrier|carriernet)[46]")


def _port(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 < v < 65536:
        raise ValueError(f"port {str(v)[:20]!r}")
    return v


def _ports(v: object) -> list[int]:
    if not isinstance(v, list):
        raise ValueError("port list is not a list")
    return [_port(p) for p in v]


def _set(key: str, v: Any) -> NetSet:
    if not SET_NAME.fullmatch(key) or not isinstance(v, dict) or v.get("name") != key:
        raise ValueError(f"set {key[:40]!r}")
    fam = v.get("family")
    if fam not in (4, 6) or not isinstance(v.get("interval"), bool):
        raise ValueError(f"set {key}: family/interval")
    fam = int(fam)
    bits = 32 if fam == 4 else 128
    hosts = v.get("hosts")
    nets = v.get("nets")
    if not isinstance(hosts, list) or not isinstance(nets, list):
        raise ValueError(f"set {key}: hosts/nets")
    top = 1 << bits
    if any(not isinstance(h, int) or isinstance(h, bool) or not 0 <= h < top for h in hosts):
        raise ValueError(f"set {key}: an address out of range")
    out: list[tuple[int, int]] = []
    floor = FLOOR[fam] if ACCEPT_SETS.fullmatch(key) else 0
    for n in nets:
        if not (isinstance(n, list) and len(n) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in n)):
            raise ValueError(f"set {key}: a network is not [address, prefix]")
        addr, plen = n
        if not floor <= plen <= bits or not 0 <= addr < top or addr & ((1 << (bits - plen)) - 1):
            raise ValueError(f"set {key}: network {addr}/{plen} refused" + (
                f" (an accept set never holds a network broader than /{floor})" if plen < floor else ""))
        out.append((addr, plen))
    return NetSet(key, fam, v["interval"], list(hosts), out)


def _rule(v: Any, sets: dict[str, NetSet]) -> Rule:
    if not isinstance(v, dict) or set(v) - {"kind", "family", "set_name", "comment", "mask", "comp"}:
        raise ValueError("a rule has unknown fields")
    r = Rule(**v)
    if r.kind not in KINDS or r.family not in (None, 4, 6):
        raise ValueError(f"rule kind {str(r.kind)[:20]!r}")
    if not isinstance(r.comment, str) or not COMMENT.fullmatch(r.comment):
        raise ValueError(f"rule comment {str(r.comment)[:40]!r} is not one fsguard writes")
    if r.mask not in FLAGS or r.comp not in FLAGS:
        raise ValueError("rule flags")
    if r.set_name and r.set_name not in sets and r.set_name not in DYNAMIC_SETS:
        raise ValueError(f"rule names set {str(r.set_name)[:40]!r}, which the file does not define")
    return r


def validate(d: Any) -> Ruleset:
    if not isinstance(d, dict):
        raise ValueError("not an object")
    sets_in = d.get("sets")
    if not isinstance(sets_in, dict):
        raise ValueError("sets")
    sets = {k: _set(k, v) for k, v in sets_in.items()}
    protocols = d.get("protocols")
    if not isinstance(protocols, list) or not protocols or set(protocols) - PROTOCOLS:
        raise ValueError("protocols")
    prio = d.get("priority")
    if not isinstance(prio, int) or not -1000 <= prio <= 1000:
        raise ValueError("priority")
    protected = d.get("protected_ports")
    warnings = d.get("warnings", [])
    if not isinstance(warnings, list):
        raise ValueError("warnings")
    return Ruleset(None if protected is None else _ports(protected), list(protocols), _ports(d.get("country_ports")),
                   _ports(d.get("carrier_ports")), _ports(d.get("management_ports")), prio, sets,
                   [_rule(r, sets) for r in d.get("input_rules") or []],
                   [_rule(r, sets) for r in d.get("sip_rules") or []],
                   [str(w)[:300] for w in warnings], _ports(d.get("nosyn_ports", [])))


def load(path: Path) -> Ruleset:
    """The last good ruleset, or FirewallError saying why it is refused."""
    try:
        return validate(json.loads(safefs.read_file(path, MAX_FILE, owner_root=True)))
    except (OSError, ValueError, TypeError) as exc:
        raise FirewallError(f"no usable last good ruleset ({path}): {exc}") from None
