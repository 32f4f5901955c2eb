"""Country address sets from the regional registries' delegation files.

``delegated-<rir>-extended-latest`` lines: ``registry|cc|type|start|value|date|status[|id]``.
For ipv4 ``value`` is a host count (not always a power of two: the range is converted to CIDRs),
for ipv6 a prefix length. Only ``allocated``/``assigned`` rows count; the version header and
``summary`` lines are skipped. Config ``[countries]``: ``allow`` = ISO codes (empty: no country
rule), ``sources`` (the five RIR files by default; URLs or paths), ``refresh_hours`` (24).

Cache: the raw files under ``<state_dir>/countries/`` (re-fetched when older than refresh_hours,
conditional GET), and ``allowed.json`` with the merged ranges of the configured countries. A
failed fetch keeps the previous file; no data at all means no country rule (fail open, reported
by ``fsguard firewall status``): blocking a whole port on missing data would lock customers out.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fsguard import safefs, settings
from fsguard.perimeter.addr import Range, ip_to_int, merge
from fsguard.perimeter.fetch import FetchError, http_get, is_local, read_local

if TYPE_CHECKING:
    from fs_python.config import Config

RIR_SOURCES = settings.COUNTRIES_SOURCES.default
CC_RE = re.compile(r"^[A-Z]{2}$")
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class CountryData:
    ranges: dict[int, list[Range]] = field(default_factory=lambda: {4: [], 6: []})
    countries: list[str] = field(default_factory=list)
    sources_ok: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.sources_ok > 0 and bool(self.ranges[4] or self.ranges[6])


def allowed_codes(cfg: Config) -> list[str]:
    codes = [c.upper() for c in settings.COUNTRIES_ALLOW.get(cfg)]
    bad = [c for c in codes if not CC_RE.match(c)]
    if bad:
        raise ValueError(f"[countries] allow: not ISO 3166 alpha-2 codes: {', '.join(bad)}")
    return codes


def parse_delegated(text: str, codes: set[str]) -> dict[str, dict[int, list[Range]]]:
    """cc -> family -> ranges for the wanted country codes (all when ``codes`` is empty)."""
    out: dict[str, dict[int, list[Range]]] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        parts = line.split("|")
        if len(parts) < 7 or parts[2] not in ("ipv4", "ipv6") or parts[6] not in ("allocated", "assigned"):
            continue
        cc = parts[1].upper()
        if codes and cc not in codes:
            continue
        try:
            fam, start = ip_to_int(parts[3], 4 if parts[2] == "ipv4" else 6)
            value = int(parts[4])
        except (ValueError, OSError):
            continue
        if fam == 4:
            if not 0 < value <= 1 << 32 or start + value > 1 << 32:
                continue
            end = start + value - 1
        else:
            if not 0 < value <= 128:
                continue
            size = 1 << (128 - value)
            start &= ~(size - 1)
            end = start + size - 1
        out.setdefault(cc, {4: [], 6: []})[fam].append((start, end))
    return out


def _dir(cfg: Config) -> Path:
    return Path(cfg.state_dir) / "countries"


def _raw_name(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", source.rstrip("/").rsplit("/", 1)[-1])[:100] or "source"


def refresh(cfg: Config, *, force: bool = False) -> CountryData:
    """Fetch stale sources (keeping old copies on failure) and rebuild ``allowed.json``."""
    codes = allowed_codes(cfg)
    d = _dir(cfg)
    d.mkdir(parents=True, exist_ok=True)
    max_age = settings.COUNTRIES_REFRESH_HOURS.get(cfg) * 3600
    data = CountryData(countries=codes)
    if not codes:
        return data
    per_cc: dict[int, list[Range]] = {4: [], 6: []}
    for source in settings.COUNTRIES_SOURCES.get(cfg):
        raw = d / _raw_name(source)
        meta_path = raw.with_name(raw.name + ".meta.json")
        fresh = raw.exists() and time.time() - raw.stat().st_mtime < max_age
        if force or not fresh:
            try:
                if is_local(source):
                    got = read_local(source, MAX_BYTES)
                else:
                    meta = json.loads(meta_path.read_text()) if meta_path.exists() and raw.exists() else {}
                    got = http_get(source, etag=meta.get("etag", ""), last_modified=meta.get("last_modified", ""),
                                   max_bytes=MAX_BYTES, timeout=60)
                if got.status == 304:
                    os.utime(raw)
                elif b"|" not in got.body[:4096]:
                    raise FetchError("not a delegation file")
                else:
                    safefs.write_file(raw, got.body, 0o644)
                    safefs.write_text(meta_path, json.dumps({"etag": got.etag, "last_modified": got.last_modified}))
            except (FetchError, OSError, ValueError) as exc:
                data.errors.append(f"{source}: {exc}")
        if not raw.exists():
            continue
        data.sources_ok += 1
        parsed = parse_delegated(raw.read_text(encoding="utf-8", errors="replace"), set(codes))
        for fams in parsed.values():
            for fam in (4, 6):
                per_cc[fam].extend(fams[fam])
    data.ranges = {fam: merge(per_cc[fam]) for fam in (4, 6)}
    doc = {"version": 1, "written": time.time(), "countries": codes, "sources_ok": data.sources_ok,
           "errors": data.errors, "v4": [v for r in data.ranges[4] for v in r],
           "v6": [v for r in data.ranges[6] for v in r]}
    safefs.write_text(d / "allowed.json", json.dumps(doc, separators=(",", ":")), 0o644, create_dirs=True)
    return data


def load(cfg: Config) -> CountryData:
    """The cached country ranges for the configured countries (no network)."""
    codes = allowed_codes(cfg)
    data = CountryData(countries=codes)
    if not codes:
        return data
    try:
        doc = json.loads((_dir(cfg) / "allowed.json").read_text())
    except (OSError, ValueError):
        return data
    if sorted(doc.get("countries", [])) != sorted(codes):
        return data  # built for other countries: rebuild with refresh()
    data.sources_ok = int(doc.get("sources_ok", 0))
    data.errors = list(doc.get("errors", []))
    for fam in (4, 6):
        f = doc.get(f"v{fam}") or []
        data.ranges[fam] = list(zip(f[0::2], f[1::2], strict=True))
    return data


def country_of(cfg: Config, ip_value: int, fam: int) -> str | None:
    """Country of an address from the cached raw files (for ``fsguard why``); slow path, CLI only."""
    d = _dir(cfg)
    for source in settings.COUNTRIES_SOURCES.get(cfg):
        raw = d / _raw_name(source)
        if not raw.exists():
            continue
        for cc, fams in parse_delegated(raw.read_text(encoding="utf-8", errors="replace"), set()).items():
            if any(s <= ip_value <= e for s, e in fams[fam]):
                return cc
    return None
