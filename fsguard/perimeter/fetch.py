"""Downloading feed text safely: timeouts, retries, conditional GET, a size cap, truncation checks.

Content is only ever *read* as data (parsed line by line into integers); nothing from a feed is
passed to a shell or evaluated. ``file:`` URLs and plain paths read local files with the same cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
USER_AGENT = "fsguard/0.1 (+https://github.com/fsguard)"


class FetchError(Exception):
    """The download failed or is not trustworthy (truncated, too big, bad status)."""


@dataclass
class Fetched:
    status: int  # 200, or 304 when the conditional GET says "unchanged"
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def is_local(source: str) -> bool:
    return source.startswith("file:") or source.startswith("/")


def read_local(source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Fetched:
    path = Path(source[5:] if source.startswith("file:") else source)
    if source.startswith("file://"):
        path = Path(source[7:])
    try:
        with open(path, "rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FetchError(f"{path}: larger than the size cap ({max_bytes} bytes)")
    return Fetched(200, body)


def _session(retries: int) -> Any:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    s = requests.Session()
    retry = Retry(
        total=retries, connect=retries, read=retries, backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET", "POST"}),
        # 429 is handled by the caller (APIBAN counts every request against its rate limit)
        respect_retry_after_header=False, raise_on_status=False,
    )
    s.mount("http://", HTTPAdapter(max_retries=retry))
    s.mount("https://", HTTPAdapter(max_retries=retry))
    s.headers["User-Agent"] = USER_AGENT
    return s


def http_get(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    headers: dict[str, str] | None = None,
    ok_statuses: tuple[int, ...] = (200,),
    progress: Callable[[int], None] | None = None,
) -> Fetched:
    """GET ``url``; 304 -> Fetched(304). Raises FetchError on anything untrustworthy."""
    import requests

    if not (url.startswith("http://") or url.startswith("https://")):
        raise FetchError(f"unsupported URL scheme: {url[:80]!r}")
    hdrs = dict(headers or {})
    if etag:
        hdrs["If-None-Match"] = etag
    if last_modified:
        hdrs["If-Modified-Since"] = last_modified
    try:
        with _session(retries) as s, s.get(url, headers=hdrs, timeout=(min(timeout, 10.0), timeout),
                                           stream=True) as resp:
            if resp.status_code == 304:
                return Fetched(304, etag=etag, last_modified=last_modified)
            if resp.status_code not in ok_statuses:
                raise FetchError(f"HTTP {resp.status_code} from {url}")
            declared = resp.headers.get("Content-Length")
            chunks: list[bytes] = []
            total = 0
            started = time.monotonic()
            for chunk in resp.raw.stream(256 * 1024, decode_content=True):
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"download larger than the size cap ({max_bytes} bytes)")
                chunks.append(chunk)
                if progress:
                    progress(total)
                if time.monotonic() - started > timeout * 4:
                    raise FetchError("download too slow (gave up)")
            body = b"".join(chunks)
            encoded = resp.headers.get("Content-Encoding", "identity") not in ("", "identity")
            if declared is not None and not encoded and declared.isdigit() and int(declared) != len(body):
                raise FetchError(f"truncated download: {len(body)} of {declared} bytes")
            return Fetched(
                resp.status_code, body,
                etag=resp.headers.get("ETag", ""), last_modified=resp.headers.get("Last-Modified", ""),
                headers={k: v for k, v in resp.headers.items()},
            )
    except FetchError:
        raise
    except requests.RequestException as exc:
        raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    except Exception as exc:  # urllib3 protocol errors on truncated chunked bodies, etc.
        raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None


class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds (APIBAN: 11 per 2 min per key)."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit, self.window = max(1, limit), window
        self.clock, self.sleep = clock, sleep
        self.sent: list[float] = []

    def wait(self) -> float:
        """Block until one more request is allowed; return the seconds waited."""
        waited = 0.0
        now = self.clock()
        self.sent = [t for t in self.sent if now - t < self.window]
        if len(self.sent) >= self.limit:
            pause = self.window - (now - self.sent[0]) + 0.01
            self.sleep(pause)
            waited = pause
            now = self.clock()
            self.sent = [t for t in self.sent if now - t < self.window]
        self.sent.append(now)
        return waited
