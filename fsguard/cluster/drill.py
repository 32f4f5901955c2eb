"""``fsguard drill --simulate --nodes N``: the cluster drill on one machine.

N simulated nodes (:mod:`fsguard.cluster.sim`: a namespace with kernel ban sets, the real fail2ban
action code and the real cluster runtime each) on a private PostgreSQL started for the drill:

1. a scanner banned by node A's jail is in every other node's kernel ban set (and how fast);
2. a customer registered on A fails on B: B's jail decides, B's whitelist (A's registration)
   wins, nothing enters B's kernel;
3. PostgreSQL stops mid-attack: A keeps banning alone (outbox); after the restart the ban reaches
   every node, one row;
4. an operator's unban on the last node lifts the ban on every node.

Everything it made is removed at the end (namespaces ``fsgc-*``, the database, the temp dir).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCANNER, LATE, CUSTOMER = "203.0.113.77", "203.0.113.78", "198.51.100.20"


@dataclass
class Check:
    step: int
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ClusterDrill:
    nodes: int
    checks: list[Check] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "passed": self.passed, "error": self.error,
                "checks": [vars(c) for c in self.checks]}

    def text(self) -> str:
        out = [f"fsguard cluster drill, {self.nodes} nodes: {'PASSED' if self.passed else 'FAILED'}"]
        out += [f"  step {c.step} {'ok  ' if c.ok else 'FAIL'} {c.name}" + (f" ({c.detail})" if c.detail else "")
                for c in self.checks]
        if self.error:
            out.append(f"  error: {self.error}")
        return "\n".join(out)


def run(nodes: int = 3) -> ClusterDrill:
    from fsguard.cluster import publish
    from fsguard.cluster.pgtemp import PrivatePG
    from fsguard.cluster.sim import SimNode, close_nodes, wait_until

    rep = ClusterDrill(max(2, nodes))
    names = [chr(ord("a") + i) for i in range(rep.nodes)]
    base = Path(tempfile.mkdtemp(prefix="fsg-cluster-drill-"))
    made: list[SimNode] = []
    pg: PrivatePG | None = None

    def check(step: int, name: str, ok: bool, detail: str = "") -> bool:
        rep.checks.append(Check(step, name, bool(ok), detail))
        return bool(ok)

    try:
        pg = PrivatePG()
        made += [SimNode(n, pg.params(), base) for n in names]
        a, b, last = made[0], made[1], made[-1]
        others = made[1:]
        check(0, "every node loaded the cluster's bans and listens", all(n.start() for n in made))
        # 1. scanner banned on A, dropped everywhere
        t0 = time.monotonic()
        a.ban(SCANNER)
        ok = wait_until(lambda: all(n.banned(SCANNER) for n in others), 10)
        check(1, f"scanner {SCANNER} banned by A's jail is in every other node's kernel ban set", ok,
              f"{(time.monotonic() - t0) * 1000:.0f} ms" if ok else "not everywhere after 10 s")
        # 2. customer registered on A, failing on B
        now = time.time()
        a.cfg.fs_dir.mkdir(parents=True, exist_ok=True)
        (a.cfg.fs_dir / "registrations.json").write_text(json.dumps({"registrations": [
            {"ip": CUSTOMER, "user": "1001", "realm": "office.example", "expires": now + 600, "port": 5060,
             "proto": "udp", "profile": "internal"}]}))
        assert a.rt is not None and b.rt is not None
        errs = a.rt.tick(now) + b.rt.tick(now)
        b.ban(CUSTOMER)
        check(2, f"customer {CUSTOMER} registered on A, failing on B: not in B's kernel", not b.banned(CUSTOMER),
              "; ".join(errs))
        from fs_python import whitelist

        why = whitelist.check(CUSTOMER, state_dir=b.state)
        check(2, "B's whitelist names A's registration", any("node a" in r for r in why.reasons),
              "; ".join(why.reasons))
        # 3. PostgreSQL down mid-attack
        pg.stop()
        a.ban(LATE)
        publish.publisher(a.cfg).settle()
        queued = publish.publisher(a.cfg).outbox.size()
        check(3, "database down: A still bans alone, the decision waits in its outbox",
              a.banned(LATE) and queued >= 1, f"outbox {queued}")
        pg.start()
        a.rt.tick()
        ok = wait_until(lambda: all(n.banned(LATE) for n in others), 20)
        check(3, "database back: the ban made meanwhile reaches every node", ok)
        from fsguard.store import open_store

        store = open_store(b.cfg)
        try:
            rows = store.query("select count(*) as n from v_fsguard_cluster_bans where ip_address = :ip", {"ip": LATE})
            check(3, "replayed exactly once", rows[0]["n"] == 1, f"{rows[0]['n']} row(s)")
            # 4. unban on the last node lifts it everywhere
            from fsguard.ops import bans as ops_bans

            ops_bans.unban(last.cfg, store, SCANNER, reason="fsguard drill: operator unban")
        finally:
            store.close()
        ok = wait_until(lambda: not any(n.banned(SCANNER) for n in made), 10)
        check(4, f"an operator's unban on node {last.name} lifts the ban on every node", ok)
    except Exception as exc:  # a missing part is reported, never a traceback
        rep.error = f"{type(exc).__name__}: {exc}"
    finally:
        close_nodes(made)
        if pg is not None:
            pg.close()
        shutil.rmtree(base, ignore_errors=True)
    return rep
