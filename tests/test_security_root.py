"""No path from the PBX's own user to root (issue 10, attacks 1-6).

Each test creates a real unprivileged user, acts as that user exactly as the attack did (plant a
module, swap a symlink, forge a manifest, swap a state file, pre-plant the temp name), then runs
root's side and checks: nothing outside fsguard's own files changed owner, mode or content, none
of the attacker's code ran, and fsguard said why it refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from fs_python import config, whitelist
from fsguard import safefs
from fsguard.fakefs import Harness
from fsguard.firewall import FirewallError, engine
from fsguard.install import installer, sources
from fsguard.install.target import Misconfigured
from fsguard.perimeter import snapshot
from fsguard.service import Service
from fsguard.store import open_store
from tests import fsg_fixtures
from tests.fsg_fixtures import TOKEN as FSG_TOKEN
from tests.installtree import freeswitch_tree, frozen_package, tree_state
from tests.secfix import Attacker, attacker, open_tmp, owner_mode, root_secret  # noqa: F401

TOKEN = "Tok3nForSecurityTests"
fs_env = fsg_fixtures.fs_env  # the stand-in FreeSWITCH fixture
PLANT = "import os\nopen(os.environ.get('FSG_MARK', '/tmp/fsg-pwned'), 'w').write(str(os.getuid()))\n"


@pytest.fixture(autouse=True)
def _frozen_sources(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(sources, "PKG_DIR", frozen_package(tmp_path_factory))


def _fusion_style(root: Path, atk: Attacker) -> None:
    """FusionPBX's layout: the FreeSWITCH trees belong to the web/PBX user (re-chowned on start)."""
    for d in ("etc/freeswitch", "usr/share/freeswitch", "var/log/freeswitch"):
        atk.chown_tree(root / d)


def _drop(d: Path) -> Path:
    drop = d / "drop"
    drop.mkdir(exist_ok=True)
    os.chmod(drop, 0o1777)
    return drop / "pwned"


