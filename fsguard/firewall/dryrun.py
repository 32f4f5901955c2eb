"""Dry-run backend: records what it would do and touches no kernel (tests, previews).

A commit renders both real backends' files under ``<state_dir>/firewall/dry-run/``; dynamic
elements (bans, registered accepts) go to ``<state_dir>/firewall/dry-run-sets.json``
(set -> element -> expiry epoch or null), and every operation is appended to ``dry-run.log``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from fsguard.firewall import ipt, nft
from fsguard.firewall.backend import Backend, Element, write_state
from fsguard.firewall.ruleset import Ruleset

Sets = dict[str, dict[str, float | None]]


class DryRunBackend(Backend):
    name = "dry-run"
    kernel = False

    def _dir(self) -> Path:
        return Path(self.cfg.state_dir) / "firewall"

    def _record(self, what: str) -> None:
        self._dir().mkdir(parents=True, exist_ok=True)
        with open(self._dir() / "dry-run.log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.3f} {what}\n")

    def commit(self, rs: Ruleset, netns: str | None, state: Path) -> None:
        d = state / "dry-run"
        write_state(d / "fsguard.nft", nft.render(rs))
        write_state(d / "fsguard.ipset", ipt.render_ipset(rs))
        for fam in (4, 6):
            write_state(d / f"fsguard.iptables{'' if fam == 4 else '6'}", ipt.render_rules(rs, fam, add_jump=True))
        self._record(f"commit {sum(rs.summary().values())} set elements")

    def render(self, rs: Ruleset) -> str:
        return nft.render(rs)

    def remove(self, netns: str | None) -> bool:
        self._record("remove")
        return False

    # -- dynamic elements: one JSON file, read-modify-write under a lock ---------------------------
    def _update(self, change: str, set_name: str, elem: Element, until: float | None = None) -> None:
        path = self._dir() / "dry-run-sets.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._dir() / ".dry-run.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            if change == "add":
                data.setdefault(set_name, {})[str(elem)] = until
            else:
                data.get(set_name, {}).pop(str(elem), None)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        self._record(f"{change} {set_name} {elem}")

    def _load(self) -> Sets:
        try:
            data = json.loads((self._dir() / "dry-run-sets.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)}

    def add(self, set_name: str, elem: Element, seconds: int | None, netns: str | None,
            *, create: bool = True) -> bool:
        self._update("add", set_name, elem, time.time() + seconds if seconds else None)
        return True

    def delete(self, set_name: str, elem: Element, netns: str | None) -> None:
        self._update("delete", set_name, elem)

    def test(self, set_name: str, elem: Element, netns: str | None) -> bool:
        found = self._load().get(set_name, {})
        if str(elem) not in found:
            return False
        until = found[str(elem)]
        return until is None or float(until) > time.time()

    def elements(self, set_name: str, netns: str | None) -> dict[str, int | None]:
        now = time.time()
        out: dict[str, int | None] = {}
        for k, until in self._load().get(set_name, {}).items():
            if until is None:
                out[k] = None
            elif until > now:
                out[k] = max(1, int(until - now))
        return out
