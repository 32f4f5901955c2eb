"""Where each installed file comes from. A source returns ``Desired`` files plus notes; a source
whose tool is missing on the host says so instead of failing. fsguard's own modules are imported
plainly: a broken one fails the install instead of silently installing less.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from fs_python import config as fsconfig
from fsguard.install.files import Desired
from fsguard.install.target import Misconfigured, Target

PKG_DIR = Path(__file__).resolve().parent.parent  # .../fsguard
# The product, root-owned, outside every directory FreeSWITCH or www-data can write: root runs it
# with an isolated interpreter (-I: no PYTHONPATH, no user site, no script dir on sys.path).
LIB_DIR = "/usr/lib/fsguard"
CLI = "/usr/local/sbin/fsguard"
# Empty, root-owned, never written: the second logpath of fsguard's jails (see f2b.render).
F2B_PLACEHOLDER = f"{LIB_DIR}/fail2ban-placeholder.log"
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
MONITOR = "fs_python.monitor"
NOT_FOUND = "fs_python.not_found"
MARK = "fsguard"


NOT_FOUND_FILE_NAME = "zzzz_fsguard_not_found.xml"


def edit_targets(t: Target) -> set[str]:
    """Files fsguard edits (and restores on uninstall) but does not own."""
    return {f"{t.conf_dir}/autoload_configs/python.conf.xml", f"{t.conf_dir}/autoload_configs/modules.conf.xml",
            f"{t.conf_dir}/sip_profiles/internal.xml"}


def ships(t: Target, path: str) -> bool:
    """Whether ``path`` is one fsguard itself writes (any version): the only paths an install
    manifest may name. A manifest naming anything else was not written by fsguard."""
    if not path.startswith("/") or "/../" in path + "/" or "/./" in path + "/" or "//" in path or "\0" in path:
        return False
    if path in edit_targets(t) or path in (CLI, "/etc/fsguard/fsguard.conf", "/etc/cron.d/fsguard",
                                           f"{t.conf_dir}/dialplan/public/{NOT_FOUND_FILE_NAME}"):
        return True
    prefixes = [f"{LIB_DIR}/", f"{t.scripts_dir}/fs_python/", f"{t.scripts_dir}/fsguard/"]
    if t.web_root:
        prefixes.append(f"{t.web_root}/app/fsguard/")
    if path.startswith(tuple(prefixes)):
        return True
    return bool(re.fullmatch(r"/etc/fail2ban/(?:filter\.d|jail\.d|action\.d)/fsguard[\w.-]*"
                             r"|/etc/systemd/system/fsguard[\w.-]*\.(?:service|timer)", path))


def ships_dir(t: Target, path: str) -> bool:
    """Directories fsguard may have made (and removes when empty on uninstall)."""
    return path in ("/var/lib/fsguard", "/etc/fsguard", LIB_DIR, f"{t.scripts_dir}/fs_python",
                    f"{t.scripts_dir}/fsguard") or ships(t, path + "/x") and not path.endswith("/")


def app_dir() -> Path:
    for cand in (PKG_DIR.parent / "fusionpbx_app", PKG_DIR / "data" / "fusionpbx_app"):
        if cand.is_dir():
            return cand
    return PKG_DIR.parent / "fusionpbx_app"


def _tree(src: Path, dest: str) -> list[Desired]:
    out = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if not p.is_file() or SKIP_PARTS & set(rel.parts) or p.suffix in (".pyc", ".pyo"):
            continue
        out.append(Desired(f"{dest}/{rel.as_posix()}", p.read_bytes(), source="package"))
    return out


def package(t: Target) -> tuple[list[Desired], list[str]]:
    """Two copies. FreeSWITCH's scripts dir gets ``fs_python/`` only (the code mod_python3 loads;
    FusionPBX re-chowns that tree to www-data, so only FreeSWITCH ever runs this copy). The whole
    product (``fs_python`` + ``fsguard``, with the app and sql/ in its data dir so the installed
    copy can reinstall, render and upgrade alone) goes to :data:`LIB_DIR`, which root runs."""
    fs_pkg = PKG_DIR.parent / "fs_python"  # what mod_python3 loads (standard library only)
    files = _tree(fs_pkg, f"{t.scripts_dir}/fs_python") + _tree(fs_pkg, f"{LIB_DIR}/fs_python")
    dest = f"{LIB_DIR}/fsguard"
    lib = _tree(PKG_DIR, dest)
    have = {d.path for d in lib}
    for src, sub in ((app_dir(), "fusionpbx_app"), (PKG_DIR.parent / "sql", "sql")):
        if src.is_dir() and src != PKG_DIR / "data" / sub:
            lib += [d for d in _tree(src, f"{dest}/data/{sub}") if d.path not in have]
    lib.append(Desired(F2B_PLACEHOLDER, b"", source="package"))
    return files + lib, []


def launcher(args: str = '"$@"') -> str:
    """The one way root starts fsguard: system python3, isolated, with LIB_DIR first on sys.path."""
    return (f"/usr/bin/python3 -I -c 'import sys; sys.path.insert(0, \"{LIB_DIR}\"); "
            f"from fsguard.cli import main; sys.exit(main())' {args}")


def fusion_app(t: Target) -> tuple[list[Desired], list[str]]:
    if t.kind != "fusionpbx":
        return [], []
    src = app_dir()
    if not src.is_dir():
        return [], [f"fusionpbx_app not found next to {PKG_DIR}: the GUI is not installed"]
    files = _tree(src, f"{t.web_root}/app/fsguard")
    for d in files:
        d.source = "app"
    return files, []


def cli_wrapper(t: Target) -> tuple[list[Desired], list[str]]:
    text = (f"#!/bin/sh\n# fsguard CLI (written by fsguard install): the product lives in {LIB_DIR} (root-owned).\n"
            f"exec {launcher()}\n")
    return [Desired(CLI, text.encode(), mode=0o755, source="cli")], []


def config_file(t: Target, token: str, state_dir: str) -> tuple[list[Desired], list[str]]:
    lines = [
        "# fsguard configuration, written once by `fsguard install`. Edit freely: install never",
        "# overwrites this file, and uninstall keeps it if you changed it.",
        "[fsguard]", f"state_dir = {state_dir}", f"event_token = {token}", "", "[store]",
    ]
    if t.kind == "fusionpbx":
        lines += ["kind = pgsql"] + [f"{k} = {v}" for k, v in t.db.items() if v]
    else:
        lines += ["kind = sqlite", f"path = {state_dir}/fsguard.db"]
    lines += ["", "[freeswitch]", f"conf_dir = {t.conf_dir}", f"scripts_dir = {t.scripts_dir}", f"log = {t.log_file}"]
    # fail2ban's fsguard action (run by root) imports fsguard from the root-owned copy.
    lines += ["", "[fail2ban]", f"pythonpath = {LIB_DIR}"]
    if t.kind == "fusionpbx":
        lines += ["", "[fusionpbx]", f"config = {t.fusion_config}", f"web_root = {t.web_root}",
                  f"cache_method = {t.cache_method}", f"cache_dir = {t.cache_dir}"]
    return [Desired("/etc/fsguard/fsguard.conf", ("\n".join(lines) + "\n").encode(), kind="seed", mode=0o640,
                    source="config", group_of=str(Path(t.log_file).parent))], []


# -- reversible edits of files fsguard does not own ----------------------------------------------
def _mask_comments(text: str) -> str:
    """Comments blanked (same length) so searches skip them but offsets still fit the original."""
    return re.sub(r"<!--.*?-->", lambda m: " " * len(m.group(0)), text, flags=re.S)


def add_startup_script(original: bytes) -> bytes:
    text = original.decode("utf-8")
    masked = _mask_comments(text)
    if re.search(r'<param\s+name="startup-script"\s+value="' + re.escape(MONITOR) + r'"', masked):
        return original
    m = re.search(r"<settings\s*>", masked)
    line = f'\n    <param name="startup-script" value="{MONITOR}"/><!-- {MARK} -->'
    if m:
        return (text[: m.end()] + line + text[m.end():]).encode()
    m = re.search(r"<configuration\b[^>]*>", masked)
    if not m:
        raise Misconfigured("python.conf.xml has no <configuration> element")
    block = f"\n  <settings><!-- {MARK} -->{line}\n  </settings>"
    return (text[: m.end()] + block + text[m.end():]).encode()


def set_profile_param(name: str, value: str) -> Callable[[bytes], bytes]:
    def edit(original: bytes) -> bytes:
        text = original.decode("utf-8")
        masked = _mask_comments(text)
        pat = re.compile(r'<param\s+name="' + re.escape(name) + r'"\s+value="([^"]*)"\s*/>')
        found = list(pat.finditer(masked))
        if found:
            for m in reversed(found):
                if m.group(1) != value:
                    text = text[: m.start(1)] + value + text[m.end(1):]
            return text.encode()
        s = re.search(r"<settings\s*>", masked)
        if not s:
            raise Misconfigured(f"SIP profile has no <settings>: cannot set {name}")
        return (text[: s.end()] + f'\n    <param name="{name}" value="{value}"/><!-- {MARK} -->'
                + text[s.end():]).encode()
    return edit


def load_module(original: bytes) -> bytes:
    """Load mod_python3 right after mod_commands: its startup-script (the monitor) runs while
    mod_python3 loads, and ``show registrations`` must exist by then (reference freeswitch.md §7).
    Our own line placed before mod_commands by an older install is moved; an admin's own
    mod_python3 line is left where it is (the monitor retries its seed)."""
    text = original.decode("utf-8")
    masked = _mask_comments(text)
    existing = re.search(r'<load\s+module="mod_python3"\s*/>', masked)
    commands = re.search(r'<load\s+module="mod_commands"\s*/>', masked)
    if existing:
        if commands is None or existing.start() > commands.start():
            return original
        ours = re.search(r'\n?[ \t]*<load\s+module="mod_python3"\s*/><!-- ' + re.escape(MARK) + " -->", text)
        if ours is None:
            return original
        text = text[: ours.start()] + text[ours.end():]
        masked = _mask_comments(text)
        commands = re.search(r'<load\s+module="mod_commands"\s*/>', masked)
    if commands is not None:
        eol = masked.find("\n", commands.end())
        at = len(text) if eol < 0 else eol
    else:
        m = re.search(r"<modules\s*>", masked)
        if not m:
            raise Misconfigured("modules.conf.xml has no <modules> element")
        at = m.end()
    return (text[:at] + f'\n    <load module="mod_python3"/><!-- {MARK} -->' + text[at:]).encode()


PYTHON_CONF = (
    f"<!-- {MARK}: mod_python3 settings (written by fsguard install, removed by fsguard uninstall) -->\n"
    '<configuration name="python.conf" description="Python Configuration">\n'
    "  <settings>\n"
    f'    <param name="startup-script" value="{MONITOR}"/>\n'
    "  </settings>\n"
    "</configuration>\n")

NOT_FOUND_XML = (
    f"<!-- {MARK}: the public context's last extension (file named to sort last in public/*.xml).\n"
    "     Calls nothing else answered: logged with the caller's network IP, answered 404. -->\n"
    "<include>\n"
    '  <extension name="fsguard-not-found">\n'
    '    <condition field="destination_number" expression="^(.*)$">\n'
    '      <action application="set" data="call_direction=inbound" inline="true"/>\n'
    f'      <action application="python" data="{NOT_FOUND}"/>\n'
    '      <action application="respond" data="404 Not Found"/>\n'
    "    </condition>\n"
    "  </extension>\n"
    "</include>\n")
NOT_FOUND_FILE = NOT_FOUND_FILE_NAME


def freeswitch_conf(t: Target) -> tuple[list[Desired], list[str]]:
    out: list[Desired] = []
    notes: list[str] = []
    py = f"{t.conf_dir}/autoload_configs/python.conf.xml"
    # Edited when it exists (reversibly); created whole when it does not.
    out.append(Desired(py, PYTHON_CONF.encode(), kind="edit", edit=add_startup_script, source="freeswitch"))
    if t.kind == "freeswitch":
        out.append(Desired(f"{t.conf_dir}/dialplan/public/{NOT_FOUND_FILE}", NOT_FOUND_XML.encode(),
                           source="freeswitch"))
        prof = f"{t.conf_dir}/sip_profiles/internal.xml"
        if t.r(prof).exists():
            out.append(Desired(prof, kind="edit", edit=set_profile_param("log-auth-failures", "true"),
                               source="freeswitch"))
        else:
            notes.append(f"{prof} not found: set log-auth-failures=true on your internal profile yourself")
        mods = f"{t.conf_dir}/autoload_configs/modules.conf.xml"
        if t.r(mods).exists():
            out.append(Desired(mods, kind="edit", edit=load_module, source="freeswitch"))
    else:
        notes.append("FusionPBX loads modules from Advanced > Modules: make sure mod_python3 is enabled there")
    return out, notes


def _render_dir(t: Target, producer: Callable[[Path], object], dest: str, source: str) -> list[Desired]:
    with tempfile.TemporaryDirectory(prefix="fsguard-render-") as tmp:
        producer(Path(tmp))
        return [Desired(f"{dest}/{p.relative_to(tmp).as_posix()}", p.read_bytes(),
                        mode=0o644, source=source)
                for p in sorted(Path(tmp).rglob("*")) if p.is_file()]


def fail2ban(t: Target, cfg: object) -> tuple[list[Desired], list[str]]:
    """fsguard's own fail2ban files (filter.d/fsguard-*, jail.d/fsguard.local, action.d/fsguard*)."""
    from fsguard.f2b import render

    try:
        return _fail2ban_files(t, cfg, render.render_config)
    except (render.RenderError, fsconfig.ConfigError) as exc:
        raise Misconfigured(f"fail2ban config cannot be rendered: {exc}") from None


