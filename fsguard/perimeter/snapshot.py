"""Contract 2: ``<state_dir>/whitelist.json`` from the allow list + carriers, written atomically.

Read inside FreeSWITCH (``fs_python.whitelist``) and by the fail2ban glue, so it is rewritten on
every list change, feed update and firewall apply.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

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
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": 1, "written": time.time() if now is None else now, "entries": entries}
    tmp = path.with_name(f".whitelist.json.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def read_whitelist(state_dir: Path) -> list[dict[str, str]]:
    try:
        doc = json.loads((Path(state_dir) / "whitelist.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = doc.get("entries") if isinstance(doc, dict) else None
    return [e for e in entries or [] if isinstance(e, dict) and isinstance(e.get("cidr"), str)]


def write_from_store(cfg: Config, store: Store) -> Path:
    from fsguard.perimeter import carriers, lists

    allow = lists.entries(store, "allow", cfg=cfg)
    carr, _ = carriers.carriers(cfg, store)
    return write_whitelist(cfg.state_dir, whitelist_entries(allow, carr))
