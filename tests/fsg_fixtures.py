"""Shared setup for the fs_python tests: a config with a token, a fresh stand-in FreeSWITCH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fs_python import fslog, registry, whitelist
from fsguard.fakefs import FakeSwitch, Harness

TOKEN = "fsg2TestToken0123"


def write_config(tmp: Path, extra: str = "", token: str | None = TOKEN) -> Path:
    state = tmp / "state"
    state.mkdir(exist_ok=True)
    conf = tmp / "fsguard.conf"
    lines = ["[fsguard]", "state_dir = %s" % state]
    if token is not None:
        lines.append("event_token = %s" % token)
    conf.write_text("\n".join(lines) + "\n" + extra)
    return conf


@pytest.fixture
def fs_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """A harness over a fresh FakeSwitch logging to tmp_path/freeswitch.log, config with a token."""
    monkeypatch.setenv("FSGUARD_CONFIG", str(write_config(tmp_path)))
    fslog.reset()
    whitelist.clear_cache()
    registry.REGISTRY.__init__()  # type: ignore[misc]  # the process-wide set, reset in place
    h = Harness(FakeSwitch(tmp_path / "freeswitch.log"))
    yield h
    h.switch.shutdown()
    h.join(3)
    fslog.reset()
    registry.REGISTRY.__init__()  # type: ignore[misc]
