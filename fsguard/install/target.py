"""What is installed on this host (or under ``--root``), and preflight with distinct errors.

``NotInstalled``: FreeSWITCH (or the piece fsguard hooks into) is not there.
``Misconfigured``: it is there but something fsguard needs is broken (config.conf without a
database, a database that refuses the connection, a dialplan that does not include its directory).
``Unsupported``: it is there but too old or built without what fsguard needs (mod_python3).

Paths are kept as the live host sees them (``/etc/freeswitch``); :meth:`Target.r` maps one under
``--root`` so a whole target tree can be rendered or tested anywhere.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsguard.store import Store


class PreflightError(Exception):
    kind = "preflight"


class NotInstalled(PreflightError):
    kind = "not-installed"


class Misconfigured(PreflightError):
    kind = "misconfigured"


class Unsupported(PreflightError):
    kind = "unsupported"


MIN_PYTHON = (3, 11)
FUSION_CONFIGS = ("/etc/fusionpbx/config.conf", "/usr/local/etc/fusionpbx/config.conf")
# (conf dir, scripts dir, log dir, module dir): Debian packages first, then a source build.
FS_LAYOUTS = (
    ("/etc/freeswitch", "/usr/share/freeswitch/scripts", "/var/log/freeswitch", "/usr/lib/freeswitch/mod"),
    ("/usr/local/freeswitch/conf", "/usr/local/freeswitch/scripts", "/usr/local/freeswitch/log",
     "/usr/local/freeswitch/mod"),
)


@dataclass
class Target:
    root: Path
    kind: str  # fusionpbx | freeswitch
    conf_dir: str
    scripts_dir: str
    log_file: str
    mod_dir: str
    fusion_config: str = ""
    db: dict[str, str] = field(default_factory=dict)
    web_root: str = ""
    cache_method: str = "file"
    cache_dir: str = "/var/cache/fusionpbx"
    esl: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def r(self, host_path: str | Path) -> Path:
        """The real location of a host path under --root."""
        p = Path(host_path)
        return self.root / p.relative_to("/") if p.is_absolute() else self.root / p

    @property
    def live(self) -> bool:
        """True when installing onto the running host (reloads and rescans make sense)."""
        return self.root.resolve() == Path("/")


def parse_fusion_config(text: str) -> dict[str, str]:
    """FusionPBX config.conf: ``key = value`` lines, ``#`` comments."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def _python_ok() -> None:
    if tuple(sys.version_info[:2]) < MIN_PYTHON:
        raise Unsupported(f"python {sys.version.split()[0]} is too old: fsguard needs the system python3 3.11+")


def _find_layout(root: Path, conf_hint: str = "") -> tuple[str, str, str, str] | None:
    for layout in FS_LAYOUTS:
        if conf_hint and layout[0] != conf_hint:
            continue
        if (root / layout[0].lstrip("/") / "freeswitch.xml").is_file() or conf_hint:
            return layout
    return None


def _check_mod_python3(t: Target) -> None:
    mods = [t.r(layout[3]) for layout in FS_LAYOUTS]
    if any((m / "mod_python3.so").exists() for m in mods):
        return
    raise Unsupported(
        "mod_python3 is not installed (no mod_python3.so in " + " or ".join(str(m) for m in mods) + "): "
        "fsguard needs FreeSWITCH 1.10.7 or later with mod_python3 (Debian: freeswitch-mod-python3)")


def detect(root: Path | str = "/") -> Target:
    """Find FusionPBX or plain FreeSWITCH under ``root``; raise a PreflightError saying what is wrong."""
    _python_ok()
    rootp = Path(root)
    for cfg_path in FUSION_CONFIGS:
        p = rootp / cfg_path.lstrip("/")
        if p.is_file():
            return _fusion_target(rootp, cfg_path, p)
    layout = _find_layout(rootp)
    if layout is None:
        raise NotInstalled(
            "FreeSWITCH not found: no freeswitch.xml in /etc/freeswitch or /usr/local/freeswitch/conf"
            + (f" under {rootp}" if str(rootp) != "/" else "") + ", and no FusionPBX config.conf")
    t = Target(rootp, "freeswitch", layout[0], layout[1], layout[2] + "/freeswitch.log", layout[3])
    _check_mod_python3(t)
    public_xml = t.r(t.conf_dir) / "dialplan" / "public.xml"
    if not public_xml.is_file():
        raise Misconfigured(f"{t.conf_dir}/dialplan/public.xml not found: fsguard adds its last public extension there")
    text = public_xml.read_text(encoding="utf-8", errors="replace")
    if not re.search(r'cmd="include"\s+data="public/\*\.xml"', text):
        raise Misconfigured(f"{t.conf_dir}/dialplan/public.xml does not include public/*.xml "
                            "(add <X-PRE-PROCESS cmd=\"include\" data=\"public/*.xml\"/> as its last extension)")
    return t


