"""nftables backend: fsguard's own ``inet fsguard`` table, replaced in one ``nft -f`` transaction.

The script first makes sure the table and the dynamic sets exist (``add`` is idempotent), flushes
the table's rules, deletes fsguard's other chains and sets and defines them anew: the kernel
applies all of it or nothing, and the dynamic sets (bans, registered accepts) keep their elements.
``nft -c`` checks the script first. Nothing outside table ``inet fsguard`` is ever touched.

Single elements (bans, registrations) go straight to the kernel over netlink (:mod:`nftnl`,
~2 ms even next to a 200k interval set, where ``nft add element`` costs seconds with nftables
1.0.6) and fall back to the ``nft`` command only when that path fails for an unexpected reason.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
from pathlib import Path
from typing import Any

from fsguard.firewall import NFT_TABLE, FirewallError, nftnl, run
from fsguard.firewall.backend import DYNAMIC_SETS, Backend, Element, write_state
from fsguard.firewall.ruleset import NetSet, Rule, Ruleset

T = f"inet {NFT_TABLE}"
FLAGS = {"FIN": "fin", "SYN": "syn", "RST": "rst", "PSH": "psh", "ACK": "ack", "URG": "urg"}
ALL = "FIN,SYN,RST,PSH,ACK,URG"


def _flags(spec: str) -> str:
    if spec == "NONE":
        return "0x0"
    names = ALL if spec == "ALL" else spec
    return "|".join(FLAGS[f] for f in names.split(","))


def _elements(s: NetSet, sample: int | None = None) -> str:
    af = socket.AF_INET if s.family == 4 else socket.AF_INET6
    n = 4 if s.family == 4 else 16
    ntop = socket.inet_ntop
    items = [ntop(af, h.to_bytes(n, "big")) for h in s.hosts[:sample]]
    items += [f"{ntop(af, net.to_bytes(n, 'big'))}/{p}" for net, p in s.nets[:sample]]
    return ",".join(items)


def _set_def(s: NetSet, sample: int | None = None) -> str:
    typ = "ipv4_addr" if s.family == 4 else "ipv6_addr"
    flags = " flags interval;" if s.interval else ""
    if not s.interval and len(s):
        # a size lets the kernel pick its fixed-size hash (nft_hash_fast for IPv4) over the
        # resizable rhashtable: a cheaper lookup on every packet to the SIP ports
        size = 1024
        while size < 2 * len(s):
            size *= 2
        flags = f" size {size};"
    body = _elements(s, sample)
    elems = f" elements = {{ {body} }}" if body else ""
    return f"\tset {s.name} {{ type {typ};{flags}{elems} }}\n"


def _portset(ports: list[int]) -> str:
    return "{ " + ", ".join(str(p) for p in ports) + " }"


def _saddr(fam: int | None) -> str:
    return "ip saddr" if fam == 4 else "ip6 saddr"


# ban6net is a plain hash of /64 prefixes (the source masked, then one hash lookup): an interval
# set would bring back nft's per-element cost, and every key has the same length anyway
MASK64 = "ffff:ffff:ffff:ffff::"
DYNAMIC_DEFS = "".join(
    f"add set {T} {n} {{ type {'ipv4_addr' if f == 4 else 'ipv6_addr'}; flags timeout; }}\n"
    for n, (f, _) in DYNAMIC_SETS.items())


def _rule(r: Rule, rs: Ruleset) -> list[str]:
    c = f'comment "fsguard: {r.comment}"'
    protos = "{ " + ", ".join(rs.protocols) + " }"
    if r.kind == "sanity":
        mask = _flags(r.mask)
        return [f"tcp flags & ({mask}) == {_flags(r.comp)} counter drop {c}"]
    if r.kind == "newnosyn":
        if not rs.nosyn_ports:  # only the SIP ports (see ruleset.py): never a session elsewhere
            return []
        return [f"tcp dport {_portset(rs.nosyn_ports)} tcp flags & (fin|syn|rst|ack) != syn "
                f"ct state new counter drop {c}"]
    if r.kind == "mgmt":
        # one rule sends protected traffic to its family's chain (a single verdict-map lookup, so
        # an IPv4 packet never walks the IPv6 rules)
        dispatch = "meta nfproto vmap { ipv4 : jump sip4, ipv6 : jump sip6 }"
        if rs.protected_ports is None:
            return [f"tcp dport {_portset(rs.management_ports)} counter return {c}",
                    f'meta l4proto {protos} counter {dispatch} comment "fsguard: protected (all ports)"']
        # management ports are never among the protected ones (checked when building)
        return [f"meta l4proto {protos} th dport {_portset(rs.protected_ports)} counter {dispatch} "
                'comment "fsguard: protected ports"']
    if r.kind == "ban":
        mask = f" & {MASK64}" if DYNAMIC_SETS[r.set_name][1] else ""
        return [f"{_saddr(r.family)}{mask} @{r.set_name} counter drop {c}"]
    if r.kind == "registered":
        return [f"{_saddr(r.family)} @{r.set_name} counter accept {c}"]
    if r.kind in ("accept", "drop"):
        if not len(rs.sets[r.set_name]):
            return []  # an empty set matches nothing; keep the per-packet path short
        if prefilter_index(rs.sets[r.set_name]) is not None:
            mask = "255.255.0.0" if r.family == 4 else "ffff:ffff::"
            return [f"{_saddr(r.family)} & {mask} @{r.set_name}_idx counter jump {r.set_name}_chk "
                    f'comment "fsguard: {r.comment} (prefilter)"']
        return [f"{_saddr(r.family)} @{r.set_name} counter {r.kind} {c}"]
    if r.kind == "country":
        ports = _portset(rs.country_ports)
        if country_index(rs.sets[r.set_name]) is not None:
            # /16s with no allowed range drop on one hash lookup; /16s wholly inside the allowed
            # countries stop the second rule at its hash lookup; only the rest walk the rbtree
            return [f"th dport {ports} ip saddr & 255.255.0.0 @{r.set_name}_none counter drop {c}",
                    f"th dport {ports} ip saddr & 255.255.0.0 != @{r.set_name}_full ip saddr != @{r.set_name} "
                    f"counter drop {c}"]
        return [f"th dport {ports} {_saddr(r.family)} != @{r.set_name} counter drop {c}"]
    if r.kind == "carrier":
        return [f"th dport {_portset(rs.carrier_ports)} counter drop {c}"]
    raise FirewallError(f"unknown rule kind {r.kind}")


# An interval (rbtree) lookup costs several % of UDP throughput per rule (measured: a 3k-network
# feed set ~7%); a hash lookup ~1%. So an interval set's rule first asks a hash set of the /16
# (IPv6: /32) prefixes its networks touch, and only a source inside one of those walks the rbtree.
INDEX_BITS = {4: 16, 6: 32}
MAX_INDEX = 65536


def prefilter_index(s: NetSet) -> list[int] | None:
    """The masked prefixes of an interval set's networks, or None (not an interval set, empty,
    or too broad to index: then the plain rule is used)."""
    if not s.interval or not s.nets:
        return None
    bits = 32 if s.family == 4 else 128
    keep = INDEX_BITS[s.family]
    shift = bits - keep
    out: set[int] = set()
    for net, plen in s.nets:
        first = net >> shift
        count = 1 << (keep - plen) if plen < keep else 1
        if len(out) + count > MAX_INDEX:
            return None
        out.update(range(first, first + count))
    return sorted(v << shift for v in out)


def country_index(s: NetSet) -> tuple[list[int], list[int]] | None:
    """IPv4 country set -> (/16s wholly inside it, /16s it does not touch at all)."""
    if s.family != 4 or not s.interval or not s.nets:
        return None
    touched: set[int] = set()
    full: set[int] = set()
    for net, plen in s.nets:
        first = net >> 16
        if plen <= 16:  # merged ranges become maximal CIDRs: a covered /16 shows up as one
            block = range(first, first + (1 << (16 - plen)))
            full.update(block)
            touched.update(block)
        else:
            touched.add(first)
    return sorted(v << 16 for v in full), [v << 16 for v in range(1 << 16) if v not in touched]


def _prefilter_defs(rs: Ruleset, sample: int | None) -> list[str]:
    out = []
    for r in rs.sip_rules:
        if r.kind == "country":
            ci = country_index(rs.sets[r.set_name])
            if ci is not None:
                out.append(_set_def(NetSet(f"{r.set_name}_full", 4, False, hosts=ci[0]), sample))
                out.append(_set_def(NetSet(f"{r.set_name}_none", 4, False, hosts=ci[1]), sample))
    for r in rs.sip_rules:
        if r.kind not in ("accept", "drop") or not len(rs.sets[r.set_name]):
            continue
        s = rs.sets[r.set_name]
        idx = prefilter_index(s)
        if idx is None:
            continue
        out.append(_set_def(NetSet(f"{s.name}_idx", s.family, False, hosts=idx), sample))
        out.append(f"\tchain {s.name}_chk {{\n\t\t{_saddr(s.family)} @{s.name} counter {r.kind} "
                   f'comment "fsguard: {r.comment}"\n\t}}\n')
    return out


def render(rs: Ruleset, existing: dict[str, list[str]] | None = None, *, sample: int | None = None) -> str:
    """The whole ``nft -f`` script. ``existing``: {"chains": [...], "sets": [...]} now in the table."""
    existing = existing or {"chains": [], "sets": []}
    out = [f"add table {T}\n", DYNAMIC_DEFS, f"flush table {T}\n"]
    out += [f"delete chain {T} {c}\n" for c in existing.get("chains", [])]
    out += [f"delete set {T} {s}\n" for s in existing.get("sets", []) if s not in DYNAMIC_SETS]
    out.append(f"table {T} {{\n")
    out += [_set_def(s, sample) for s in rs.sets.values()]
    out += _prefilter_defs(rs, sample)
    out.append(f"\tchain input {{\n\t\ttype filter hook input priority {rs.priority}; policy accept;\n")
    out.append('\t\tiif "lo" counter return comment "fsguard: loopback"\n')
    # the TCP sanity rules sit behind one jump: UDP (most SIP) never walks them
    out.append('\t\tmeta l4proto tcp counter jump tcpcheck comment "fsguard: tcp sanity"\n')
    for r in rs.input_rules:
        if r.kind not in ("sanity", "newnosyn"):
            out += [f"\t\t{line}\n" for line in _rule(r, rs)]
    out.append("\t}\n\tchain tcpcheck {\n")
    for r in rs.input_rules:
        if r.kind in ("sanity", "newnosyn"):
            out += [f"\t\t{line}\n" for line in _rule(r, rs)]
    for fam in (4, 6):
        out.append(f"\t}}\n\tchain sip{fam} {{\n")
        for r in rs.sip_rules:
            if r.family in (None, fam):
                out += [f"\t\t{line}\n" for line in _rule(r, rs)]
    out.append("\t}\n}\n")
    return "".join(out)


def _list(kind: str, netns: str | None) -> list[dict[str, Any]]:
    # "list chains"/"list sets" (not "list table") never fetch set elements: ~5 ms instead of ~1 s
    # with a 200k-element set loaded (measured).
    proc = run(["nft", "-j", "-t", "list", kind, "inet"], netns=netns, check=False)
    if proc.returncode != 0:
        return []
    try:
        return [i for i in json.loads(proc.stdout).get("nftables", []) if isinstance(i, dict)]
    except ValueError:
        raise FirewallError("nft -j: unreadable output") from None


def existing_objects(netns: str | None) -> dict[str, list[str]]:
    """fsguard's chains and sets now loaded (names only)."""
    chains = [i["chain"]["name"] for i in _list("chains", netns)
              if "chain" in i and i["chain"].get("table") == NFT_TABLE]
    sets = [i["set"]["name"] for i in _list("sets", netns) if "set" in i and i["set"].get("table") == NFT_TABLE]
    return {"chains": chains, "sets": sets}


