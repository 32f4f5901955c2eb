"""fsguard's rows in a FusionPBX database: desired state, compared with what is there.

- fsguard's global public dialplan (order 999) in ``v_dialplans`` + ``v_dialplan_details`` with a
  ``dialplan_xml`` generated from the details the way FusionPBX's importer does; FusionPBX's own
  not-found dialplan(s) disabled so exactly one not-found extension runs;
- ``log-auth-failures = true`` on the internal profile (``v_sip_profile_settings``);
- the app's tables (``v_fsguard_*``), its menu item under Status in every menu that has Status,
  its menu languages and groups, its permissions for groups found by *name*, its default settings.

Never FusionPBX's Menu Defaults: that deletes and rebuilds every menu item. Each row fsguard adds
has a deterministic uuid (``appdef.row_uuid``), so a second install finds it and changes nothing.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from fsguard.install import appdef
from fsguard.install.rows import RowOp, current, norm
from fsguard.store import Store, schema

# (tag, type, data, inline, order): what the dialplan GUI shows, and what FreeSWITCH runs.
DETAILS: tuple[tuple[str, str, str, str | None, int], ...] = (
    ("condition", "destination_number", "^(.*)$", None, 5),
    ("action", "set", "call_direction=inbound", "true", 10),
    # The handler logs the event line (with the network IP) and answers 404 itself.
    ("action", "python", "fs_python.not_found", None, 15),
    # Safety net: FreeSWITCH continues with the next action when the Python handler raises.
    ("action", "respond", "404 Not Found", None, 20),
)


def dialplan_xml(details: list[dict[str, Any]], *, name: str, uuid: str, context: str = "public",
                 continue_: bool = False) -> str:
    """FusionPBX's rendering of enabled details: one <condition> per group, public gets the export."""
    lines = [f'<extension name={quoteattr(name)} continue="{"true" if continue_ else ""}" uuid={quoteattr(uuid)}>']
    enabled = sorted((d for d in details if d.get("dialplan_detail_enabled") is not False),
                     key=lambda d: (norm(d.get("dialplan_detail_group")) or 0, norm(d["dialplan_detail_order"])))
    open_cond = False
    first_action = True
    for d in enabled:
        tag = d["dialplan_detail_tag"]
        if tag == "condition":
            if open_cond:
                lines.append("\t</condition>")
            field_, expr = d.get("dialplan_detail_type") or "", d.get("dialplan_detail_data") or ""
            lines.append(f"\t<condition field={quoteattr(field_)} expression={quoteattr(expr)}>")
            open_cond = True
            continue
        if context == "public" and first_action:
            lines.append('\t\t<action application="export" data="call_direction=inbound" inline="true"/>')
        first_action = False
        inline = ' inline="true"' if d.get("dialplan_detail_inline") == "true" else ""
        app, data = d.get("dialplan_detail_type") or "", d.get("dialplan_detail_data") or ""
        lines.append(f"\t\t<{tag} application={quoteattr(app)} data={quoteattr(data)}{inline}/>")
    if open_cond:
        lines.append("\t</condition>")
    lines.append("</extension>")
    return "\n".join(lines)


def _detail_rows() -> list[dict[str, Any]]:
    out = []
    for tag, typ, data, inline, order in DETAILS:
        out.append({
            "dialplan_detail_uuid": appdef.row_uuid("dialplan_detail", str(order)),
            "domain_uuid": None, "dialplan_uuid": appdef.DIALPLAN_UUID,
            "dialplan_detail_tag": tag, "dialplan_detail_type": typ, "dialplan_detail_data": data,
            "dialplan_detail_break": None, "dialplan_detail_inline": inline,
            "dialplan_detail_group": 0, "dialplan_detail_order": order, "dialplan_detail_enabled": True,
        })
    return out


def _want(store: Store, ops: list[RowOp], table: str, key: str, uuid: str, values: dict[str, Any]) -> None:
    """Insert fsguard's row, or update the columns that drifted from what fsguard wants."""
    cur = current(store, table, key, uuid)
    vals = {k: v for k, v in values.items() if k != key}
    if cur is None:
        ops.append(RowOp(table, key, uuid, "insert", vals))
        return
    diff = {k: v for k, v in vals.items() if norm(cur.get(k)) != norm(v)}
    if diff:
        ops.append(RowOp(table, key, uuid, "update", diff, before={k: cur.get(k) for k in diff}))