# -- attack 1: root imports Python from a directory the PBX user owns ------------------------------
def test_planted_modules_in_freeswitch_s_dirs_never_run_as_root(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    _fusion_style(root, attacker)
    installer.install(root)
    mark = _drop(open_tmp)
    scripts = root / "usr/share/freeswitch/scripts"
    attacker.chown_tree(scripts)  # FreeSWITCH restarted: FusionPBX re-chowns the scripts dir
    plant = ("import os, sys\nd = sys.argv[1]\nfor rel in ('argparse.py', 'json/__init__.py', 'fsguard/__init__.py',"
             " 'fsguard/cli/__init__.py', 'fs_python/config.py'):\n"
             "    p = os.path.join(d, rel); os.makedirs(os.path.dirname(p), exist_ok=True)\n"
             "    try: os.unlink(p)\n    except OSError: pass\n    open(p, 'w').write(sys.argv[2])\n")
    res = attacker.run(plant, str(scripts), PLANT)
    assert res.returncode == 0, res.stderr
    assert (scripts / "argparse.py").stat().st_uid == attacker.uid
    # root's side: the wrapper exactly as installed (its /usr/lib/fsguard mapped into the tree), run
    # from the scripts dir with PYTHONPATH pointing there too
    wrapper = (root / "usr/local/sbin/fsguard").read_text().replace("/usr/lib/fsguard", str(root / "usr/lib/fsguard"))
    env = dict(os.environ, PYTHONPATH=str(scripts), FSG_MARK=str(mark))
    proc = subprocess.run(["/bin/sh", "-c", wrapper, "fsguard", "--help"], cwd=scripts, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not mark.exists(), "the attacker's module ran as root"
    # fail2ban's action (root) imports fsguard from the root-owned copy only
    jail = (root / "etc/fail2ban/jail.d/fsguard.local").read_text()
    assert f'pythonpath="{sources.LIB_DIR}"' in jail and "scripts" not in jail
    lib = root / "usr/lib/fsguard"
    for p in [lib, *lib.rglob("*")]:
        st = p.lstat()
        assert st.st_uid == 0 and not st.st_mode & 0o022, p


def test_an_old_pythonpath_into_the_scripts_dir_is_refused_on_upgrade(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    _fusion_style(root, attacker)
    installer.install(root)
    conf = root / "etc/fsguard/fsguard.conf"
    conf.write_text(conf.read_text().replace(f"pythonpath = {sources.LIB_DIR}",
                                             "pythonpath = /usr/share/freeswitch/scripts"))
    before = tree_state(root)
    with pytest.raises(Misconfigured) as exc:
        installer.install(root)
    assert "pythonpath = /usr/share/freeswitch/scripts" in str(exc.value) and sources.LIB_DIR in str(exc.value)
    assert tree_state(root) == before


# -- attack 2: the missing FreeSWITCH log, a symlink in its place --------------------------------------
def test_service_never_creates_or_chowns_the_freeswitch_log(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    logdir = open_tmp / "log"
    logdir.mkdir()
    os.chown(logdir, attacker.uid, attacker.gid)
    secret, data = root_secret(open_tmp)
    preload = secret.parent / "ld.so.preload"
    state = open_tmp / "state"
    state.mkdir()
    cfgp = open_tmp / "fsguard.conf"
    cfgp.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = {TOKEN}\n[store]\nkind = sqlite\n"
                    f"path = {state / 'db'}\n[fail2ban]\nlogpath = {logdir / 'freeswitch.log'}\n"
                    f"socket = {open_tmp / 'no.sock'}\njail_dir =\nfirewall = off\n")
    cfg = config.load(cfgp)
    store = open_store(cfg)
    try:
        for target in (preload, secret):
            res = attacker.run("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(target),
                               str(logdir / "freeswitch.log"))
            assert res.returncode == 0, res.stderr
            tick = Service(cfg, store).tick()
            assert any("ignore sync" in e for e in tick.errors)  # fail2ban is not there: said, not fatal
            assert any("symlink is refused" in e for e in tick.errors)  # the tail never follows it
            assert not preload.exists()
            assert owner_mode(secret) == (0, 0, 0o600) and secret.read_bytes() == data
            os.unlink(logdir / "freeswitch.log")
        # a FIFO in its place would hold a blocking read (and the tick) forever: refused at once
        assert attacker.run("import os, sys; os.mkfifo(sys.argv[1])", str(logdir / "freeswitch.log")).returncode == 0
        tick = Service(cfg, store).tick()
        assert any("not a regular file" in e for e in tick.errors)
    finally:
        store.close()


# -- attack 3: a forged install manifest -------------------------------------------------------------
def _old_layout(root: Path, atk: Attacker) -> Path:
    """The state dir as older installs left it: group-writable by FreeSWITCH's group, setgid."""
    state = root / "var/lib/fsguard"
    os.chown(state, 0, atk.gid)
    os.chmod(state, 0o2775)
    return state


def test_a_forged_manifest_restores_no_setuid_shell(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    installer.install(root)
    state = _old_layout(root, attacker)
    shell = Path("/usr/bin/sh").read_bytes()
    name = hashlib.sha256(shell).hexdigest() + ".orig"
    forged = {"version": 1, "kind": "freeswitch", "dirs": [], "rows": [], "tables_created": ["v_users"],
              "files": {"/usr/local/bin/rootsh": {"kind": "edit", "sha256": "0" * 64, "original_backup": name,
                                                  "original_mode": 0o4755}}}
    code = ("import os, sys, json\nstate, name, forged = sys.argv[1], sys.argv[2], sys.argv[3]\n"
            "os.unlink(os.path.join(state, 'install-manifest.json'))\n"
            "open(os.path.join(state, 'install-manifest.json'), 'w').write(forged)\n"
            "b = os.path.join(state, 'install-backups')\n"
            "os.makedirs(b, exist_ok=True) if os.access(state, os.W_OK) else None\n"
            "try: open(os.path.join(b, name), 'wb').write(open('/usr/bin/sh', 'rb').read())\n"
            "except OSError: pass\n")
    res = attacker.run(code, str(state), name, json.dumps(forged))
    assert res.returncode == 0, res.stderr
    for run in (installer.install, installer.uninstall):
        with pytest.raises(Misconfigured) as exc:
            run(root)
        assert "install manifest refused" in str(exc.value) and f"uid {attacker.uid}" in str(exc.value)
        assert not (root / "usr/local/bin/rootsh").exists()
    # the same content as root's own file (left over from such a state): refused for what it names
    os.chown(state / "install-manifest.json", 0, 0)
    with pytest.raises(Misconfigured) as exc:
        installer.install(root)
    assert "/usr/local/bin/rootsh" in str(exc.value) and "fsguard never writes that" in str(exc.value)
    assert not (root / "usr/local/bin/rootsh").exists()


def test_state_dir_is_root_s_and_an_old_group_writable_one_is_fixed(  # noqa: F811
        open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    os.chown(root / "var/log/freeswitch", attacker.uid, attacker.gid)
    installer.install(root)
    state = root / "var/lib/fsguard"
    write = ("import sys\ntry:\n    open(sys.argv[1], 'w').write('x'); print('wrote')\n"
             "except OSError as e:\n    print(e)")
    assert "Permission denied" in attacker.run(write, str(state / "install-manifest.json")).stdout
    assert "Permission denied" in attacker.run(write, str(state / "firewall-last-good.json")).stdout
    assert attacker.run(write, str(state / "fs" / "registrations.json")).stdout.strip() == "wrote"
    # an older install's dir: whatever the PBX user left in it is removed, the dir becomes root's
    _old_layout(root, attacker)
    assert attacker.run(write, str(state / "whitelist.json")).stdout.strip() == "wrote"
    res = installer.install(root)
    assert owner_mode(state) == (0, 0, 0o755) and not (state / "whitelist.json").exists()
    assert any("whitelist.json" in n and f"uid {attacker.uid}" in n for n in res.notes)
    assert (state / "fs" / "registrations.json").exists()  # FreeSWITCH's own place stays its own


# -- attack 4: state files swapped or raced ---------------------------------------------------------
def test_swapped_last_good_ruleset_is_refused(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    d = open_tmp / "fw"
    d.mkdir()
    os.chown(d, attacker.uid, attacker.gid)
    good = {"protected_ports": [5060], "protocols": ["udp"], "country_ports": [], "carrier_ports": [],
            "management_ports": [22], "priority": -10, "sets": {}, "sip_rules": [], "warnings": [],
            "input_rules": [{"kind": "mgmt", "family": None, "set_name": "", "comment": "management ports",
                             "mask": "", "comp": "", }]}
    (open_tmp / "ok.json").write_text(json.dumps(good))
    assert engine.load_ruleset(open_tmp / "ok.json").management_ports == [22]
    evil = dict(good, input_rules=[dict(good["input_rules"][0], comment='x"; delete table inet operator; #')])
    (open_tmp / "evil.json").write_text(json.dumps(evil))
    with pytest.raises(FirewallError, match="comment"):
        engine.load_ruleset(open_tmp / "evil.json")
    wide = dict(good, sets={"allow4": {"name": "allow4", "family": 4, "interval": True, "hosts": [],
                                       "nets": [[0, 0]]}})
    (open_tmp / "wide.json").write_text(json.dumps(wide))
    with pytest.raises(FirewallError, match="broader"):
        engine.load_ruleset(open_tmp / "wide.json")
    # the attacker's own copy of a good file: refused for its owner
    res = attacker.run("import sys; open(sys.argv[1], 'w').write(sys.argv[2])", str(d / "last-good.json"),
                       json.dumps(good))
    assert res.returncode == 0, res.stderr
    with pytest.raises(FirewallError, match=f"uid {attacker.uid}"):
        engine.load_ruleset(d / "last-good.json")


def test_whitelist_snapshot_temp_name_and_content_races(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    d = open_tmp / "state"
    d.mkdir()
    os.chown(d, attacker.uid, attacker.gid)  # the old group-writable state dir
    secret, data = root_secret(open_tmp)
    # the attacker goes first: every temp name root used to pick, pointing at root's file
    code = ("import os, sys\nfor n in sys.argv[3:]:\n    os.symlink(sys.argv[1], os.path.join(sys.argv[2], n))\n")
    names = [f".whitelist.json.{os.getpid()}.tmp", ".whitelist.json.tmp", ".whitelist.json.fsguard-tmp"]
    assert attacker.run(code, str(secret), str(d), *names).returncode == 0
    snapshot.write_whitelist(d, [{"cidr": "192.0.2.0/24", "source": "allow", "label": "office"}])
    assert owner_mode(secret) == (0, 0, 0o600) and secret.read_bytes() == data
    assert owner_mode(d / "whitelist.json") == (0, 0, 0o644)
    assert [e["cidr"] for e in snapshot.read_whitelist(d)] == ["192.0.2.0/24"]
    # the attacker swaps the snapshot: 0.0.0.0/0 (and two /1s) are refused, a symlink is not read
    swap = ("import os, sys, json\nos.unlink(sys.argv[1])\n"
            "open(sys.argv[1], 'w').write(json.dumps({'version': 1, 'entries': [{'cidr': c, 'source': 'allow'}"
            " for c in ('0.0.0.0/0', '0.0.0.0/1', '128.0.0.0/1', '::/0')]}))\n")
    assert attacker.run(swap, str(d / "whitelist.json")).returncode == 0
    whitelist.clear_cache()
    assert snapshot.read_whitelist(d) == []
    assert not whitelist.check("8.8.8.8", state_dir=d).whitelisted
    assert "broader" in whitelist.refusals.get("whitelist.json", "")
    link = "import os, sys\nos.unlink(sys.argv[1]); os.symlink(sys.argv[2], sys.argv[1])\n"
    assert attacker.run(link, str(d / "whitelist.json"), str(secret)).returncode == 0
    whitelist.clear_cache()
    assert not whitelist.check("8.8.8.8", state_dir=d).whitelisted
    assert "symlink" in whitelist.refusals.get(str(d / "whitelist.json"), "")


# -- attack 5: the installer's temp names in directories the PBX user owns ---------------------------
def test_installer_temp_files_in_www_data_dirs_cannot_be_redirected(open_tmp: Path, attacker: Attacker) -> None:  # noqa: F811
    root = freeswitch_tree(open_tmp / "root")
    _fusion_style(root, attacker)
    secret, data = root_secret(open_tmp)
    fs_copy = root / "usr/share/freeswitch/scripts/fs_python"
    conf = root / "etc/freeswitch/autoload_configs"
    names = [f".{p.name}.fsguard-tmp" for p in (sources.PKG_DIR.parent / "fs_python").glob("*.py")]
    code = ("import os, sys\nsecret, d = sys.argv[1], sys.argv[2]\nos.makedirs(d, exist_ok=True)\n"
            "for n in sys.argv[3:]:\n    os.symlink(secret, os.path.join(d, n))\n")
    assert attacker.run(code, str(secret), str(fs_copy), *names).returncode == 0
    assert attacker.run(code, str(secret), str(conf), ".python.conf.xml.fsguard-tmp",
                        ".modules.conf.xml.fsguard-tmp").returncode == 0
    installer.install(root)
    assert owner_mode(secret) == (0, 0, 0o600) and secret.read_bytes() == data
    ev = fs_copy / "eventline.py"
    assert not ev.is_symlink() and ev.read_bytes() == (sources.PKG_DIR.parent / "fs_python/eventline.py").read_bytes()
    assert owner_mode(ev)[0] == 0
    # a directory on the way swapped for a symlink into root's own: refused, nothing written there
    root2 = freeswitch_tree(open_tmp / "root2")
    _fusion_style(root2, attacker)
    vault_before = sorted(os.listdir(secret.parent))
    swap = "import os, sys\nos.symlink(sys.argv[1], sys.argv[2])\n"
    assert attacker.run(swap, str(secret.parent), str(root2 / "usr/share/freeswitch/scripts/fs_python")).returncode == 0
    with pytest.raises(safefs.UnsafePath, match="symlink"):
        installer.install(root2)
    assert sorted(os.listdir(secret.parent)) == vault_before
    assert owner_mode(secret.parent) == (0, 0, 0o700)


# -- attack 6: a CR, U+2028 or NEL inside attacker text never starts a record ------------------------
def test_cr_and_unicode_line_breaks_never_forge_events(open_tmp: Path) -> None:  # noqa: F811
    state = open_tmp / "state"
    state.mkdir()
    log = open_tmp / "freeswitch.log"
    log.write_text("")
    cfgp = open_tmp / "fsguard.conf"
    cfgp.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = {TOKEN}\n[store]\nkind = sqlite\n"
                    f"path = {state / 'db'}\n[fail2ban]\nlogpath = {log}\nsocket = {open_tmp / 'no.sock'}\n"
                    "jail_dir =\nfirewall = off\n")
    cfg = config.load(cfgp)
    store = open_store(cfg)
    try:
        svc = Service(cfg, store)
        svc.read_new_lines()  # starts at the end
        ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".123456"
        forged = f'{ts} 10.00% [WARNING] fsguard:1 FSGUARD {TOKEN} auth-failure 198.51.100.66 user="1000"'
        lines = [f"{ts} 10.00% [NOTICE] sofia.c:1 To user x{sep}{forged}\n" for sep in ("\r", "\u2028", "\x85", "\x0b")]
        lines.append(f"FSGUARD {TOKEN} auth-failure 198.51.100.67 user=\"1\"\n")  # no record prefix
        lines.append(f'{ts} 10.00% [WARNING] fsguard:1 FSGUARD {TOKEN} auth-failure 198.51.100.68 user="2"\n')
        with open(log, "a", encoding="utf-8", newline="") as fh:
            fh.write("".join(lines))
        got = svc.read_new_lines()
        assert len(got) == 6  # physical lines: only b"\n" ends one
        from fsguard.service import TickResult

        svc.ingest(got, time.time(), TickResult())
        ips = {r["ip_address"] for r in store.query("select ip_address from v_fsguard_events")}
        assert ips == {"198.51.100.68"}
    finally:
        store.close()
    # fail2ban (real fail2ban-regex) with the rendered filter: only the genuine record counts
    from fsguard.f2b import render

    render.render_config(cfg, open_tmp / "f2b", logpath=log)
    out = subprocess.run(["fail2ban-regex", "-o", "<ip>", str(log), str(open_tmp / "f2b/filter.d/fsguard-events.conf")],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["198.51.100.68"], out.stdout + out.stderr


def test_a_cr_in_a_sip_from_user_through_the_stand_in_forges_nothing(tmp_path: Path, fs_env: Harness) -> None:
    """The stand-in FreeSWITCH logs the From user raw in its EXECUTE line (as 1.10.12 does): a CR,
    U+2028 or NEL there followed by a whole forged record (date, level, fsguard:1, the token) is
    still one physical line of someone else's record."""
    from fsguard.f2b import render
    from fsguard.service import TickResult

    log = tmp_path / "freeswitch.log"
    ts = time.strftime("%Y-%m-%d %H:%M:%S") + ".123456"
    for i, sep in enumerate(("\r", "\u2028", "\x85")):
        forged = f'{ts} 10.00% [WARNING] fsguard:1 FSGUARD {FSG_TOKEN} auth-failure 198.51.100.{70 + i} user="1000"'
        call = fs_env.dialplan("fs_python.not_found", network_ip="203.0.113.80",
                               variables={"sip_from_user": "x" + sep + forged})
        assert call.final == 404 and fs_env.switch.crashed is None
    raw = log.read_bytes()
    assert b"\r" + ts.encode() in raw  # the attack reached the log as the real switch writes it
    state = tmp_path / "state"
    cfgp = tmp_path / "svc.conf"
    cfgp.write_text(f"[fsguard]\nstate_dir = {state}\nevent_token = {FSG_TOKEN}\n[store]\nkind = sqlite\n"
                    f"path = {state / 'db'}\n[fail2ban]\nlogpath = {log}\nsocket = {tmp_path / 'no.sock'}\n"
                    "jail_dir =\nfirewall = off\n")
    cfg = config.load(cfgp)
    store = open_store(cfg)
    try:
        svc = Service(cfg, store)
        svc._pos = (log.stat().st_ino, 0)  # read the whole log
        svc.ingest(svc.read_new_lines(), time.time(), TickResult())
        ips = {r["ip_address"] for r in store.query("select ip_address from v_fsguard_events")}
        assert ips == {"203.0.113.80"}  # the genuine not-found events only
    finally:
        store.close()
    render.render_config(cfg, tmp_path / "f2b", logpath=log)
    out = subprocess.run(["fail2ban-regex", "-o", "<ip>", str(log), str(tmp_path / "f2b/filter.d/fsguard-events.conf")],
                         capture_output=True, text=True, timeout=120)
    assert set(out.stdout.split()) == {"203.0.113.80"}, out.stdout + out.stderr
