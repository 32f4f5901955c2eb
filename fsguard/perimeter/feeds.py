"""Block-list feeds: which feeds, parsing/validation, the last-good cache, and status rows.

Config ``[feeds]``: ``voipbl`` (on by default) / ``voipbl_url``; ``apiban_key`` (APIBAN on when
set) / ``apiban_url`` / ``apiban_rate`` / ``apiban_window`` / ``apiban_days``; ``extra`` =
``name=URL-or-path ...``; ``floor4``/``floor6`` (broadest prefix accepted, default /10 and /32);
``accept_test_ranges``; ``timeout``, ``retries``, ``max_bytes``; ``min_keep_ratio`` (a download
with fewer entries than this share of the last good copy is refused, default 0.5).

Cache: ``<state_dir>/feeds/<name>.json`` holds the last good, validated entries as integer
ranges, the conditional-GET validators and counts. A refused or failed download never touches it.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsguard import safefs, settings
from fsguard.perimeter.addr import AddressError, Policy, Range

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

VOIPBL_URL = settings.FEEDS_VOIPBL_URL.default
APIBAN_URL = settings.FEEDS_APIBAN_URL.default
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class FeedSpec:
    name: str
    source: str  # http(s) URL, file: URL or absolute path; for apiban the API base URL
    kind: str = "plain"  # plain | apiban
    key: str = ""


@dataclass
class Parsed:
    ranges: dict[int, list[Range]] = field(default_factory=lambda: {4: [], 6: []})
    lines: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ranges[4]) + len(self.ranges[6])

    def reject(self, line_no: int, text: str, why: str) -> None:
        self.rejected[why] += 1
        if len(self.examples) < MAX_EXAMPLES:
            # repr() keeps hostile text printable and inert
            self.examples.append(f"line {line_no}: {text[:60]!r}: {why}")


def policy(cfg: Config) -> Policy:
    return Policy(
        floor4=min(32, max(1, settings.FEEDS_FLOOR4.get(cfg))),
        floor6=min(128, max(1, settings.FEEDS_FLOOR6.get(cfg))),
        accept_test_ranges=settings.FEEDS_ACCEPT_TEST_RANGES.get(cfg),
    )


def specs(cfg: Config) -> list[FeedSpec]:
    """The enabled feeds, from config. Bad names/sources raise ValueError with the reason."""
    out: list[FeedSpec] = []
    if settings.FEEDS_VOIPBL.get(cfg):
        out.append(FeedSpec("voipbl", settings.FEEDS_VOIPBL_URL.get(cfg)))
    key = settings.FEEDS_APIBAN_KEY.get(cfg)
    if key:
        out.append(FeedSpec("apiban", settings.FEEDS_APIBAN_URL.get(cfg), "apiban", key))
    for item in settings.FEEDS_EXTRA.get(cfg):
        name, sep, source = item.partition("=")
        if not sep or not NAME_RE.match(name) or name in ("voipbl", "apiban"):
            raise ValueError(f"[feeds] extra: bad entry {item[:60]!r} (want name=URL-or-path)")
        if not (source.startswith(("http://", "https://", "file:", "/"))):
            raise ValueError(f"[feeds] extra: {name}: source must be an http(s) URL or an absolute path")
        out.append(FeedSpec(name, source))
    return out


def parse_text(body: bytes, pol: Policy, *, complete: bool = True) -> Parsed:
    """One address/CIDR per line; ``#``/``;`` comments. Everything else is rejected with a reason.

    ``complete=False`` (an HTTP body without a final newline) drops the last line: it may be a
    cut-off address that still parses ("1.2.3.45" cut to "1.2.3.4").
    """
    out = Parsed()
    text = body.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines and not complete:
        out.reject(len(lines), lines.pop(), "incomplete last line (no newline)")
    r4, r6 = out.ranges[4], out.ranges[6]
    pton = socket.inet_pton
    af4 = socket.AF_INET
    frombytes = int.from_bytes
    starts, ends, reasons = pol.refused_table4()
    bisect_right = bisect.bisect_right
    out.lines = len(lines)
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        tok = line.split(None, 1)[0].split("#", 1)[0].rstrip(";,")
        # fast path: a plain IPv4 address (most of every feed); one bisect decides refusal
        if "/" not in tok and ":" not in tok:
            try:
                v = frombytes(pton(af4, tok), "big")
            except OSError:
                out.reject(no, raw, "not an IP address")
                continue
            i = bisect_right(starts, v) - 1
            if i >= 0 and ends[i] >= v:
                out.reject(no, raw, reasons[i])
            else:
                r4.append((v, v))
            continue
        try:
            fam, start, end = pol.validate(tok)
        except AddressError as exc:
            out.reject(no, raw, str(exc))
            continue
        (r4 if fam == 4 else r6).append((start, end))
    return out


# -- cache ---------------------------------------------------------------------------------------
def cache_dir(cfg: Config) -> Path:
    return Path(cfg.state_dir) / "feeds"


def load_cache(cfg: Config, name: str) -> dict[str, Any]:
    """The last good copy, re-validated like fresh input (root's own file, every range an address
    range the feed policy accepts: no default route, nothing private or loopback); {} otherwise."""
    path = cache_dir(cfg) / f"{name}.json"
    try:
        doc = json.loads(safefs.read_file(path, 512 << 20, owner_root=True))
        if isinstance(doc, dict) and doc.get("version") == 1:
            _check_cached(doc, cfg)
            return doc
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError) as exc:
        logging.getLogger("fsguard.feeds").warning("feed cache %s refused: %s", path, exc)
    return {}


def _check_cached(doc: dict[str, Any], cfg: Config) -> None:
    # merged adjacent entries may be broader than the floor: the floor is not re-applied, the rest is
    pol = policy(cfg)
    pol = Policy(floor4=1, floor6=1, accept_test_ranges=pol.accept_test_ranges)
    for fam, bits in ((4, 32), (6, 128)):
        flat = doc.get(f"v{fam}") or []
        if not isinstance(flat, list) or len(flat) % 2:
            raise ValueError(f"v{fam} is not a list of (start, end) pairs")
        for start, end in zip(flat[0::2], flat[1::2], strict=True):
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end < 1 << bits):
                raise ValueError(f"v{fam}: a range out of bounds")
            why = pol.check(fam, start, end)
            if why:
                raise ValueError(f"v{fam}: {why}")


def cached_ranges(doc: dict[str, Any]) -> dict[int, list[Range]]:
    out: dict[int, list[Range]] = {4: [], 6: []}
    for fam in (4, 6):
        flat = doc.get(f"v{fam}") or []
        out[fam] = list(zip(flat[0::2], flat[1::2], strict=True))
    return out


def save_cache(cfg: Config, name: str, doc: dict[str, Any]) -> None:
    safefs.write_text(cache_dir(cfg) / f"{name}.json", json.dumps(doc, separators=(",", ":")), 0o644,
                      create_dirs=True)


def flat(ranges: list[Range]) -> list[int]:
    return [v for r in ranges for v in r]


def all_cached(cfg: Config) -> dict[str, dict[int, list[Range]]]:
    """name -> family -> ranges, for every enabled feed that has a last good copy."""
    out = {}
    for spec in specs(cfg):
        doc = load_cache(cfg, spec.name)
        if doc:
            out[spec.name] = cached_ranges(doc)
    return out


# -- status rows (v_fsguard_feeds) ---------------------------------------------------------------
def record_status(store: Store, spec: FeedSpec, row: dict[str, Any]) -> None:
    from fsguard.perimeter.fetch import redact

    source = spec.source if spec.kind != "apiban" else spec.source + "/<key>/banned"
    source = re.sub(r"^(https?://)[^/@]*@", r"\1<credentials>@", source)  # user:password@ in a URL
    values = dict(row, feed_name=spec.name, feed_url=source, feed_enabled=True, last_attempt=time.time())
    # the GUI's feeds page shows these rows: no secret in any of them, whatever produced the text
    values = {k: redact(v, [spec.key]) if isinstance(v, str) else v for k, v in values.items()}
    with store.transaction():
        existing = store.query_one(
            "select fsguard_feed_uuid from v_fsguard_feeds where feed_name = :n", {"n": spec.name})
        if existing:
            sets = ", ".join(f"{k} = :{k}" for k in values)
            store.execute(f"update v_fsguard_feeds set {sets} where fsguard_feed_uuid = :u",
                          dict(values, u=existing["fsguard_feed_uuid"]))
        else:
            store.insert("v_fsguard_feeds", values)