def plan(store: Store) -> tuple[list[RowOp], list[str], list[str]]:
    """(row ops, tables to create, notes) that bring the database to fsguard's desired state."""
    ops: list[RowOp] = []
    notes: list[str] = []
    existing = {r["table_name"] for r in store.query(
        "select table_name from information_schema.tables where table_schema = current_schema()")}
    tables = [t.name for t in schema.TABLES if t.name not in existing]

    # 1. the not-found dialplan: details first, then the dialplan row with matching XML
    details = _detail_rows()
    for d in details:
        _want(store, ops, "v_dialplan_details", "dialplan_detail_uuid", d["dialplan_detail_uuid"], d)
    _want(store, ops, "v_dialplans", "dialplan_uuid", appdef.DIALPLAN_UUID, {
        "domain_uuid": None, "app_uuid": appdef.DIALPLAN_APP_UUID, "hostname": None,
        "dialplan_context": "public", "dialplan_name": appdef.DIALPLAN_NAME, "dialplan_number": None,
        "dialplan_destination": False, "dialplan_continue": False, "dialplan_order": 999,
        "dialplan_enabled": True,
        "dialplan_description": "fsguard: log calls to unknown numbers with the caller's network IP, answer 404",
        "dialplan_xml": dialplan_xml(details, name=appdef.DIALPLAN_NAME, uuid=appdef.DIALPLAN_UUID),
    })
    # exactly one not-found extension runs: FusionPBX's own ones are disabled (restored on uninstall)
    for r in store.query("select dialplan_uuid, dialplan_enabled from v_dialplans where app_uuid = :a "
                         "and dialplan_enabled is not false", {"a": appdef.FUSIONPBX_NOT_FOUND_APP_UUID}):
        ops.append(RowOp("v_dialplans", "dialplan_uuid", str(r["dialplan_uuid"]), "update",
                         {"dialplan_enabled": False}, before={"dialplan_enabled": r["dialplan_enabled"]},
                         note="FusionPBX's own not-found"))

    # 2. log-auth-failures on the internal profile
    prof = store.query("select sip_profile_uuid from v_sip_profiles where sip_profile_name = 'internal'")
    for p in prof:
        pu = str(p["sip_profile_uuid"])
        rows = store.query("select * from v_sip_profile_settings where sip_profile_uuid = :p "
                           "and sip_profile_setting_name = 'log-auth-failures'", {"p": pu})
        if not rows:
            _want(store, ops, "v_sip_profile_settings", "sip_profile_setting_uuid",
                  appdef.row_uuid("sip_setting", pu), {
                      "sip_profile_uuid": pu, "sip_profile_setting_name": "log-auth-failures",
                      "sip_profile_setting_value": "true", "sip_profile_setting_enabled": True,
                      "sip_profile_setting_description": "fsguard: sofia logs 403s for fail2ban"})
        for r in rows:
            want = {"sip_profile_setting_value": "true", "sip_profile_setting_enabled": True}
            diff = {k: v for k, v in want.items() if norm(r.get(k)) != v}
            if diff:
                ops.append(RowOp("v_sip_profile_settings", "sip_profile_setting_uuid",
                                 str(r["sip_profile_setting_uuid"]), "update", diff,
                                 before={k: r.get(k) for k in diff}, note="internal log-auth-failures"))

    # 3. groups by name (their uuids are random per install)
    groups = {r["group_name"]: str(r["group_uuid"]) for r in store.query(
        "select group_name, group_uuid from v_groups where domain_uuid is null")}
    _permissions(store, ops, notes, groups)
    _menu(store, ops, notes, groups)
    for du, sub, typ, value, desc in appdef.DEFAULT_SETTINGS:
        if current(store, "v_default_settings", "default_setting_uuid", du) is None:
            ops.append(RowOp("v_default_settings", "default_setting_uuid", du, "insert", {
                "app_uuid": appdef.APP_UUID, "default_setting_category": "fsguard",
                "default_setting_subcategory": sub, "default_setting_name": typ, "default_setting_value": value,
                "default_setting_enabled": True, "default_setting_description": desc}))
    return ops, tables, notes


def _permissions(store: Store, ops: list[RowOp], notes: list[str], groups: dict[str, str]) -> None:
    for perm, group_names in appdef.PERMISSIONS.items():
        pu = appdef.row_uuid("permission", perm)
        others = store.query("select permission_uuid from v_permissions where permission_name = :n "
                             "and permission_uuid <> :u", {"n": perm, "u": pu})
        if not others:
            _want(store, ops, "v_permissions", "permission_uuid", pu, {
                "application_uuid": appdef.APP_UUID, "application_name": appdef.APP_NAME,
                "permission_name": perm})
        for g in group_names:
            if g not in groups:
                notes.append(f"group {g!r} not found: {perm} not granted to it")
                continue
            gpu = appdef.row_uuid("group_permission", perm, groups[g])
            theirs = store.query("select group_permission_uuid from v_group_permissions where permission_name = :n "
                                 "and group_uuid = :g and group_permission_uuid <> :u",
                                 {"n": perm, "g": groups[g], "u": gpu})
            if theirs:
                continue  # FusionPBX's own permission upgrade already granted it: not ours to manage
            _want(store, ops, "v_group_permissions", "group_permission_uuid", gpu, {
                "domain_uuid": None, "permission_name": perm, "permission_protected": "false",
                "permission_assigned": "true", "group_name": g, "group_uuid": groups[g]})


