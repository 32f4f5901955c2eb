"""ipset + iptables backend (the seed's setup): ``ipset restore`` into new sets, ``swap``, and
fsguard's own chains ``FSGUARD`` / ``FSGUARD-SIP`` loaded with ``iptables-restore --noflush``.

Order of a commit, so a failure at any step leaves the previous state in force:
1. ``ipset restore`` creates ``<set>-n`` sets with the new contents (live sets untouched);
2. ``iptables-restore --test`` / ``ip6tables-restore --test`` check the chains;
3. ``ipset swap`` each new set with the live one (atomic per set);
4. ``iptables-restore --noflush`` replaces fsguard's two chains in one commit, adding the single
   ``-j FSGUARD`` jump at the top of INPUT only if it is missing; on failure the sets are swapped
   back; 5. the old contents (now in ``<set>-n``) are destroyed.
Whitelist "accept" is ``RETURN`` here: an ACCEPT inside our chain would also skip the operator's
own INPUT rules, which fsguard must never override.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from fsguard.firewall import FirewallError, run
from fsguard.firewall.backend import DYNAMIC_SETS, Backend, Element, write_state
from fsguard.firewall.nft import INDEX_BITS, prefilter_index
from fsguard.firewall.ruleset import NetSet, Rule, Ruleset

CHAIN, SIP, TCP = "FSGUARD", "FSGUARD-SIP", "FSGUARD-TCP"
PREFIX = "fsguard-"


def set_name(logical: str) -> str:
    return PREFIX + logical


def _ipset_lines(s: NetSet, existing: set[str]) -> list[str]:
    name = set_name(s.name) + "-n"
    fam = "inet" if s.family == 4 else "inet6"
    typ = "hash:net" if s.interval else "hash:ip"
    n = len(s)
    hashsize = 1024
    while hashsize < n // 2:
        hashsize *= 2
    maxelem = max(65536, 2 * n)
    out = [f"create {name} {typ} family {fam} hashsize {hashsize} maxelem {maxelem}"]
    if set_name(s.name) not in existing:  # the live set, empty until the swap
        out.append(f"create {set_name(s.name)} {typ} family {fam} hashsize 1024 maxelem {maxelem}")
    af = socket.AF_INET if s.family == 4 else socket.AF_INET6
    size = 4 if s.family == 4 else 16
    ntop = socket.inet_ntop
    pre = f"add {name} "
    out += [pre + ntop(af, h.to_bytes(size, "big")) for h in s.hosts]
    out += [f"{pre}{ntop(af, net.to_bytes(size, 'big'))}/{p}" for net, p in s.nets]
    return out


def ipset_ensure_sets(netns: str | None) -> None:
    """The dynamic sets (bans, registered accepts): created once, never swapped, so their
    elements survive every reload. ``timeout 0``: entries may carry a timeout, or none."""
    script = "".join(
        f"create {set_name(n)} {'hash:net' if nets else 'hash:ip'} family {'inet' if f == 4 else 'inet6'} "
        f"timeout 0\n" for n, (f, nets) in DYNAMIC_SETS.items())
    run(["ipset", "-exist", "restore"], netns=netns, stdin=script)


def existing_sets(netns: str | None) -> set[str]:
    return set(run(["ipset", "list", "-n"], netns=netns, check=False).stdout.split())


def _drop_prefilters(rs: Ruleset) -> dict[str, NetSet]:
    """Interval sets behind a drop rule that get a /16 (IPv6 /32) index set, as in nft.py: a
    hash:net lookup costs one hash probe per distinct prefix length in the set; the index has one
    prefix length, so most packets skip the real set. (Accept rules cannot use it: a RETURN from
    a sub-chain would not leave FSGUARD-SIP.)"""
    out = {}
    for r in rs.sip_rules:
        if r.kind != "drop" or not len(rs.sets[r.set_name]):
            continue
        s = rs.sets[r.set_name]
        idx = prefilter_index(s)
        if idx is not None:
            out[s.name] = NetSet(f"{s.name}-i", s.family, True, nets=[(v, INDEX_BITS[s.family]) for v in idx])
    return out


def all_sets(rs: Ruleset) -> list[NetSet]:
    return list(rs.sets.values()) + list(_drop_prefilters(rs).values())


def render_ipset(rs: Ruleset, existing: set[str] | None = None) -> str:
    lines: list[str] = []
    for s in all_sets(rs):
        lines += _ipset_lines(s, existing or set())
    return "\n".join(lines) + "\n"


def _mp(ports: list[int]) -> str:
    return ",".join(str(p) for p in ports)


def _rule(r: Rule, rs: Ruleset, fam: int) -> list[str]:
    c = f'-m comment --comment "fsguard: {r.comment}"'
    if r.family not in (None, fam):
        return []
    if r.kind == "sanity":
        return [f"-A {TCP} -p tcp --tcp-flags {r.mask} {r.comp} {c} -j DROP"]
    if r.kind == "newnosyn":
        if not rs.nosyn_ports:  # only the SIP ports (see ruleset.py): never a session elsewhere
            return []
        return [f"-A {TCP} -p tcp -m multiport --dports {_mp(rs.nosyn_ports)} ! --syn "
                f"-m conntrack --ctstate NEW {c} -j DROP"]
    if r.kind == "mgmt":
        out = []
        if rs.protected_ports is None:
            out.append(f"-A {CHAIN} -p tcp -m multiport --dports {_mp(rs.management_ports)} {c} -j RETURN")
        for proto in rs.protocols:
            if rs.protected_ports is None:
                out.append(f'-A {CHAIN} -p {proto} -m comment --comment "fsguard: protected (all)" -j {SIP}')
            else:
                out.append(f"-A {CHAIN} -p {proto} -m multiport --dports {_mp(rs.protected_ports)} "
                           f'-m comment --comment "fsguard: protected ports" -j {SIP}')
        return out
    if r.kind == "ban":
        return [f"-A {SIP} -m set --match-set {set_name(r.set_name)} src {c} -j DROP"]
    if r.kind == "registered":
        return [f"-A {SIP} -m set --match-set {set_name(r.set_name)} src {c} -j RETURN"]
    if r.kind in ("accept", "drop"):
        if not len(rs.sets[r.set_name]):
            return []
        verdict = "RETURN" if r.kind == "accept" else "DROP"
        if r.kind == "drop" and r.set_name in _drop_prefilters(rs):
            chain = f"FSG-{r.set_name}"
            return [f"-A {SIP} -m set --match-set {set_name(r.set_name)}-i src "
                    f'-m comment --comment "fsguard: {r.comment} (prefilter)" -j {chain}',
                    f"-A {chain} -m set --match-set {set_name(r.set_name)} src {c} -j DROP"]
        return [f"-A {SIP} -m set --match-set {set_name(r.set_name)} src {c} -j {verdict}"]
    if r.kind == "country":
        return [f"-A {SIP} -p {p} -m multiport --dports {_mp(rs.country_ports)} "
                f"-m set ! --match-set {set_name(r.set_name)} src {c} -j DROP" for p in rs.protocols]
    if r.kind == "carrier":
        return [f"-A {SIP} -p {p} -m multiport --dports {_mp(rs.carrier_ports)} {c} -j DROP"
                for p in rs.protocols]
    raise FirewallError(f"unknown rule kind {r.kind}")


def render_rules(rs: Ruleset, fam: int, *, add_jump: bool) -> str:
    out = ["*filter", f":{CHAIN} - [0:0]", f":{SIP} - [0:0]", f":{TCP} - [0:0]"]
    out += [f":FSG-{name} - [0:0]" for name, s in _drop_prefilters(rs).items() if s.family == fam]
    if add_jump:
        out.append(f"-I INPUT 1 -j {CHAIN}")
    out.append(f'-A {CHAIN} -i lo -m comment --comment "fsguard: loopback" -j RETURN')
    # the TCP sanity rules sit behind one jump: UDP (most SIP) never walks them
    out.append(f'-A {CHAIN} -p tcp -m comment --comment "fsguard: tcp sanity" -j {TCP}')
    for r in rs.input_rules:
        out += _rule(r, rs, fam)
    for r in rs.sip_rules:
        out += _rule(r, rs, fam)
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def _tool(fam: int, suffix: str = "") -> str:
    return ("iptables" if fam == 4 else "ip6tables") + suffix


def has_jump(fam: int, netns: str | None) -> bool:
    return run([_tool(fam), "-w", "-C", "INPUT", "-j", CHAIN], netns=netns, check=False).returncode == 0


def _swap_all(rs: Ruleset, netns: str | None) -> None:
    script = "".join(f"swap {set_name(s.name)}-n {set_name(s.name)}\n" for s in all_sets(rs))
    run(["ipset", "restore"], netns=netns, stdin=script)


def _destroy_new(rs: Ruleset, netns: str | None, existing: set[str] | None = None) -> None:
    have = existing_sets(netns) if existing is None else existing
    script = "".join(f"destroy {set_name(s.name)}-n\n" for s in all_sets(rs) if set_name(s.name) + "-n" in have)
    if script:
        run(["ipset", "restore"], netns=netns, stdin=script, check=False)


def load(rs: Ruleset, netns: str | None, *, ipset_text: str | None = None,
         rules_text: dict[int, str] | None = None) -> dict[int, str]:
    """Commit ``rs``; returns the iptables-restore texts used. Raises FirewallError, old state kept."""
    ipset_ensure_sets(netns)  # ban sets: created once, never swapped (fail2ban's bans survive)
    have = existing_sets(netns)
    _destroy_new(rs, netns, have)  # leftovers of an interrupted run
    try:
        run(["ipset", "-exist", "restore"], netns=netns, stdin=ipset_text or render_ipset(rs, have), timeout=300)
        texts = rules_text or {fam: render_rules(rs, fam, add_jump=not has_jump(fam, netns)) for fam in (4, 6)}
        for fam in (4, 6):
            run([_tool(fam, "-restore"), "-w", "--test", "--noflush"], netns=netns, stdin=texts[fam])
    except FirewallError:
        _destroy_new(rs, netns)
        raise
    _swap_all(rs, netns)
    done = 0
    try:
        for fam in (4, 6):
            run([_tool(fam, "-restore"), "-w", "--noflush"], netns=netns, stdin=texts[fam])
            done += 1
    except FirewallError as exc:
        _swap_all(rs, netns)  # the previous contents come back
        _destroy_new(rs, netns)
        # IPv4 chains already replaced: the caller re-commits the last good ruleset
        exc.partial = done > 0  # type: ignore[attr-defined]
        raise
    _destroy_new(rs, netns, {set_name(s.name) + "-n" for s in all_sets(rs)})
    return texts


def remove(netns: str | None) -> bool:
    found = False
    for fam in (4, 6):
        while has_jump(fam, netns):
            run([_tool(fam), "-w", "-D", "INPUT", "-j", CHAIN], netns=netns)
            found = True
        listed = run([_tool(fam), "-w", "-S"], netns=netns, check=False).stdout.split("\n")
        extra = [ln.split()[1] for ln in listed if ln.startswith("-N FSG-")]
        for chain in (CHAIN, SIP, TCP, *extra):
            if run([_tool(fam), "-w", "-F", chain], netns=netns, check=False).returncode == 0:
                found = True
        for chain in (CHAIN, SIP, TCP, *extra):
            run([_tool(fam), "-w", "-X", chain], netns=netns, check=False)
    for name in sorted(existing_sets(netns)):
        if name.startswith(PREFIX):
            run(["ipset", "destroy", name], netns=netns, check=False)
            found = True
    return found


def counters(netns: str | None) -> list[dict[str, Any]]:
    out = []
    for fam in (4, 6):
        listed = run([_tool(fam), "-w", "-S"], netns=netns, check=False).stdout.split("\n")
        extra = [ln.split()[1] for ln in listed if ln.startswith("-N FSG-")]
        for chain in (CHAIN, TCP, SIP, *extra):
            proc = run([_tool(fam), "-w", "-L", chain, "-v", "-x", "-n"], netns=netns, check=False)
            for line in proc.stdout.splitlines()[2:]:
                parts = line.split()
                if len(parts) > 2 and parts[0].isdigit():
                    comment = line.split("/* ", 1)[1].split(" */", 1)[0] if "/* " in line else parts[2]
                    out.append({"chain": f"{chain} (IPv{fam})", "rule": comment,
                                "packets": int(parts[0]), "bytes": int(parts[1])})
    return out


# -- the backend ---------------------------------------------------------------------------------
def _text(elem: Element) -> str:
    return str(elem)  # an IPv6Network prints as "2001:db8::/64", what hash:net takes


class IptBackend(Backend):
    name, tools = "iptables", ("ipset", "iptables-restore", "ip6tables-restore")

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        for fam, text in load(rs, netns).items():
            write_state(state / f"rendered.iptables{'' if fam == 4 else '6'}", text)

    def render(self, rs: Ruleset) -> str:
        return ("# ipset restore\n" + render_ipset(rs) + "# iptables-restore --noflush\n"
                + render_rules(rs, 4, add_jump=True) + "# ip6tables-restore --noflush\n"
                + render_rules(rs, 6, add_jump=True))

    def verify(self, netns: str | None) -> bool:
        return has_jump(4, netns) and has_jump(6, netns)

    def remove(self, netns: str | None) -> bool:
        return remove(netns)

    def counters(self, netns: str | None) -> list[dict[str, Any]]:
        return counters(netns)

    def add(self, set_name_: str, elem: Element, seconds: int | None, netns: str | None,
            *, create: bool = True) -> bool:
        # -exist: a present element is re-added with the new timeout
        argv = ["ipset", "-exist", "add", set_name(set_name_), _text(elem), "timeout", str(seconds or 0)]
        proc = run(argv, netns=netns, check=False)
        if proc.returncode == 0:
            return True
        if "does not exist" in proc.stderr:
            if not create:
                return False
            ipset_ensure_sets(netns)
            run(argv, netns=netns)
            return True
        raise FirewallError(f"ipset add: {proc.stderr.strip()[:300]}")

    def delete(self, set_name_: str, elem: Element, netns: str | None) -> None:
        proc = run(["ipset", "-exist", "del", set_name(set_name_), _text(elem)], netns=netns, check=False)
        if proc.returncode != 0 and "does not exist" not in proc.stderr:
            raise FirewallError(f"ipset del: {proc.stderr.strip()[:300]}")

    def test(self, set_name_: str, elem: Element, netns: str | None) -> bool:
        return run(["ipset", "test", set_name(set_name_), _text(elem)], netns=netns, check=False).returncode == 0

    def elements(self, set_name_: str, netns: str | None) -> dict[str, int | None] | None:
        proc = run(["ipset", "list", set_name(set_name_)], netns=netns, check=False)
        if proc.returncode != 0:
            return None
        out: dict[str, int | None] = {}
        members = False
        for line in proc.stdout.splitlines():
            if line.startswith("Members:"):
                members = True
            elif members and line.strip():
                parts = line.split()
                secs = int(parts[2]) if len(parts) > 2 and parts[1] == "timeout" else 0
                out[parts[0]] = secs or None
        return out
