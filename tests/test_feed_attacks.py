"""Attack 8: a hostile or intercepted feed server (a real HTTP server on loopback that this test
starts) cannot stall, exhaust or steer the download: a wall-clock deadline for the whole download,
a bounded decompressor with one content encoding, no redirect except to https on the same host,
secrets never in an error text or a status row. Each refusal is reported and the last good copy
stays in force."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from fsguard.perimeter import feeds, update
from fsguard.perimeter.fetch import FetchError, http_get
from fsguard.store import open_store
from tests.test_perimeter_feeds import FEED, Server, _cfg, srv  # noqa: F401


def drip(total: int, done: list[bool] | None = None) -> Callable[[BaseHTTPRequestHandler, int], None]:
    """A route sending ``total`` bytes at 1 byte a second: every read succeeds, so only a
    wall-clock deadline stops the download. ``done`` gets True if the server ever finishes."""

    def send(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(total))
        h.end_headers()
        try:
            for _ in range(total):
                h.wfile.write(b"4")
                h.wfile.flush()
                time.sleep(1)
        except OSError:
            return
        if done is not None:
            done.append(True)
    return send


def _drip_headers(h: BaseHTTPRequestHandler, n: int) -> None:
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            h.wfile.write(b"X")
            h.wfile.flush()
            time.sleep(1)
    except OSError:
        pass
    h.close_connection = True


def test_slow_drip_is_cut_at_the_deadline(srv: Server) -> None:  # noqa: F811
    srv.routes["/drip"] = drip(100)
    srv.routes["/drip-headers"] = _drip_headers
    for path in ("/drip", "/drip-headers"):
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            http_get(f"{srv.url}{path}", timeout=5, retries=0, deadline=2)
        assert time.monotonic() - t0 < 30  # the body alone would take 100 s


def _gzipped(body: bytes, layers: int, encoding: str) -> object:
    data = body
    for _ in range(layers):
        data = gzip.compress(data, 9)

    def send(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", encoding)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return send


def test_gzip_bombs_are_bounded_and_refused(srv: Server, tmp_path: Path) -> None:  # noqa: F811
    bomb = b"\n" * (64 * 1024 * 1024)  # 64 MiB of newlines: ~64 KB once, a few hundred bytes twice gzipped
    srv.routes["/bomb"] = _gzipped(bomb, 1, "gzip")
    srv.routes["/double"] = _gzipped(bomb, 2, "gzip, gzip")
    srv.routes["/good"] = _gzipped(FEED.encode(), 1, "gzip")
    for path, why in (("/bomb", "decompressed download larger than the size cap"),
                      ("/double", "refused content encoding")):
        with pytest.raises(FetchError, match=why):
            http_get(f"{srv.url}{path}", timeout=5, retries=0, max_bytes=1024 * 1024)
    assert http_get(f"{srv.url}/good", timeout=5, retries=0).body == FEED.encode()
    # through the update: refused, reported, the last good copy kept
    srv.text("/feed", FEED)
    cfg = _cfg(tmp_path, f"x={srv.url}/feed", "max_bytes = 1048576\n")
    assert update.update_all(cfg)[0].status == "updated"
    before = (feeds.cache_dir(cfg) / "x.json").read_bytes()
    srv.routes["/feed"] = srv.routes["/double"]
    [res] = update.update_all(cfg)
    assert res.status == "failed" and "content encoding" in res.error and res.entries == 1002
    assert (feeds.cache_dir(cfg) / "x.json").read_bytes() == before


def test_redirects_only_to_https_on_the_same_host(srv: Server, tmp_path: Path) -> None:  # noqa: F811
    inner = Server()  # "localhost service" the attacker wants fsguard to fetch (SSRF)
    try:
        inner.text("/admin", FEED)

        def to(location: str) -> object:
            def send(h: BaseHTTPRequestHandler, n: int) -> None:
                h.send_response(302)
                h.send_header("Location", location)
                h.send_header("Content-Length", "0")
                h.end_headers()
            return send

        port = inner.url.rsplit(":", 1)[1]
        srv.routes["/to-localhost"] = to(f"http://localhost:{port}/admin")
        srv.routes["/to-loopback-https"] = to(f"https://127.0.0.2:{port}/admin")
        srv.routes["/to-same-http"] = to(f"{srv.url}/feed")
        srv.routes["/relative-http"] = to("/feed")
        srv.text("/feed", FEED)
        for path in ("/to-localhost", "/to-loopback-https", "/to-same-http", "/relative-http"):
            with pytest.raises(FetchError, match="refused redirect"):
                http_get(f"{srv.url}{path}", timeout=5, retries=0)
        assert inner.hits == {} and "/feed" not in srv.hits  # never followed
        cfg = _cfg(tmp_path, f"x={srv.url}/to-localhost")
        [res] = update.update_all(cfg)
        assert res.status == "failed" and "refused redirect" in res.error
        assert not (feeds.cache_dir(cfg) / "x.json").exists()
    finally:
        inner.close()


def test_apiban_key_never_in_an_error_or_a_row(srv: Server, tmp_path: Path) -> None:  # noqa: F811
    key = "SecretKey0123456789"

    def broken(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(403)
        h.send_header("Content-Length", "0")
        h.end_headers()
    srv.routes[f"/api/{key}/banned"] = broken
    cfg = _cfg(tmp_path, "", f"apiban_key = {key}\napiban_url = {srv.url}/api\n")
    store = open_store(cfg)
    try:
        [res] = update.update_all(cfg, store)
        assert res.status == "failed" and "HTTP 403" in res.error and key not in res.error
        assert "<key>" in res.error
        rows = store.query("select * from v_fsguard_feeds")
        assert rows and not any(key in str(v) for r in rows for v in r.values())
    finally:
        store.close()


def test_a_silent_tls_server_is_cut_at_the_deadline() -> None:
    """An https feed whose server accepts and never answers the TLS handshake."""
    import socket
    import threading

    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            held.append(conn)  # never answers

    threading.Thread(target=accept, daemon=True).start()
    try:
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="deadline|timed out"):
            http_get(f"https://127.0.0.1:{lsock.getsockname()[1]}/feed", timeout=60, retries=0, deadline=2)
        assert time.monotonic() - t0 < 30
    finally:
        stop.set()
        lsock.close()
        for c in held:
            c.close()
