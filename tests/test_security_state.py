"""Root's own state files are re-validated like fresh input before use: a cached feed saying
0.0.0.0/0 (or holding a private range) is refused whole, a good one loads; the attacker-owned
copy of a good file is refused for its owner."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fs_python import config
from fsguard.perimeter import feeds
from fsguard.perimeter.addr import ip_to_int
from tests.secfix import Attacker, attacker, open_tmp  # noqa: F401


def _cfg(d: Path) -> config.Config:
    (d / "state").mkdir(exist_ok=True)
    p = d / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {d / 'state'}\n[feeds]\nvoipbl = true\n")
    return config.load(p)


def _cache(cfg: config.Config, v4: list[int]) -> Path:
    d = feeds.cache_dir(cfg)
    d.mkdir(parents=True, exist_ok=True)
    p = d / "voipbl.json"
    p.write_text(json.dumps({"version": 1, "v4": v4, "v6": []}))
    return p


def test_cached_feeds_are_revalidated(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    one = ip_to_int("45.95.147.0")[1]
    _cache(cfg, [one, one + 255])
    assert feeds.all_cached(cfg) == {"voipbl": {4: [(one, one + 255)], 6: []}}
    for bad in ([0, (1 << 32) - 1],                                                  # 0.0.0.0/0
                [0, (1 << 31) - 1, 1 << 31, (1 << 32) - 1],                          # two /1s
                [ip_to_int("10.0.0.0")[1], ip_to_int("10.0.0.255")[1]],              # private
                [one + 255, one],                                                     # backwards
                [one]):                                                               # odd
        _cache(cfg, bad)
        assert feeds.all_cached(cfg) == {}, bad


def test_an_attacker_s_copy_of_a_good_cache_is_refused(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    cfg = _cfg(open_tmp)
    d = feeds.cache_dir(cfg)
    d.mkdir(parents=True)
    os.chown(d, attacker.uid, attacker.gid)  # as in an older, group-writable state dir
    one = ip_to_int("45.95.147.0")[1]
    doc = json.dumps({"version": 1, "v4": [one, one + 255], "v6": []})
    res = attacker.run("import sys; open(sys.argv[1], 'w').write(sys.argv[2])", str(d / "voipbl.json"), doc)
    assert res.returncode == 0, res.stderr
    assert feeds.all_cached(cfg) == {}
