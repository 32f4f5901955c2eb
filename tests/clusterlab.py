"""Cluster nodes for tests/test_cluster.py and benchmarks/bench_cluster.py: the product's
simulated nodes (:mod:`fsguard.cluster.sim`), each in a ``tests.fsg4net.Lab`` namespace (so the
tests' own namespace cleanup and checks apply), on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsguard.cluster.pgtemp import PrivatePG  # noqa: F401 - re-exported for the tests
from fsguard.cluster.sim import SimNode, close_nodes, wait_until  # noqa: F401
from tests.fsg4net import Lab


class Node(SimNode):
    def __init__(self, name: str, db: dict[str, str], base: Path, *, on_applied: Any = None,
                 cluster: bool = True) -> None:
        self.lab = Lab(name)
        try:
            super().__init__(name, db, base, netns=self.lab.pbx, on_applied=on_applied, cluster=cluster)
        except BaseException:
            self.lab.close()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.lab.close()
