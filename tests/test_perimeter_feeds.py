"""Feeds against a real local HTTP server: validation, conditional GET, retries, size cap,
truncation, refusal of empty/shrunken downloads (last good copy kept), APIBAN paging and rate
limit, status rows, whitelist subtraction, and feed content never being executed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fs_python import config
from fsguard.perimeter import build, feeds, lists, update
from fsguard.perimeter.fetch import FetchError, RateLimiter, http_get
from fsguard.store import open_store

FEED = "".join(f"45.{i // 250}.{i % 250}.9\n" for i in range(1000)) + "91.200.0.0/22\n2a01:4f8::/32\n"


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                route(self, outer.hits[self.path])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def text(self, path: str, body: str, etag: str = "") -> None:
        def send(h: BaseHTTPRequestHandler, n: int) -> None:
            if etag and h.headers.get("If-None-Match") == etag:
                h.send_response(304)
                h.end_headers()
                return
            data = body.encode()
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            if etag:
                h.send_header("ETag", etag)
            h.end_headers()
            h.wfile.write(data)
        self.routes[path] = send

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def srv() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _cfg(tmp_path: Path, extra: str, more: str = "") -> config.Config:
    p = tmp_path / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'state'}\n[feeds]\nvoipbl = no\nextra = {extra}\n"
                 f"retries = 1\ntimeout = 5\n{more}")
    return config.load(p)


def test_voipbl_on_by_default(tmp_path: Path) -> None:
    (tmp_path / "c.conf").write_text(f"[fsguard]\nstate_dir = {tmp_path}\n")
    specs = feeds.specs(config.load(tmp_path / "c.conf"))
    assert [s.name for s in specs] == ["voipbl"] and specs[0].source == "http://www.voipbl.org/update/"


def test_update_validates_counts_and_records_status(srv: Server, tmp_path: Path) -> None:
    hostile = "$(touch${IFS}" + str(tmp_path / "pwned") + ")\n`id`\n10.0.0.1\n0.0.0.0/0\n1.0.0.0/8\n"
    srv.text("/feed.txt", "# header\n" + FEED + hostile, etag='"v1"')
    cfg = _cfg(tmp_path, f"x={srv.url}/feed.txt")
    store = open_store(cfg)
    [res] = update.update_all(cfg, store)
    assert res.status == "updated" and res.entries == 1002 and res.added == 1002
    assert res.rejected == 5
    assert res.reasons == {"not an IP address": 2, "private (RFC 1918)": 1, "default route": 1,
                           "prefix /8 broader than the floor /10": 1}
    assert not (tmp_path / "pwned").exists()
    row = store.query_one("select * from v_fsguard_feeds where feed_name = 'x'")
    assert row and row["last_status"] == "updated" and row["entry_count"] == 1002 and row["rejected_count"] == 5
    # conditional GET: unchanged, nothing re-parsed, the cache stays
    [res2] = update.update_all(cfg, store)
    assert res2.status == "unchanged" and srv.hits["/feed.txt"] == 2
    assert feeds.load_cache(cfg, "x")["count"] == 1002
    # a changed list: added/removed counted
    srv.text("/feed.txt", FEED.replace("45.0.0.9\n", "45.9.9.9\n"), etag='"v2"')
    [res3] = update.update_all(cfg, store)
    assert (res3.status, res3.added, res3.removed) == ("updated", 1, 1)
    store.close()


@pytest.mark.parametrize("body,why", [
    ("", "no valid entry"),
    ("<html><body>Service temporarily unavailable</body></html>\n", "no valid entry"),
    ("".join(f"45.0.{i}.1\n" for i in range(100)), "only 100 entries vs 1002"),
])
def test_bad_download_refused_last_good_kept(srv: Server, tmp_path: Path, body: str, why: str) -> None:
    srv.text("/feed.txt", FEED)
    cfg = _cfg(tmp_path, f"x={srv.url}/feed.txt")
    assert update.update_all(cfg)[0].status == "updated"
    before = (feeds.cache_dir(cfg) / "x.json").read_bytes()
    srv.text("/feed.txt", body)
    [res] = update.update_all(cfg)
    assert res.status == "refused" and why in res.error and res.entries == 1002
    assert (feeds.cache_dir(cfg) / "x.json").read_bytes() == before


def test_truncated_and_oversized_downloads_refused(srv: Server, tmp_path: Path) -> None:
    def cut(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(FEED)))
        h.end_headers()
        h.wfile.write(FEED[: len(FEED) // 2].encode())
        h.wfile.flush()
        h.close_connection = True
    srv.routes["/cut"] = cut
    srv.text("/big", FEED * 20)
    cfg = _cfg(tmp_path, f"cut={srv.url}/cut big={srv.url}/big", "max_bytes = 100000\n")
    res = {r.name: r for r in update.update_all(cfg)}
    assert res["cut"].status == "failed" and res["big"].status == "failed"
    assert "size cap" in res["big"].error
    assert not (feeds.cache_dir(cfg) / "cut.json").exists()


def test_missing_final_newline_drops_last_line(srv: Server, tmp_path: Path) -> None:
    srv.text("/f", "45.1.1.1\n45.1.1.2\n45.1.1.3")  # "45.1.1.3" may be "45.1.1.33" cut short
    cfg = _cfg(tmp_path, f"x={srv.url}/f")
    [res] = update.update_all(cfg)
    assert res.entries == 2 and res.reasons == {"incomplete last line (no newline)": 1}


def test_retries_then_success(srv: Server, tmp_path: Path) -> None:
    def flaky(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = FEED.encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    srv.routes["/flaky"] = flaky
    got = http_get(f"{srv.url}/flaky", retries=2, timeout=5)
    assert got.status == 200 and srv.hits["/flaky"] == 2


def test_bad_scheme_and_local_file(tmp_path: Path) -> None:
    with pytest.raises(FetchError):
        http_get("ftp://example.org/x")
    f = tmp_path / "list.txt"
    f.write_text("45.3.3.3\n")
    cfg = _cfg(tmp_path, f"local={f}")
    assert update.update_all(cfg)[0].entries == 1
    with pytest.raises(ValueError):
        feeds.specs(_cfg(tmp_path, "BAD NAME=http://x"))
    with pytest.raises(ValueError):
        feeds.specs(_cfg(tmp_path, "x=relative/path"))


def test_whitelist_subtracted_from_feeds(srv: Server, tmp_path: Path) -> None:
    srv.text("/feed.txt", FEED)
    cfg = _cfg(tmp_path, f"x={srv.url}/feed.txt", "[carriers]\ncidrs = 91.200.1.0/24\n")
    store = open_store(cfg)
    lists.add(store, cfg, "allow", "45.0.5.9", "customer")
    update.update_all(cfg, store)
    data = build.collect(cfg, store)
    assert data.whitelisted_out == 1 + 256
    v = int.from_bytes(bytes([45, 0, 5, 9]), "big")
    assert not any(s <= v <= e for s, e in data.feed[4])
    c = int.from_bytes(bytes([91, 200, 1, 7]), "big")
    assert not any(s <= c <= e for s, e in data.feed[4])
    store.close()


# -- APIBAN --------------------------------------------------------------------------------------
def _apiban(srv: Server, key: str, pages: int, rate_limit_once: bool = False) -> None:
    def page(i: int) -> Any:
        def send(h: BaseHTTPRequestHandler, n: int) -> None:
            if rate_limit_once and i == 1 and n == 1:
                h.send_response(429)
                h.send_header("Retry-After", "1")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            if i == pages:
                body, code = {"ipaddress": ["no new bans"], "ID": "none"}, 400
            else:
                body = {"ipaddress": [f"46.{i}.{j // 250}.{j % 250}" for j in range(250)] + ["10.9.9.9"],
                        "ID": str(1000 + i)}
                code = 200
            data = json.dumps(body).encode()
            h.send_response(code)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        return send
    srv.routes[f"/api/{key}/banned"] = page(0)
    for i in range(1, pages + 1):
        srv.routes[f"/api/{key}/banned/{1000 + i - 1}"] = page(i)


def test_apiban_paging_and_incremental(srv: Server, tmp_path: Path) -> None:
    key = "abcdef0123456789"
    _apiban(srv, key, 3)
    cfg = _cfg(tmp_path, "", f"apiban_key = {key}\napiban_url = {srv.url}/api\n")
    [res] = update.update_all(cfg)
    assert res.status == "updated" and res.entries == 750 and res.rejected == 3
    assert feeds.load_cache(cfg, "apiban")["last_id"] == "1002"
    # next run starts from the last ID: only the end marker is fetched
    [res2] = update.update_all(cfg)
    assert res2.status == "updated" and res2.entries == 750 and res2.added == 0
    assert srv.hits[f"/api/{key}/banned/1002"] == 2 and srv.hits[f"/api/{key}/banned"] == 1


def test_apiban_rate_limit_and_429(srv: Server, tmp_path: Path) -> None:
    key = "abcdef0123456789"
    _apiban(srv, key, 6, rate_limit_once=True)
    cfg = _cfg(tmp_path, "", f"apiban_key = {key}\napiban_url = {srv.url}/api\n")
    clock = [0.0]
    sleeps: list[float] = []

    def fake_sleep(s: float) -> None:
        sleeps.append(s)
        clock[0] += s

    lim = RateLimiter(3, 120.0, clock=lambda: clock[0], sleep=fake_sleep)
    spec = feeds.specs(cfg)[0]
    res = update.update_apiban(cfg, spec, limiter=lim, sleep=fake_sleep)
    assert res.status == "updated" and res.entries == 6 * 250
    # 8 requests (7 pages incl. the end marker + one 429) through a 3-per-120 s limiter
    assert sleeps.count(1.0) == 1  # Retry-After honoured
    assert sum(1 for s in sleeps if s > 100) == 2
    times = sorted(lim.sent)
    assert all(times[i + 3] - times[i] >= 120 for i in range(len(times) - 3))


def test_apiban_bad_key_refused(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "", "apiban_key = ../../etc\napiban_url = http://127.0.0.1:9/api\n")
    [res] = update.update_all(cfg)
    assert res.status == "failed" and "apiban_key" in res.error


def test_feed_cache_is_data_only(srv: Server, tmp_path: Path) -> None:
    srv.text("/feed.txt", FEED)
    cfg = _cfg(tmp_path, f"x={srv.url}/feed.txt")
    update.update_all(cfg)
    doc = json.loads((feeds.cache_dir(cfg) / "x.json").read_text())
    assert set(doc) >= {"v4", "v6", "count", "etag"} and all(isinstance(v, int) for v in doc["v4"])
    assert oct(os.stat(feeds.cache_dir(cfg) / "x.json").st_mode)[-3:] in ("644", "640", "600")
