"""What root may believe before it acts: the install manifest, the state directory, the config.

The manifest drives file restores and row deletes as root, so it must be root's own file (checked
when loaded, see ``files.Manifest.load``) *and* name only what fsguard itself ships: files under
its own names, the few FreeSWITCH files it edits, rows of the FusionPBX tables it writes, its own
``v_fsguard_*`` tables. Anything else means the file was forged (an older install kept it in a
directory www-data could write): refused with the entry named, nothing done.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from fsguard import safefs
from fsguard.install import sources
from fsguard.install.files import Manifest, ManifestRefused
from fsguard.install.target import Misconfigured, Target
from fsguard.store import schema

# FusionPBX tables fsguard writes rows into, with their key column.
ROW_TABLES = {
    "v_dialplans": "dialplan_uuid", "v_dialplan_details": "dialplan_detail_uuid",
    "v_sip_profile_settings": "sip_profile_setting_uuid", "v_permissions": "permission_uuid",
    "v_group_permissions": "group_permission_uuid", "v_menu_items": "menu_item_uuid",
    "v_menu_languages": "menu_language_uuid", "v_menu_item_groups": "menu_item_group_uuid",
    "v_default_settings": "default_setting_uuid",
}
# Columns of FusionPBX's own rows fsguard changes (and restores): nothing else.
UPDATE_COLUMNS = {"v_dialplans": {"dialplan_enabled"},
                  "v_sip_profile_settings": {"sip_profile_setting_value", "sip_profile_setting_enabled"}}
OWN_TABLES = {t.name for t in schema.TABLES}


def _refuse(m: Manifest, what: str) -> ManifestRefused:
    return ManifestRefused(f"{m.path}: refused: {what}. fsguard never writes that, so the manifest was not written "
                           "by fsguard; nothing was changed. Check the host, then remove the file and re-run")


def check_manifest(t: Target, m: Manifest) -> None:
    files = m.data.get("files")
    if not isinstance(files, dict):
        raise _refuse(m, "'files' is not an object")
    for path, rec in files.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
            raise _refuse(m, f"entry {str(path)[:120]!r} is malformed")
        if not sources.ships(t, path):
            raise _refuse(m, f"it names {str(path)[:120]!r}")
        if rec.get("kind") == "edit" and rec.get("original_backup") and path not in sources.edit_targets(t):
            raise _refuse(m, f"it restores {path!r}, which fsguard does not edit")
    for d in m.data.get("dirs", []):
        if not isinstance(d, str) or not d.startswith("/") or "/.." in d:
            raise _refuse(m, f"directory {str(d)[:120]!r}")
    for name in m.data.get("tables_created", []):
        if name not in OWN_TABLES:
            raise _refuse(m, f"it would drop table {str(name)[:80]!r}")
    for j in m.data.get("rows", []):
        _check_row(m, j)


def _check_row(m: Manifest, j: Any) -> None:
    if not isinstance(j, dict):
        raise _refuse(m, "a row entry is not an object")
    table, key = j.get("table"), j.get("key")
    if ROW_TABLES.get(str(table)) != key:
        raise _refuse(m, f"it acts on rows of {str(table)[:60]!r} ({str(key)[:60]!r})")
    if j.get("action") not in ("insert", "update"):
        raise _refuse(m, f"row action {str(j.get('action'))[:20]!r}")
    if j.get("action") == "update" and table in UPDATE_COLUMNS:
        cols = set(j.get("values") or {}) | set(j.get("before") or {})
        if cols - UPDATE_COLUMNS[str(table)]:
            raise _refuse(m, f"it restores {sorted(cols - UPDATE_COLUMNS[str(table)])} of a {table} row")


def check_pythonpath(t: Target, value: str) -> None:
    """``[fail2ban] pythonpath`` is where fail2ban (root) imports fsguard from: never a directory
    FreeSWITCH or www-data can write (older installs set the FreeSWITCH scripts dir)."""
    if not value or value == sources.LIB_DIR:
        return
    fs_dirs = [t.scripts_dir, t.conf_dir, str(Path(t.log_file).parent), t.web_root, "/var/lib/fsguard/fs"]
    inside = [d for d in fs_dirs if d and (value == d or value.startswith(d.rstrip("/") + "/"))]
    bad = f"is inside {inside[0]}, which FreeSWITCH/FusionPBX own" if inside else None
    if bad is None:
        who = safefs.untrusted_parent(t.r(value))
        bad = f"can be written by another user than root: {who}" if who else None
    if bad:
        raise Misconfigured(
            f"/etc/fsguard/fsguard.conf: [fail2ban] pythonpath = {value} {bad}; fail2ban runs as root and would "
            f"import code from there. Set `pythonpath = {sources.LIB_DIR}` (or remove the line), then run "
            "`fsguard install` again")


def fs_owner(t: Target) -> tuple[int, int]:
    """FreeSWITCH's user and group: the owner of the directory it writes its log into."""
    for d in (str(Path(t.log_file).parent), t.conf_dir):
        try:
            st = os.stat(t.r(d))
        except OSError:
            continue
        return st.st_uid, st.st_gid
    return 0, 0


def secure_state_dir(state: Path, fs_dir: Path, owner: tuple[int, int], made: list[str]) -> list[str]:
    """The state dir root's only (0755 root:root: FreeSWITCH and the GUI read the snapshots);
    FreeSWITCH's one writable place is ``fs/`` (its registrations snapshot). Files another user
    owns in root's part (left from when the dir was group-writable) are removed: root trusts none
    of them. Returns notes."""
    notes: list[str] = []
    safefs.set_dir(state, 0o755, 0, 0, made=made)
    safefs.set_dir(fs_dir, 0o755, *owner, made=made)
    with safefs.dir_fd(state) as d:
        for name in sorted(os.listdir(d)):
            if name == fs_dir.name:
                continue
            st = os.stat(name, dir_fd=d, follow_symlinks=False)
            if st.st_uid != 0 or stat.S_ISLNK(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    notes.append(f"{state / name}: a directory owned by uid {st.st_uid} in fsguard's state dir; "
                                 "left in place but never read: remove it")
                    continue
                os.unlink(name, dir_fd=d)
                notes.append(f"removed {state / name} (owned by uid {st.st_uid}, not root: root does not trust it)")
            elif st.st_mode & 0o022 and not stat.S_ISLNK(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d)
                try:
                    os.fchmod(fd, st.st_mode & 0o7755)
                finally:
                    os.close(fd)
    return notes
