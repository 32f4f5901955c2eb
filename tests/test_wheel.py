"""A wheel built from the tree holds every subpackage and data file (the installer's FusionPBX app
and SQL migrations included) and works on its own: installed into a fresh virtualenv WITHOUT
system site packages (runtime dependencies come from PyPI), ``fsguard --help``, ``fsguard render
--root DIR`` and ``fsguard firewall render`` run from it. Skips only when PyPI cannot be reached."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", "*.egg-info", "build", "dist", "tests",
                                ".mypy_cache", ".ruff_cache", ".pytest_cache", "benchmarks")


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/requests/", timeout=15) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable (network)")


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FSGUARD", "VIRTUAL_ENV"))}
    env.update(kw.pop("env", {}) or {})  # type: ignore[arg-type]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)  # built from a copy: the checkout gets no build/ dirs
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)], cwd=tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("fsguard-*.whl")
    yield whl


def _expected(root: Path) -> set[str]:
    """Every file the installed product needs, as wheel paths."""
    out = set()
    for pkg in ("fs_python", "fsguard"):
        for p in (root / pkg).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                out.add(p.relative_to(root).as_posix())
    for tree in ("fusionpbx_app", "sql"):
        for p in (root / tree).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts:
                out.add(f"fsguard/data/{p.relative_to(root).as_posix()}")
    return out


def test_wheel_holds_every_subpackage_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_expected(ROOT) - names)
    assert not missing, missing
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Dist: requests" in text and "Requires-Dist: netaddr" in text
    assert 'Requires-Dist: psycopg2>=2.8; extra == "fusionpbx"' in text


def test_wheel_runs_in_a_clean_virtualenv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)])  # no --system-site-packages
    assert r.returncode == 0, r.stderr
    py, fsguard = venv / "bin" / "python", venv / "bin" / "fsguard"
    r = _run([str(py), "-c", "import sys; print(sys.flags.no_site, sys.path)"])
    assert "dist-packages" not in r.stdout  # Debian's python3-* libraries are not visible
    r = _run([str(py), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _run([str(py), "-c", "import requests, netaddr, fsguard.cli, fsguard.install.installer, fs_python.monitor"],
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    r = _run([str(fsguard), "--help"], cwd=tmp_path)
    assert r.returncode == 0 and "firewall" in r.stdout and "config" in r.stdout, r.stderr

    state = tmp_path / "state"
    state.mkdir()
    conf = tmp_path / "fsguard.conf"
    conf.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = wh33lt0k3n00\n[firewall]\nbackend = dry-run\n")
    env = {"FSGUARD_CONFIG": str(conf)}
    r = _run([str(fsguard), "firewall", "render"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "table inet fsguard" in r.stdout, r.stderr

    root = tmp_path / "root"
    r = _run([str(fsguard), "render", "--root", str(root), "--kind", "fusionpbx"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    # from the wheel's data dir: the FusionPBX app, the SQL, the product copy root runs
    assert any(w.endswith("/fsguard/fsguard_dashboard.php") for w in written), sorted(written)[:50]
    assert any("/fsguard/data/sql/pgsql/V001" in w for w in written)
    assert "usr/lib/fsguard/fsguard/cli/__init__.py" in written
    assert any(w.endswith("fs_python/monitor.py") and "usr/lib" not in w for w in written)