def _menu(store: Store, ops: list[RowOp], notes: list[str], groups: dict[str, str]) -> None:
    parents = store.query("select menu_uuid, menu_item_uuid from v_menu_items where uuid = :s",
                          {"s": appdef.STATUS_MENU_UUID})
    if not parents:
        notes.append("no Status menu item found: fsguard's menu entry not added (open /app/fsguard/ directly)")
    for p in parents:
        mu, parent = str(p["menu_uuid"]), str(p["menu_item_uuid"])
        item = appdef.row_uuid("menu_item", mu)
        theirs = store.query("select menu_item_uuid from v_menu_items where menu_uuid = :m and uuid = :u "
                             "and menu_item_uuid <> :i", {"m": mu, "u": appdef.MENU_ITEM_UUID, "i": item})
        if theirs:
            notes.append(f"menu {mu} already has fsguard's item (from Menu Defaults): left alone")
            continue
        _want(store, ops, "v_menu_items", "menu_item_uuid", item, {
            "menu_uuid": mu, "menu_item_parent_uuid": parent, "uuid": appdef.MENU_ITEM_UUID,
            "menu_item_title": appdef.MENU_TITLES["en-us"], "menu_item_link": appdef.MENU_PATH,
            "menu_item_icon": appdef.MENU_ICON, "menu_item_category": "internal",
            "menu_item_order": appdef.MENU_ORDER, "menu_item_description": "fsguard: SIP bans, lists, feeds"})
        for lang, title in appdef.MENU_TITLES.items():
            _want(store, ops, "v_menu_languages", "menu_language_uuid", appdef.row_uuid("menu_language", mu, lang), {
                "menu_uuid": mu, "menu_item_uuid": item, "menu_language": lang, "menu_item_title": title})
        for g in appdef.MENU_GROUPS:
            if g in groups:
                _want(store, ops, "v_menu_item_groups", "menu_item_group_uuid",
                      appdef.row_uuid("menu_item_group", mu, g), {
                          "menu_uuid": mu, "menu_item_uuid": item, "group_name": g, "group_uuid": groups[g]})


def app_rows(store: Store, journal: list[dict[str, Any]]) -> list[RowOp]:
    """Rows of fsguard's app that FusionPBX itself made from app_config/app_menu (Menu Defaults,
    Group Permissions, App Defaults) and the journal does not know: removed on uninstall so no
    menu entry or permission points at an app that is gone."""
    known = {(j["table"], j["uuid"]) for j in journal}
    ops: list[RowOp] = []

    def drop(table: str, key: str, sql: str, params: dict[str, Any], note: str) -> None:
        for r in store.query(sql, params):
            if (table, str(r[key])) not in known:
                ops.append(RowOp(table, key, str(r[key]), "delete", note=note))

    items = store.query("select menu_item_uuid from v_menu_items where uuid = :u", {"u": appdef.MENU_ITEM_UUID})
    for it in items:
        mi = str(it["menu_item_uuid"])
        drop("v_menu_item_groups", "menu_item_group_uuid", "select menu_item_group_uuid from v_menu_item_groups "
             "where menu_item_uuid = :m", {"m": mi}, "fsguard's menu item group (made by FusionPBX)")
        drop("v_menu_languages", "menu_language_uuid", "select menu_language_uuid from v_menu_languages "
             "where menu_item_uuid = :m", {"m": mi}, "fsguard's menu language (made by FusionPBX)")
    drop("v_menu_items", "menu_item_uuid", "select menu_item_uuid from v_menu_items where uuid = :u",
         {"u": appdef.MENU_ITEM_UUID}, "fsguard's menu item (made by FusionPBX)")
    for perm in appdef.PERMISSIONS:
        drop("v_group_permissions", "group_permission_uuid", "select group_permission_uuid from v_group_permissions "
             "where permission_name = :n", {"n": perm}, "fsguard permission (granted by FusionPBX)")
        drop("v_permissions", "permission_uuid", "select permission_uuid from v_permissions where permission_name = :n",
             {"n": perm}, "fsguard permission (made by FusionPBX)")
    drop("v_default_settings", "default_setting_uuid", "select default_setting_uuid from v_default_settings "
         "where app_uuid = :a", {"a": appdef.APP_UUID}, "fsguard default setting (made by FusionPBX)")
    return ops
