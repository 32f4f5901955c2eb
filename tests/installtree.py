"""Target trees for installer tests: a FusionPBX host or a plain FreeSWITCH host under a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

DEBIAN_PYTHON_CONF = """<configuration name="python.conf" description="Python Configuration">
  <settings>
    <!-- <param name="xml-handler-script" value="dp"/> -->
    <!-- <param name="startup-script" value="startup"/> -->
  </settings>
</configuration>
"""

PUBLIC_XML = """<include>
  <context name="public">
    <extension name="unloop">
      <condition field="${unroll_loops}" expression="^true$"/>
      <condition field="${sip_looped_call}" expression="^true$">
        <action application="deflect" data="${destination_number}"/>
      </condition>
    </extension>
    <extension name="outside_call" continue="true">
      <condition>
        <action application="set" data="outside_call=true"/>
        <action application="export" data="RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="public/*.xml"/>
  </context>
</include>
"""

INTERNAL_XML = """<profile name="internal">
  <settings>
    <param name="debug" value="0"/>
    <!-- <param name="log-auth-failures" value="false"/> in a comment must be left alone -->
    <param name="sip-port" value="$${internal_sip_port}"/>
    <param name="log-auth-failures" value="false"/>
    <param name="auth-calls" value="$${internal_auth_calls}"/>
  </settings>
</profile>
"""

MODULES_XML = """<configuration name="modules.conf" description="Modules">
  <modules>
    <load module="mod_console"/>
    <load module="mod_logfile"/>
    <load module="mod_sofia"/>
    <!-- <load module="mod_python3"/> -->
  </modules>
</configuration>
"""


def _w(root: Path, rel: str, text: str | bytes, mode: int = 0o644) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    p.chmod(mode)


DPKG_LIST = Path("/var/lib/dpkg/info/fail2ban.list")


def with_fail2ban(root: Path) -> None:
    """Debian's fail2ban config as its package ships it, minus Debian's sshd jail (no auth.log here).

    Only the files the package owns (its dpkg file list): never what this host added to
    /etc/fail2ban since (a jail.local, or fsguard's own files from an install or a drill on this
    machine), so the tests do not depend on the host's /etc state."""
    if not Path("/etc/fail2ban/jail.conf").exists():
        return
    dest = root / "etc/fail2ban"
    if DPKG_LIST.exists():
        for line in DPKG_LIST.read_text(encoding="utf-8").splitlines():
            src = Path(line)
            if line.startswith("/etc/fail2ban/") and (src.is_file() or src.is_symlink()):
                out = root / line.lstrip("/")
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out, follow_symlinks=False)
        for sub in ("filter.d", "action.d", "jail.d", "fail2ban.d"):
            (dest / sub).mkdir(parents=True, exist_ok=True)
    else:  # not a dpkg host: the tree, without anything of fsguard's
        shutil.copytree("/etc/fail2ban", dest, symlinks=True,
                        ignore=shutil.ignore_patterns("fsguard*", "__pycache__", "jail.local"))
    (dest / "jail.d/defaults-debian.conf").unlink(missing_ok=True)


def fusion_tree(root: Path, db: dict[str, str]) -> Path:
    _w(root, "etc/fusionpbx/config.conf", "\n".join([
        "#database system settings",
        "database.0.type = pgsql",
        f"database.0.host = {db['host']}",
        f"database.0.port = {db['port']}",
        "database.0.sslmode = prefer",
        f"database.0.name = {db['dbname']}",
        f"database.0.username = {db['user']}",
        f"database.0.password = {db['password']}",
        "", "#general settings", "document.root = /var/www/fusionpbx", "project.path =",
        "switch.conf.dir = /etc/freeswitch", "switch.scripts.dir = /usr/share/freeswitch/scripts",
        "switch.database.dir = /var/lib/freeswitch/db", "",
        "cache.method = file", "cache.location = /var/cache/fusionpbx", ""]), 0o640)
    _w(root, "var/www/fusionpbx/index.php", "<?php\n")
    _w(root, "var/www/fusionpbx/app/dialplans/app_config.php", "<?php\n")
    _w(root, "etc/freeswitch/freeswitch.xml", "<document type=\"freeswitch/xml\"/>\n")
    _w(root, "etc/freeswitch/autoload_configs/python.conf.xml", DEBIAN_PYTHON_CONF)
    _w(root, "usr/lib/freeswitch/mod/mod_python3.so", b"\x7fELF")
    _w(root, "usr/share/freeswitch/scripts/app.lua", "-- FusionPBX lua\n")
    _w(root, "var/cache/fusionpbx/dialplan.public", "cached xml\n")
    _w(root, "var/cache/fusionpbx/configuration.sofia.conf.pbx1", "cached sofia\n")
    # FusionPBX 5.5 caches the profile under the host's name (fusionpbx.md, "Observed on ... 5.5")
    _w(root, "var/cache/fusionpbx/pbx1.example.com.configuration.sofia.conf", "cached sofia (5.5)\n")
    _w(root, "var/www/fusionpbx/core/software/resources/classes/software.php",
       "<?php\nif (!class_exists('software')) {\n\tclass software {\n\t\tpublic static function version() {\n"
       "\t\t\treturn '5.5.0';\n\t\t}\n\t}\n}\n")
    _w(root, "var/cache/fusionpbx/languages.en-us", "unrelated cache entry\n")
    _w(root, "var/log/freeswitch/freeswitch.log", "")
    with_fail2ban(root)
    return root


def freeswitch_tree(root: Path, *, layout: str = "debian") -> Path:
    conf = "etc/freeswitch" if layout == "debian" else "usr/local/freeswitch/conf"
    mods = "usr/lib/freeswitch/mod" if layout == "debian" else "usr/local/freeswitch/mod"
    scripts = "usr/share/freeswitch/scripts" if layout == "debian" else "usr/local/freeswitch/scripts"
    _w(root, f"{conf}/freeswitch.xml", "<document type=\"freeswitch/xml\"/>\n")
    _w(root, f"{conf}/dialplan/public.xml", PUBLIC_XML)
    _w(root, f"{conf}/dialplan/public/00_inbound_did.xml", "<include/>\n")
    _w(root, f"{conf}/sip_profiles/internal.xml", INTERNAL_XML, 0o640)
    _w(root, f"{conf}/autoload_configs/modules.conf.xml", MODULES_XML)
    _w(root, f"{mods}/mod_python3.so", b"\x7fELF")
    (root / scripts).mkdir(parents=True, exist_ok=True)
    log = "var/log/freeswitch" if layout == "debian" else "usr/local/freeswitch/log"
    _w(root, f"{log}/freeswitch.log", "")
    with_fail2ban(root)
    return root


def tree_state(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[bytes, int] | str]:
    """Every file (bytes, mode) and directory under root: before/after compared exactly."""
    out: dict[str, tuple[bytes, int] | str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(skip):
            continue
        out[rel] = "dir" if p.is_dir() else (p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


_FROZEN: dict[str, Path] = {}


def frozen_package(factory: Any) -> Path:
    """A copy of fs_python, fsguard (and fusionpbx_app next to them) taken once per session: other work on the
    checkout while the tests run must not make a second install look like an upgrade."""
    if "pkg" not in _FROZEN:
        base = factory.mktemp("frozen")
        src = Path(__file__).resolve().parent.parent
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(src / "fs_python", base / "fs_python", ignore=ignore)
        shutil.copytree(src / "fsguard", base / "fsguard", ignore=ignore)
        shutil.copytree(src / "fusionpbx_app", base / "fusionpbx_app", ignore=ignore)
        _FROZEN["pkg"] = base / "fsguard"
    return _FROZEN["pkg"]
