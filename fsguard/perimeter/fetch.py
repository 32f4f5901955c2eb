"""Downloading feed text safely: a wall-clock deadline, retries, conditional GET, a size cap on what
arrives and on what it decompresses to, redirects only to https on the same host, truncation checks.

Content is only ever *read* as data (parsed line by line into integers); nothing from a feed is
passed to a shell or evaluated. ``file:`` URLs and plain paths read local files with the same cap.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from fsguard import settings

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_BYTES = settings.FEEDS_MAX_BYTES.default
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


MAX_REDIRECTS = 3
CHUNK = 64 * 1024
_RETRY_STATUSES = (500, 502, 503, 504)


class _Retryable(FetchError):
    """A failure worth another attempt (connection refused/reset, HTTP 5xx)."""


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` with every secret (an API key in a URL, ...) replaced by ``<key>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<key>")
    return text


def _same_origin_https(original: str, target: str) -> bool:
    """A redirect is followed only to https on the same host (and the default or the same port):
    never to another host, a local address or a downgrade to http (SSRF, interception)."""
    a, b = urlsplit(original), urlsplit(target)
    if b.scheme != "https" or not b.hostname or b.hostname != a.hostname or b.username or b.password:
        return False
    return b.port in (None, 443) or b.port == a.port


class _Watchdog:
    """Closes the socket at the deadline: a server that drips one byte a second (or stalls in the
    headers or the TLS handshake) cannot hold the download past its wall-clock deadline."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.conn = conn
        self.fired = False
        self.timer = threading.Timer(max(0.0, seconds), self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self.timer.cancel()


def _decoder(encoding: str) -> Any:
    """One content encoding at most (``gzip, gzip`` is a decompression bomb's trick)."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return None
    if enc in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if enc == "deflate":
        return zlib.decompressobj()
    raise FetchError(f"refused content encoding {enc[:40]!r} (one of gzip, deflate or none)")


def _read_body(resp: http.client.HTTPResponse, max_bytes: int, deadline: float,
               progress: Callable[[int], None] | None) -> bytes:
    """The body, decompressed with a bound: at most ``max_bytes`` in and out, whatever the ratio."""
    dec = _decoder(resp.getheader("Content-Encoding") or "")
    out = bytearray()
    raw = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError("download took longer than its deadline (gave up)")
        chunk = resp.read1(CHUNK)
        if not chunk:
            break
        raw += len(chunk)
        if raw > max_bytes:
            raise FetchError(f"download larger than the size cap ({max_bytes} bytes)")
        if dec is None:
            out += chunk
        else:
            out += dec.decompress(chunk, max_bytes + 1 - len(out))
            if dec.unconsumed_tail or len(out) > max_bytes:
                raise FetchError(f"decompressed download larger than the size cap ({max_bytes} bytes)")
        if progress:
            progress(len(out))
    if time.monotonic() > deadline:
        raise FetchError("download took longer than its deadline (gave up)")
    declared = resp.getheader("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) != raw:
        raise FetchError(f"truncated download: {raw} of {declared} bytes")
    if dec is not None:
        out += dec.flush()  # all input consumed (no unconsumed_tail): at most what zlib holds back
        if len(out) > max_bytes:
            raise FetchError(f"decompressed download larger than the size cap ({max_bytes} bytes)")
        if not dec.eof:
            raise FetchError("truncated download: the compressed body is cut short")
        if dec.unused_data:
            raise FetchError("refused download: data after the end of the compressed body")
    return bytes(out)


def _get_once(url: str, hdrs: dict[str, str], timeout: float, deadline: float, max_bytes: int,
              ok_statuses: tuple[int, ...], progress: Callable[[int], None] | None) -> Fetched:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError("download took longer than its deadline (gave up)")
        parts = urlsplit(current)
        if not parts.hostname:
            raise FetchError("URL without a host")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=min(timeout, left),
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=min(timeout, left))
        # armed before connect: the TCP connect is bounded by its timeout, and http.client keeps the
        # plain socket in conn.sock during the TLS handshake, so a stalled handshake is cut too
        dog = _Watchdog(conn, deadline - time.monotonic())
        try:
            try:
                conn.connect()
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("GET", target, headers=hdrs)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if dog.fired:
                    raise FetchError("download took longer than its deadline (gave up)") from None
                raise _Retryable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
            status = resp.status
            if status in (301, 302, 303, 307, 308):
                nxt = urljoin(current, resp.getheader("Location") or "")
                if not _same_origin_https(url, nxt):
                    raise FetchError(f"refused redirect (HTTP {status}) to {nxt[:120]!r}: only to https on the "
                                     "same host")
                current = nxt
                continue
            if status == 304:
                return Fetched(304)
            if status in _RETRY_STATUSES and status not in ok_statuses:
                raise _Retryable(f"HTTP {status} from {url}")
            if status not in ok_statuses:
                raise FetchError(f"HTTP {status} from {url}")
            try:
                body = _read_body(resp, max_bytes, deadline, progress)
            except FetchError:
                raise
            except (OSError, http.client.HTTPException, zlib.error) as exc:
                if dog.fired:
                    raise FetchError("download took longer than its deadline (gave up)") from None
                raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
            return Fetched(status, body, etag=resp.getheader("ETag") or "",
                           last_modified=resp.getheader("Last-Modified") or "",
                           headers={k: v for k, v in resp.getheaders()})
        finally:
            dog.cancel()
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


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
    deadline: float | None = None,
) -> Fetched:
    """GET ``url``; 304 -> Fetched(304). Raises FetchError on anything untrustworthy.

    ``deadline`` (seconds, default ``4 x timeout``) bounds the whole call by the wall clock:
    connecting, every retry and redirect, and reading the body. Redirects go only to https on the
    same host; the body is decompressed (one encoding at most) with the size cap applied to both
    what arrives and what it expands to. Standard library only (no urllib3 version differences)."""
    if not (url.startswith("http://") or url.startswith("https://")):
        raise FetchError(f"unsupported URL scheme: {url[:80]!r}")
    until = time.monotonic() + (deadline if deadline is not None else timeout * 4)
    hdrs = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", "Connection": "close", **(headers or {})}
    if etag:
        hdrs["If-None-Match"] = etag
    if last_modified:
        hdrs["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        try:
            got = _get_once(url, hdrs, timeout, until, max_bytes, ok_statuses, progress)
        except _Retryable as exc:
            pause = 0.5 * (2 ** attempt)
            attempt += 1
            if attempt > retries or time.monotonic() + pause >= until:
                raise FetchError(str(exc)) from None
            time.sleep(pause)
            continue
        if got.status == 304:
            return Fetched(304, etag=etag, last_modified=last_modified)
        return got


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