def _fail2ban_files(t: Target, cfg: object, render: Callable[..., object]) -> tuple[list[Desired], list[str]]:
    files = _render_dir(t, lambda d: render(cfg, d, logpath=Path(t.log_file), private=False,
                                            placeholder=F2B_PLACEHOLDER), "/etc/fail2ban", "fail2ban")
    for d in files:
        if "/filter.d/fsguard-events" in d.path:
            d.mode = 0o600  # carries the event token: root's only
    bad = [d.path for d in files if not re.search(r"/(filter\.d|jail\.d|action\.d)/fsguard[^/]*$", d.path)]
    if bad:
        raise Misconfigured(f"fail2ban renderer produced files fsguard does not own: {', '.join(bad)}")
    return files, []


# The service loop that consumes the GUI queue and keeps fail2ban's ignore list in sync. Used
# unless fsguard/data/systemd ships its own fsguard.service.
SERVICE_UNIT = """[Unit]
Description=fsguard service: fail2ban ignore-list sync, ban evidence, FusionPBX action queue
After=network-online.target fail2ban.service postgresql.service
Wants=network-online.target

[Service]
Type=simple
ExecStart=@FSGUARD@ service
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


def systemd_units(t: Target) -> tuple[list[Desired], list[str]]:
    """Units: templates other areas ship (fsguard/data/systemd/fsguard*.{service,timer}), plus
    fsguard.service for the service loop. ``@FSGUARD@`` becomes the CLI wrapper's path."""
    cron = PKG_DIR / "data" / "cron" / "fsguard"
    # Whether systemd is *running* (its runtime dir), not whether /etc/systemd exists: Debian has
    # /etc/systemd in containers and chroots where nothing would ever start the units.
    running = t.r("/run/systemd/system").is_dir()
    if not running and t.r("/etc/cron.d").is_dir() and cron.is_file():
        # The cron.d alternative: boot firewall, feed refresh, and the service loop (started every
        # minute if not running; a second copy exits at once, see `fsguard service`).
        text = cron.read_text(encoding="utf-8").replace("@FSGUARD@", CLI)
        return [Desired("/etc/cron.d/fsguard", text.encode(), source="cron")], [
            "systemd is not running: installed /etc/cron.d/fsguard instead of units; cron starts the "
            f"service loop (`{CLI} service`) within a minute and after every reboot (check: fsguard status)"]
    src = PKG_DIR / "data" / "systemd"
    units = {p.name: p.read_text(encoding="utf-8")
             for p in (sorted(src.glob("fsguard*")) if src.is_dir() else []) if p.suffix in (".service", ".timer")}
    units.setdefault("fsguard.service", SERVICE_UNIT)
    notes = [] if running else [
        "systemd is not running and there is no /etc/cron.d: units written but nothing starts them; start "
        f"`{CLI} service` (the service loop), `{CLI} firewall apply` at boot and `{CLI} feeds update` every 4 h "
        "from your init system (check: fsguard status)"]
    if not any(n.endswith(".timer") for n in units):
        notes.append("systemd: no feed-refresh timer template in fsguard/data/systemd: run `fsguard feeds update` "
                     "from cron every 4 h")
    out = [Desired(f"/etc/systemd/system/{name}", text.replace("@FSGUARD@", CLI).encode(),
                   source="systemd") for name, text in sorted(units.items())]
    return out, notes
