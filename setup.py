"""setuptools hook (metadata is in setup.cfg): the wheel also carries the FusionPBX app and the
SQL migrations, as ``fsguard/data/fusionpbx_app`` and ``fsguard/data/sql``. In a checkout they sit
next to the packages; an installed copy finds them in its data dir (``fsguard.install.sources.
app_dir``, ``fsguard.install.sqlgen``), so it can install, render and upgrade on its own."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TREES = ("fusionpbx_app", "sql")


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        for name in TREES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, Path(self.build_lib) / "fsguard" / "data" / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPy})
