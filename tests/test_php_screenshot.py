"""A headless Chromium screenshot of the dashboard with real rows, served by `php -S` through the harness.

The PNG is kept at $FSGUARD_ARTIFACTS (default /tmp/fsguard-artifacts)/dashboard.png for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.pgfix import fusion_db, pg_role  # noqa: F401
from tests.test_php_app import App, app, seed  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_dashboard_screenshot(app: App, tmp_path: Path) -> None:  # noqa: F811
    seed(app)
    port = free_port()
    env = app.env("superadmin")
    server = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(app.web)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/app/fsguard/fsguard_dashboard.php"
    try:
        for _ in range(50):
            try:
                body = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("php -S did not answer")
        assert "203.0.113.77" in body and "Unban" in body
        out = Path(os.environ.get("FSGUARD_ARTIFACTS", "/tmp/fsguard-artifacts"))
        out.mkdir(parents=True, exist_ok=True)
        png = out / "dashboard.png"
        png.unlink(missing_ok=True)
        assert CHROMIUM is not None
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'chromium'}", "--hide-scrollbars", "--window-size=1400,1100",
                        f"--screenshot={png}", url], capture_output=True, timeout=120, check=False)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000  # a rendered page, not a blank one
    finally:
        server.terminate()
        server.wait(timeout=10)
