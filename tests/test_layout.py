"""The package boundary (issue 9): ``fs_python`` is what mod_python3 loads, standard library only;
``fsguard`` is the product and may import ``fs_python``, never the other way round."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = ("fs_python.not_found", "fs_python.monitor", "fs_python.api")

# Runs in a fresh isolated interpreter (-I: no PYTHONPATH, no user site) with only the checkout
# on sys.path, like FreeSWITCH's embedded python3 with the scripts dir: which modules does one
# entry pull in? (The `freeswitch` module is imported lazily by fslog/monitor, at call time.)
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import importlib
importlib.import_module(sys.argv[2])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("entry", ENTRIES)
def test_entry_points_load_only_the_standard_library_and_fs_python(entry: str) -> None:
    out = subprocess.run([sys.executable, "-I", "-c", PROBE, str(ROOT), entry], capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out)
    assert entry in loaded
    foreign = [m for m in loaded if _top(m) != "fs_python" and _top(m) not in sys.stdlib_module_names]
    assert foreign == [], f"{entry} pulls in modules outside the standard library: {foreign}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_fs_python_module_imports_anything_but_stdlib_and_itself() -> None:
    """Statically, including imports inside functions: nothing in fs_python reaches fsguard (or
    any third-party package), whatever code path runs."""
    bad = {}
    for path in sorted((ROOT / "fs_python").rglob("*.py")):
        foreign = sorted(n for n in _imports(path)
                         if _top(n) not in ("fs_python", "freeswitch", "__future__")
                         and _top(n) not in sys.stdlib_module_names)
        if foreign:
            bad[str(path.relative_to(ROOT))] = foreign
    assert bad == {}


def test_fs_python_is_only_what_freeswitch_loads() -> None:
    mods = sorted(p.stem for p in (ROOT / "fs_python").glob("*.py"))
    assert mods == ["__init__", "api", "config", "dialplan", "eventline", "fslog", "monitor", "not_found",
                    "registry", "whitelist"]
    assert not [p for p in (ROOT / "fs_python").iterdir() if p.is_dir() and p.name != "__pycache__"]


def _all_modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]


@pytest.mark.parametrize("package", ["fs_python", "fsguard"])
def test_every_module_imports(package: str) -> None:
    names = _all_modules(package)
    assert len(names) > (8 if package == "fs_python" else 60)
    for name in names:
        if not name.endswith(".__main__"):  # runs the CLI when imported, by design
            importlib.import_module(name)


def test_every_fsguard_package_dir_is_a_package() -> None:
    """A directory of modules without __init__.py is left out of a built wheel."""
    missing = [str(d.relative_to(ROOT)) for d in sorted((ROOT / "fsguard").rglob("*"))
               if d.is_dir() and d.name != "__pycache__" and "data" not in d.relative_to(ROOT).parts
               and any(d.glob("*.py")) and not (d / "__init__.py").is_file()]
    assert missing == []