def load(script: str, netns: str | None, *, check_script: str | None = None) -> None:
    """``nft -c`` then ``nft -f``; the kernel applies the whole transaction or none of it.

    ``check_script`` is the same script with each set's elements cut to a sample: every rule and
    set definition is checked, while the check does not cost as much as a second full load (the
    elements are rendered from integers, so their syntax cannot vary; ``nft -f`` is atomic anyway).
    """
    run(["nft", "-c", "-f", "-"], netns=netns, stdin=check_script or script, timeout=300)
    run(["nft", "-f", "-"], netns=netns, stdin=script, timeout=300)


def remove(netns: str | None) -> bool:
    proc = run(["nft", "delete", "table", "inet", NFT_TABLE], netns=netns, check=False)
    return proc.returncode == 0


def counters(netns: str | None) -> list[dict[str, Any]]:
    """Per-rule packet/byte counters of fsguard's chains (set elements are not listed)."""
    proc = run(["nft", "-j", "-t", "list", "table", "inet", NFT_TABLE], netns=netns, check=False)
    if proc.returncode != 0:
        return []
    out = []
    for item in json.loads(proc.stdout).get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        comment, packets, nbytes = rule.get("comment", ""), 0, 0
        for expr in rule.get("expr", []):
            if "counter" in expr and isinstance(expr["counter"], dict):
                packets, nbytes = expr["counter"].get("packets", 0), expr["counter"].get("bytes", 0)
        out.append({"chain": rule.get("chain"), "rule": comment, "packets": packets, "bytes": nbytes})
    return out


