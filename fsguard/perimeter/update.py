"""``fsguard feeds update``: fetch each feed, refuse anything suspicious, keep the last good copy.

A download is refused (cache untouched, the firewall keeps the previous entries) when it fails,
is cut short, is larger than the cap, holds no valid entry, or holds fewer than ``min_keep_ratio``
of the last good copy's entries (a half-delivered list must not unblock half the attackers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fsguard import settings
from fsguard.perimeter import apiban, feeds
from fsguard.perimeter.addr import Range
from fsguard.perimeter.fetch import (
    Fetched,
    FetchError,
    RateLimiter,
    http_get,
    is_local,
    read_local,
    redact,
)

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

Progress = Callable[[str], None]


@dataclass
class FeedResult:
    name: str
    status: str  # updated | unchanged | refused | failed
    entries: int = 0  # entries now in force (the last good copy when refused/failed)
    added: int = 0
    removed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def _diff(old: dict[int, list[Range]], new: dict[int, list[Range]]) -> tuple[int, int]:
    added = removed = 0
    for fam in (4, 6):
        o, n = set(old.get(fam, [])), set(new.get(fam, []))
        added += len(n - o)
        removed += len(o - n)
    return added, removed


def _fetch(cfg: Config, spec: feeds.FeedSpec, doc: dict[str, Any], progress: Progress | None) -> Fetched:
    max_bytes = settings.FEEDS_MAX_BYTES.get(cfg)
    if is_local(spec.source):
        return read_local(spec.source, max_bytes)

    def report(n: int) -> None:
        if progress and n % (1024 * 1024) < 256 * 1024:
            progress(f"{spec.name}: {n // 1024} KiB")

    return http_get(
        spec.source,
        etag=str(doc.get("etag", "")), last_modified=str(doc.get("last_modified", "")),
        timeout=float(settings.FEEDS_TIMEOUT.get(cfg)), retries=settings.FEEDS_RETRIES.get(cfg),
        max_bytes=max_bytes, progress=report,
    )


def update_plain(cfg: Config, spec: feeds.FeedSpec, *, progress: Progress | None = None,
                 parsed_out: list[feeds.Parsed] | None = None) -> FeedResult:
    t0 = time.monotonic()
    doc = feeds.load_cache(cfg, spec.name)
    old = feeds.cached_ranges(doc)
    old_count = int(doc.get("count", 0))
    res = FeedResult(spec.name, "failed", entries=old_count)
    try:
        got = _fetch(cfg, spec, doc, progress)
    except FetchError as exc:
        res.error = str(exc)
        return res
    if got.status == 304:
        res.status = "unchanged"
        res.seconds = time.monotonic() - t0
        return res
    complete = is_local(spec.source) or got.body.endswith(b"\n")
    parsed = feeds.parse_text(got.body, feeds.policy(cfg), complete=complete)
    res.rejected, res.reasons, res.examples = sum(parsed.rejected.values()), dict(parsed.rejected), parsed.examples
    ratio = settings.FEEDS_MIN_KEEP_RATIO.get(cfg)
    if parsed.count == 0:
        res.status, res.error = "refused", "no valid entry in the download (empty or garbage); kept the last good copy"
    elif old_count and parsed.count < ratio * old_count:
        res.status = "refused"
        res.error = (f"only {parsed.count} entries vs {old_count} last time (< {ratio:.0%}); "
                     "kept the last good copy")
    if res.status == "refused":
        res.seconds = time.monotonic() - t0
        return res
    res.added, res.removed = _diff(old, parsed.ranges)
    feeds.save_cache(cfg, spec.name, {
        "version": 1, "source": spec.source, "fetched": time.time(), "count": parsed.count,
        "etag": got.etag, "last_modified": got.last_modified,
        "v4": feeds.flat(parsed.ranges[4]), "v6": feeds.flat(parsed.ranges[6]),
    })
    if parsed_out is not None:
        parsed_out.append(parsed)
    res.status, res.entries = "updated", parsed.count
    res.seconds = time.monotonic() - t0
    return res


def update_apiban(cfg: Config, spec: feeds.FeedSpec, *, progress: Progress | None = None,
                  limiter: RateLimiter | None = None, sleep: Callable[[float], None] = time.sleep) -> FeedResult:
    t0 = time.monotonic()
    doc = feeds.load_cache(cfg, spec.name)
    seen: dict[str, float] = {str(k): float(v) for k, v in (doc.get("seen") or {}).items()}
    res = FeedResult(spec.name, "failed", entries=len(seen))
    lim = limiter or RateLimiter(settings.FEEDS_APIBAN_RATE.get(cfg) - 1,
                                 float(settings.FEEDS_APIBAN_WINDOW.get(cfg)), sleep=sleep)
    try:
        got = apiban.fetch_new(spec.source, spec.key, str(doc.get("last_id", "")), limiter=lim,
                               timeout=float(settings.FEEDS_TIMEOUT.get(cfg)), progress=progress, sleep=sleep)
    except FetchError as exc:
        res.error = redact(str(exc), [spec.key])  # the key is in the URL: never in a shown error
        return res
    pol = feeds.policy(cfg)
    parsed = feeds.parse_text(("\n".join(got.addresses) + "\n").encode(), pol)
    res.rejected, res.reasons, res.examples = sum(parsed.rejected.values()), dict(parsed.rejected), parsed.examples
    now = time.time()
    keep = now - 86400 * settings.FEEDS_APIBAN_DAYS.get(cfg)
    before = set(seen)
    for a in got.addresses:
        try:
            pol.validate(a)
        except ValueError:
            continue
        seen[a] = now if a not in seen else seen[a]
    seen = {a: t for a, t in seen.items() if t >= keep}
    ranges: dict[int, list[Range]] = {4: [], 6: []}
    for a in seen:
        fam, s, e = pol.validate(a)
        ranges[fam].append((s, e))
    res.added, res.removed = len(set(seen) - before), len(before - set(seen))
    feeds.save_cache(cfg, spec.name, {
        "version": 1, "source": spec.source, "fetched": now, "count": len(seen),
        "last_id": got.last_id, "seen": seen, "v4": feeds.flat(sorted(ranges[4])), "v6": feeds.flat(sorted(ranges[6])),
    })
    res.status, res.entries, res.seconds = "updated", len(seen), time.monotonic() - t0
    return res


def update_all(cfg: Config, store: Store | None = None, *, progress: Progress | None = None,
               only: str | None = None) -> list[FeedResult]:
    results = []
    secrets = [s.key for s in feeds.specs(cfg) if s.key]
    for spec in feeds.specs(cfg):
        if only and spec.name != only:
            continue
        if progress:
            progress(f"{spec.name}: fetching {spec.source if spec.kind == 'plain' else spec.source + '/…'}")
        try:
            res = (update_apiban(cfg, spec, progress=progress) if spec.kind == "apiban"
                   else update_plain(cfg, spec, progress=progress))
        except Exception as exc:  # one feed's bug never stops the others or leaks a traceback
            res = FeedResult(spec.name, "failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
        # secrets (API keys) never reach an error text, a status row or the GUI
        res.error = redact(res.error, secrets)
        res.examples = [redact(x, secrets) for x in res.examples]
        results.append(res)
        if progress:
            progress(f"{spec.name}: {res.status}, {res.entries} entries"
                     + (f" ({res.error})" if res.error else ""))
        if store is not None:
            row: dict[str, Any] = {"last_status": res.status, "last_error": res.error[:500],
                                   "entry_count": res.entries, "added_count": res.added,
                                   "removed_count": res.removed, "rejected_count": res.rejected}
            if res.status in ("updated", "unchanged"):
                row["last_success"] = time.time()
            feeds.record_status(store, spec, row)
    return results
