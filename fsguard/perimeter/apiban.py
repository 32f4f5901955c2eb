"""APIBAN (https://apiban.org): SIP attacker addresses seen by honeypots, each listed for 7 days.

v1 API: ``GET <base>/<KEY>/banned`` then ``<base>/<KEY>/banned/<ID>`` for each next batch of 250
(``{"ipaddress": [...], "ID": "..."}``); the end is an HTTP 400 ``{"ipaddress": ["no new bans"],
"ID": "none"}``. Rate limit: 11 requests per 2 minutes per key (HTTP 429 beyond), honoured with a
client-side limiter plus Retry-After. Incremental: the last ID and each address's first-seen time
are kept in the feed cache; addresses older than ``apiban_days`` drop out.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fsguard.perimeter.fetch import FetchError, RateLimiter, http_get

KEY_RE = re.compile(r"^[A-Za-z0-9]{8,128}$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAGES = 2000


@dataclass
class ApibanResult:
    addresses: list[str] = field(default_factory=list)
    last_id: str = ""
    pages: int = 0
    waited: float = 0.0


def fetch_new(
    base: str,
    key: str,
    since_id: str,
    *,
    limiter: RateLimiter,
    timeout: float = 30.0,
    retries: int = 2,
    max_bytes: int = 8 * 1024 * 1024,
    max_seconds: float = 900.0,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ApibanResult:
    """Every address banned since ``since_id`` (all current ones when empty)."""
    if not KEY_RE.match(key):
        raise FetchError("apiban_key: must be 8-128 letters/digits")
    out = ApibanResult(last_id=since_id)
    started = time.monotonic()
    current = since_id if ID_RE.match(since_id or "") else ""
    while out.pages < MAX_PAGES:
        if time.monotonic() - started > max_seconds:
            raise FetchError(f"APIBAN paging took longer than {max_seconds:.0f} s; will resume next run")
        out.waited += limiter.wait()
        url = f"{base.rstrip('/')}/{key}/banned" + (f"/{current}" if current else "")
        got = http_get(url, timeout=timeout, retries=retries, max_bytes=max_bytes, ok_statuses=(200, 400, 429))
        if got.status == 429:
            retry_after = got.headers.get("Retry-After", "")
            pause = min(float(retry_after) if retry_after.isdigit() else limiter.window, limiter.window)
            if progress:
                progress(f"APIBAN rate limit: waiting {pause:.0f} s")
            sleep(pause)
            out.waited += pause
            continue
        try:
            doc = json.loads(got.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise FetchError("APIBAN: reply is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("ipaddress"), list):
            raise FetchError("APIBAN: unexpected reply shape")
        if got.status == 400:
            if str(doc.get("ID")) == "none":
                break  # "no new bans": the end of the list
            raise FetchError(f"APIBAN: HTTP 400 {str(doc)[:120]}")
        out.pages += 1
        out.addresses.extend(str(a) for a in doc["ipaddress"] if isinstance(a, str))
        nxt = str(doc.get("ID", ""))
        if not ID_RE.match(nxt) or nxt == current:
            raise FetchError(f"APIBAN: bad or repeated batch ID {nxt[:40]!r}")
        current = out.last_id = nxt
        if progress:
            progress(f"APIBAN page {out.pages}: {len(out.addresses)} addresses")
    return out