def _fusion_target(rootp: Path, cfg_host: str, cfg_real: Path) -> Target:
    try:
        conf = parse_fusion_config(cfg_real.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise Misconfigured(f"{cfg_host}: cannot read: {exc}") from None
    if conf.get("database.0.type", "pgsql") != "pgsql":
        raise Unsupported(f"{cfg_host}: database.0.type = {conf.get('database.0.type')}: only pgsql is supported")
    missing = [k for k in ("database.0.name", "database.0.username") if not conf.get(k)]
    if missing:
        raise Misconfigured(f"{cfg_host}: no {', '.join(missing)}: cannot find FusionPBX's database")
    conf_dir = conf.get("switch.conf.dir", "/etc/freeswitch")
    scripts = conf.get("switch.scripts.dir", "/usr/share/freeswitch/scripts")
    layout = _find_layout(rootp, conf_dir) or FS_LAYOUTS[0]
    log_dir = conf.get("switch.log.dir", layout[2])
    t = Target(
        rootp, "fusionpbx", conf_dir, scripts, log_dir + "/freeswitch.log", layout[3], fusion_config=cfg_host,
        web_root=conf.get("document.root", "/var/www/fusionpbx"),
        cache_method=conf.get("cache.method", "file"),
        cache_dir=conf.get("cache.location", "/var/cache/fusionpbx"),
        esl={k: conf.get(f"switch.event_socket.{k}", d)
             for k, d in (("host", "127.0.0.1"), ("port", "8021"), ("password", "ClueCon"))},
    )
    t.db = {
        "host": conf.get("database.0.host", "localhost"),
        "port": conf.get("database.0.port", "5432"),
        "dbname": conf["database.0.name"],
        "user": conf["database.0.username"],
        "password": conf.get("database.0.password", ""),
        "sslmode": conf.get("database.0.sslmode", "prefer"),
    }
    if not t.r(t.web_root).is_dir():
        raise NotInstalled(f"FusionPBX web root {t.web_root} not found (document.root in {cfg_host})")
    if not t.r(t.conf_dir).is_dir():
        raise NotInstalled(f"FreeSWITCH conf dir {t.conf_dir} not found (switch.conf.dir in {cfg_host})")
    _check_mod_python3(t)
    _check_fusion_version(t)
    return t


MIN_FUSIONPBX = (5, 4)  # the app's pages use the global $database, which FusionPBX has from 5.4 on
SOFTWARE_PHP = "core/software/resources/classes/software.php"  # class software: version() { return 'x.y.z'; }


def fusion_version(t: Target) -> tuple[int, ...] | None:
    """FusionPBX's version from its ``software::version()``, or None when it cannot be read."""
    try:
        text = t.r(t.web_root).joinpath(SOFTWARE_PHP).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r"function\s+version\s*\(\s*\)\s*\{\s*return\s+['\"](\d+)\.(\d+)(?:\.(\d+))?['\"]", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _check_fusion_version(t: Target) -> None:
    version = fusion_version(t)
    if version is None:
        t.warnings.append(f"FusionPBX's version could not be read ({t.web_root}/{SOFTWARE_PHP}): fsguard's pages "
                          f"need FusionPBX {MIN_FUSIONPBX[0]}.{MIN_FUSIONPBX[1]} or later")
    elif version[:2] < MIN_FUSIONPBX:
        raise Unsupported(f"FusionPBX {'.'.join(map(str, version))} found: fsguard's pages need FusionPBX "
                          f"{MIN_FUSIONPBX[0]}.{MIN_FUSIONPBX[1]} or later (they use its global $database); "
                          "upgrade FusionPBX first (Advanced > Upgrade)")


REQUIRED_COLUMNS = {
    "v_dialplans": ("dialplan_uuid", "app_uuid", "dialplan_context", "dialplan_xml", "dialplan_order",
                    "dialplan_enabled"),
    "v_dialplan_details": ("dialplan_detail_uuid", "dialplan_uuid", "dialplan_detail_tag",
                           "dialplan_detail_enabled"),
    "v_sip_profiles": ("sip_profile_uuid", "sip_profile_name"),
    "v_sip_profile_settings": ("sip_profile_setting_uuid", "sip_profile_setting_name", "sip_profile_setting_value"),
    "v_menus": ("menu_uuid",),
    "v_menu_items": ("menu_item_uuid", "menu_uuid", "menu_item_parent_uuid", "uuid"),
    "v_menu_item_groups": ("menu_item_group_uuid", "group_uuid"),
    "v_menu_languages": ("menu_language_uuid",),
    "v_groups": ("group_uuid", "group_name"),
    "v_group_permissions": ("group_permission_uuid", "permission_name", "group_uuid"),
    "v_permissions": ("permission_uuid", "permission_name"),
    "v_default_settings": ("default_setting_uuid",),
}


def check_fusion_db(store: Store) -> None:
    """Unsupported when FusionPBX's schema lacks what fsguard writes; Misconfigured without an internal profile."""
    rows = store.query(
        "select table_name, column_name from information_schema.columns where table_schema = current_schema()")
    have: dict[str, set[str]] = {}
    for r in rows:
        have.setdefault(r["table_name"], set()).add(r["column_name"])
    for table, cols in REQUIRED_COLUMNS.items():
        lacking = [c for c in cols if c not in have.get(table, set())]
        if lacking:
            raise Unsupported(f"FusionPBX database has no {table}({', '.join(lacking)}): this FusionPBX version "
                              "is not supported (fsguard needs FusionPBX 5.x)")
    prof = store.query("select sip_profile_uuid from v_sip_profiles where sip_profile_name = 'internal'")
    if not prof:
        raise Misconfigured("FusionPBX has no SIP profile named 'internal' (Advanced > SIP Profiles)")
