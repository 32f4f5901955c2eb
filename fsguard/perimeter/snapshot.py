"""Contract 2: ``<state_dir>/whitelist.json`` from the allow list + carriers, written atomically.

Read inside FreeSWITCH (``fs_python.whitelist``) and by the fail2ban glue, so it is rewritten on
every list change, feed update and firewall apply.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fs_python import whitelist
from fsguard import safefs
from fsguard.perimeter.carriers import Carrier
from fsguard.perimeter.lists import Entry

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store


def whitelist_entries(allow: list[Entry], carriers: list[Carrier]) -> list[dict[str, str]]:
    out = [{"cidr": e.cidr, "source": "allow", "label": e.label} for e in allow]
    out += [{"cidr": c.cidr, "source": "carrier", "label": c.label} for c in carriers]
    return out


def write_whitelist(state_dir: Path, entries: list[dict[str, str]], *, now: float | None = None) -> Path:
    path = Path(state_dir) / "whitelist.json"
    doc = {"version": 1, "written": time.time() if now is None else now, "entries": entries}
    # O_EXCL temp name, no symlink followed, mode set on the fd (FreeSWITCH and the GUI read it)
    safefs.write_text(path, json.dumps(doc, indent=1), 0o644, create_dirs=True)
    return path


def read_whitelist(state_dir: Path) -> list[dict[str, str]]:
    """The snapshot's entries, re-validated like fresh input: one broader than the allow floor
    (``0.0.0.0/0``, two /1s) is refused and logged, never trusted."""
    try:
        doc = whitelist.read_json(Path(state_dir) / "whitelist.json")
    except (OSError, ValueError):
        return []
    entries = doc.get("entries") if isinstance(doc, dict) else None
    out = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or not isinstance(e.get("cidr"), str):
            continue
        try:
            net = ipaddress.ip_network(e["cidr"].strip(), strict=False)
        except ValueError:
            continue
        if net.prefixlen < whitelist.FLOOR[net.version]:
            logging.getLogger("fsguard.perimeter").warning("whitelist.json: %s refused (broader than /%d)",
                                                           net, whitelist.FLOOR[net.version])
            continue
        out.append(e)
    return out


def write_from_store(cfg: Config, store: Store) -> Path:
    from fsguard.perimeter import carriers, lists

    allow = lists.entries(store, "allow", cfg=cfg)
    carr, _ = carriers.carriers(cfg, store)
    return write_whitelist(cfg.state_dir, whitelist_entries(allow, carr))