# -- the backend ---------------------------------------------------------------------------------
def _key(elem: Element) -> bytes:
    return elem.network_address.packed if isinstance(elem, ipaddress.IPv6Network) else elem.packed


def _text(elem: Element) -> str:
    return str(elem.network_address) if isinstance(elem, ipaddress.IPv6Network) else str(elem)


class NftBackend(Backend):
    name, tools = "nftables", ("nft",)

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        existing = existing_objects(netns)
        script = render(rs, existing)
        write_state(state / "rendered.nft", script)
        load(script, netns, check_script=render(rs, existing, sample=500))

    def render(self, rs: Ruleset) -> str:
        return render(rs)

    def verify(self, netns: str | None) -> bool:
        return {"input", "sip4", "sip6"} <= set(existing_objects(netns)["chains"])

    def remove(self, netns: str | None) -> bool:
        return remove(netns)

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return counters(netns)

    def ensure_sets(self, netns: str | None) -> None:
        run(["nft", "-f", "-"], netns=netns, stdin=f"add table {T}\n" + DYNAMIC_DEFS)

    def add(self, set_name: str, elem: Element, seconds: int | None, netns: str | None,
            *, create: bool = True) -> bool:
        key, ms = _key(elem), seconds * 1000 if seconds else None
        try:
            try:
                nftnl.setelem("add", NFT_TABLE, set_name, key, timeout_ms=ms, netns=netns)
            except nftnl.NetlinkError as exc:
                if exc.errno == errno.EEXIST:  # present: the new duration counts
                    nftnl.setelem("replace", NFT_TABLE, set_name, key, timeout_ms=ms, netns=netns)
                elif exc.errno == errno.ENOENT:  # ruleset not loaded yet
                    if not create:
                        return False
                    self.ensure_sets(netns)
                    nftnl.setelem("add", NFT_TABLE, set_name, key, timeout_ms=ms, netns=netns)
                else:
                    raise
            return True
        except nftnl.NetlinkError:
            pass  # the nft command below: slow next to big interval sets, but correct
        el = f"{{ {_text(elem)}{f' timeout {seconds}s' if seconds else ''} }}"
        argv = ["nft", "add", "element", "inet", NFT_TABLE, set_name, el]
        proc = run(argv, netns=netns, check=False)
        if proc.returncode == 0:
            return True
        if "No such file or directory" in proc.stderr:
            if not create:
                return False
            self.ensure_sets(netns)
            run(argv, netns=netns)
            return True
        if "File exists" in proc.stderr:  # replace: delete + add in one transaction
            run(["nft", "-f", "-"], netns=netns, stdin=(
                f"delete element {T} {set_name} {{ {_text(elem)} }}\nadd element {T} {set_name} {el}\n"))
            return True
        raise FirewallError(f"nft add element: {proc.stderr.strip()[:300]}")

    def delete(self, set_name: str, elem: Element, netns: str | None) -> None:
        try:
            nftnl.setelem("delete", NFT_TABLE, set_name, _key(elem), netns=netns)
            return
        except nftnl.NetlinkError as exc:
            if exc.errno == errno.ENOENT:
                return  # not there (or no such set): nothing to lift
        proc = run(["nft", "delete", "element", "inet", NFT_TABLE, set_name, f"{{ {_text(elem)} }}"],
                   netns=netns, check=False)
        if proc.returncode != 0 and "No such file or directory" not in proc.stderr:
            raise FirewallError(f"nft delete element: {proc.stderr.strip()[:300]}")

    def test(self, set_name: str, elem: Element, netns: str | None) -> bool:
        try:
            return nftnl.has_element(NFT_TABLE, set_name, _key(elem), netns=netns)
        except nftnl.NetlinkError:
            pass
        proc = run(["nft", "get", "element", "inet", NFT_TABLE, set_name, f"{{ {_text(elem)} }}"],
                   netns=netns, check=False)
        return proc.returncode == 0

    def elements(self, set_name: str, netns: str | None) -> dict[str, int | None] | None:
        proc = run(["nft", "-j", "list", "set", "inet", NFT_TABLE, set_name], netns=netns, check=False)
        if proc.returncode != 0:
            return None
        out: dict[str, int | None] = {}
        try:
            for item in json.loads(proc.stdout).get("nftables", []):
                for e in (item.get("set") or {}).get("elem", []):
                    if isinstance(e, dict) and "elem" in e:
                        out[str(e["elem"]["val"])] = int(e["elem"].get("expires", 0)) or None
                    else:
                        out[str(e)] = None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise FirewallError("nft -j list set: unreadable output") from None
        return out

