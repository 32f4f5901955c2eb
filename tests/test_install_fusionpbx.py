"""Installer against FusionPBX: a real PostgreSQL loaded with FusionPBX's own schema and default rows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fsguard.install import appdef, files, installer, sources
from fsguard.install.target import Misconfigured, NotInstalled, Unsupported
from fsguard.store import schema
from tests.installtree import frozen_package, fusion_tree, tree_state
from tests.pgfix import connect, fusion_db, pg_role, snapshot  # noqa: F401

CACHE = ("var/cache/",)  # FusionPBX's cache is cleared on purpose: compared separately


@pytest.fixture(autouse=True)
def _frozen_sources(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(sources, "PKG_DIR", frozen_package(tmp_path_factory))


def q(db: dict[str, str], sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    conn = connect(db)
    try:
        cur = conn.cursor()
        cur.execute(sql, params or {})
        return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def host(tmp_path: Path, fusion_db: dict[str, str]) -> tuple[Path, dict[str, str]]:  # noqa: F811
    return fusion_tree(tmp_path / "root", fusion_db), fusion_db


def test_install_second_run_and_uninstall_restore_everything(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    tree0, db0 = tree_state(root, skip=CACHE), snapshot(db)

    res = installer.install(root)
    assert res.changed and res.kind == "fusionpbx"
    # exactly one enabled not-found extension in the public context: fsguard's, order 999
    enabled = q(db, "select dialplan_name, dialplan_order, app_uuid::text from v_dialplans "
                    "where dialplan_context = 'public' and dialplan_enabled")
    assert [(n, int(o), a) for n, o, a in enabled] == [("fsguard-not-found", 999, appdef.DIALPLAN_APP_UUID)]
    assert q(db, "select dialplan_enabled from v_dialplans where app_uuid = %(a)s",
             {"a": appdef.FUSIONPBX_NOT_FOUND_APP_UUID}) == [(False,)]
    assert q(db, "select s.sip_profile_setting_value, s.sip_profile_setting_enabled from v_sip_profile_settings s "
                 "join v_sip_profiles p using (sip_profile_uuid) where p.sip_profile_name = 'internal' "
                 "and s.sip_profile_setting_name = 'log-auth-failures'") == [("true", True)]
    # the menu item sits under Status (parent = Status's menu_item_uuid, which is random per install)
    status = q(db, "select menu_item_uuid::text from v_menu_items where uuid = %(u)s", {"u": appdef.STATUS_MENU_UUID})
    item = q(db, "select menu_item_parent_uuid::text, menu_item_link, menu_item_uuid::text from v_menu_items "
                 "where uuid = %(u)s", {"u": appdef.MENU_ITEM_UUID})
    assert [(p, link) for p, link, _ in item] == [(status[0][0], appdef.MENU_PATH)]
    assert sorted(r[0] for r in q(db, "select group_name from v_menu_item_groups where menu_item_uuid = %(i)s",
                                   {"i": item[0][2]})) == ["superadmin"]
    assert len(q(db, "select 1 from v_menu_languages where menu_item_uuid = %(i)s", {"i": item[0][2]})) >= 3
    # permissions granted to groups found by name, with those groups' real uuids
    grants = q(db, "select gp.permission_name, gp.group_name from v_group_permissions gp "
                   "join v_groups g on g.group_uuid = gp.group_uuid and g.group_name = gp.group_name")
    assert ("fsguard_view", "superadmin") in grants and ("fsguard_list_edit", "superadmin") in grants
    # system-wide data: a tenant's admin gets nothing unless the operator grants it
    assert not [g for g in grants if g[1] != "superadmin"]
    # every table the schema declares (the cluster's too: they stay empty on a single host)
    assert {t for (t,) in q(db, "select table_name from information_schema.tables where table_name like "
                               "'v_fsguard_%%'")} == {t.name for t in schema.TABLES}
    assert {"v_fsguard_bans", "v_fsguard_list_entries", "v_fsguard_offenders", "v_fsguard_feeds",
            "v_fsguard_events", "v_fsguard_actions"} <= {t.name for t in schema.TABLES}
    # files: package in the scripts dir, the app, the monitor's startup-script, a config with a token
    assert (root / "usr/share/freeswitch/scripts/fs_python/__init__.py").is_file()
    assert (root / "var/www/fusionpbx/app/fsguard/app_config.php").is_file()
    pyconf = (root / "etc/freeswitch/autoload_configs/python.conf.xml").read_text()
    assert '<param name="startup-script" value="fs_python.monitor"/>' in pyconf
    conf = (root / "etc/fsguard/fsguard.conf").read_text()
    assert "kind = pgsql" in conf and f"dbname = {db['dbname']}" in conf
    token = [ln.split("=")[1].strip() for ln in conf.splitlines() if ln.startswith("event_token")][0]
    assert len(token) >= 8
    # the dialplan and sofia caches are cleared, other cache entries are left alone
    assert not (root / "var/cache/fusionpbx/dialplan.public").exists()
    assert not (root / "var/cache/fusionpbx/configuration.sofia.conf.pbx1").exists()
    assert not (root / "var/cache/fusionpbx/pbx1.example.com.configuration.sofia.conf").exists()
    assert (root / "var/cache/fusionpbx/languages.en-us").exists()

    tree1, db1 = tree_state(root), snapshot(db)
    again = installer.install(root)
    assert not again.changed and again.rows == [] and again.tables == []
    assert tree_state(root) == tree1 and snapshot(db) == db1
    assert token in (root / "etc/fsguard/fsguard.conf").read_text()  # the token survives a re-run

    out = installer.uninstall(root)
    assert out.changed
    assert tree_state(root, skip=CACHE) == tree0
    assert snapshot(db) == db0


def test_dry_run_changes_nothing_and_shows_every_file_and_row(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    tree0, db0 = tree_state(root), snapshot(db)
    res = installer.install(root, dry_run=True)
    assert tree_state(root) == tree0 and snapshot(db) == db0
    assert res.dry_run and not res.changed
    assert "+++ b/etc/freeswitch/autoload_configs/python.conf.xml" in res.diff
    assert '+    <param name="startup-script" value="fs_python.monitor"/>' in res.diff
    assert "+ v_dialplans " + appdef.DIALPLAN_UUID in res.diff
    assert "~ v_dialplans" in res.diff and "dialplan_enabled: True -> False" in res.diff
    assert "sip_profile_setting_value: 'false' -> 'true'" in res.diff
    assert "+ create table v_fsguard_bans" in res.diff


def test_failure_half_way_rolls_back_files_and_rows(host: tuple[Path, dict[str, str]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root, db = host
    tree0, db0 = tree_state(root), snapshot(db)
    real_apply = files.FileJournal.apply
    calls = {"n": 0}

    def failing(self: files.FileJournal, op: files.FileOp) -> None:
        calls["n"] += 1
        if calls["n"] == 25:  # rows written, tables created, two dozen files on disk
            raise OSError("disk full (injected)")
        real_apply(self, op)

    monkeypatch.setattr(files.FileJournal, "apply", failing)
    with pytest.raises(OSError, match="injected"):
        installer.install(root)
    assert calls["n"] == 25
    assert tree_state(root) == tree0
    assert snapshot(db) == db0


def test_generated_dialplan_xml_says_what_the_details_say(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    installer.install(root)
    (xml_text,) = q(db, "select dialplan_xml from v_dialplans where dialplan_uuid = %(u)s",
                    {"u": appdef.DIALPLAN_UUID})[0]
    ext = ET.fromstring(xml_text)
    assert ext.tag == "extension" and ext.get("name") == "fsguard-not-found" and ext.get("continue") == ""
    details = q(db, "select dialplan_detail_tag, dialplan_detail_type, dialplan_detail_data, dialplan_detail_inline "
                    "from v_dialplan_details where dialplan_uuid = %(u)s and dialplan_detail_enabled "
                    "order by dialplan_detail_group, dialplan_detail_order", {"u": appdef.DIALPLAN_UUID})
    conds = [d for d in details if d[0] == "condition"]
    assert [(c.get("field"), c.get("expression")) for c in ext.findall("condition")] == [(t, d) for _, t, d, _ in conds]
    actions = [(a.get("application"), a.get("data"), a.get("inline") == "true") for a in ext.iter("action")]
    # FusionPBX adds an export of call_direction for the public context that no details row holds
    assert actions[0] == ("export", "call_direction=inbound", True)
    assert actions[1:] == [(t, d, i == "true") for tag, t, d, i in details if tag == "action"]
    assert ("python", "fs_python.not_found", False) in actions


def test_operator_edit_is_never_overwritten_silently(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    installer.install(root)
    page = root / "var/www/fusionpbx/app/fsguard/app_config.php"
    page.write_text(page.read_text() + "// operator's local change\n")
    conf = root / "etc/fsguard/fsguard.conf"
    conf.write_text(conf.read_text() + "auth_bantime = 7200\n")  # the file ends with [fail2ban]
    tree1, db1 = tree_state(root), snapshot(db)
    with pytest.raises(installer.UserEdited, match="app_config.php"):
        installer.install(root)
    assert tree_state(root) == tree1 and snapshot(db) == db1
    # uninstall keeps what the operator edited and says so; everything else goes
    out = installer.uninstall(root)
    assert any("app_config.php" in n for n in out.notes) and any("fsguard.conf" in n for n in out.notes)
    assert page.exists() and "auth_bantime = 7200" in conf.read_text()
    assert not (root / "usr/share/freeswitch/scripts/fs_python").exists()
    assert q(db, "select count(*) from v_dialplans where dialplan_uuid = %(u)s", {"u": appdef.DIALPLAN_UUID}) == [(0,)]


def test_an_existing_file_not_written_by_fsguard_is_refused(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    theirs = root / "usr/local/sbin/fsguard"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho someone else's\n")
    db0 = snapshot(db)
    with pytest.raises(installer.UserEdited, match="not written by fsguard"):
        installer.install(root)
    assert snapshot(db) == db0 and theirs.read_text() == "#!/bin/sh\necho someone else's\n"


def test_preflight_errors_are_distinct(tmp_path: Path, fusion_db: dict[str, str]) -> None:  # noqa: F811
    with pytest.raises(NotInstalled, match="FreeSWITCH not found"):
        installer.install(tmp_path / "empty")
    root = fusion_tree(tmp_path / "nopy", fusion_db)
    (root / "usr/lib/freeswitch/mod/mod_python3.so").unlink()
    with pytest.raises(Unsupported, match="mod_python3"):
        installer.install(root)
    bad = dict(fusion_db, password="wrong")
    root = fusion_tree(tmp_path / "badpw", bad)
    with pytest.raises(Misconfigured, match="database"):
        installer.install(root)
    root = fusion_tree(tmp_path / "noname", fusion_db)
    cfg = root / "etc/fusionpbx/config.conf"
    cfg.write_text("\n".join(ln for ln in cfg.read_text().splitlines() if not ln.startswith("database.0.name")))
    with pytest.raises(Misconfigured, match="database.0.name"):
        installer.install(root)
    assert not (root / "etc/fsguard").exists()


def test_uninstall_restores_a_setting_fusionpbx_had_differently(host: tuple[Path, dict[str, str]]) -> None:
    """A host where log-auth-failures was disabled-and-true: only the changed column is restored."""
    root, db = host
    conn = connect(db)
    conn.cursor().execute("update v_sip_profile_settings set sip_profile_setting_value = 'true', "
                          "sip_profile_setting_enabled = false where sip_profile_setting_name = 'log-auth-failures'")
    conn.close()
    db0 = snapshot(db)
    res = installer.install(root)
    assert any("sip_profile_setting_enabled: False -> True" in r for r in res.rows)
    assert not any("sip_profile_setting_value" in r for r in res.rows)
    installer.uninstall(root)
    assert snapshot(db) == db0


def test_uninstall_also_removes_what_fusionpbx_made_from_the_app(host: tuple[Path, dict[str, str]]) -> None:
    """After install an operator runs Menu Defaults / Group Permissions: FusionPBX recreates fsguard's
    menu item with a random uuid and grants permissions itself. Uninstall leaves no orphan behind."""
    root, db = host
    db0 = snapshot(db)
    installer.install(root)
    conn = connect(db)
    cur = conn.cursor()
    # what Menu Defaults does: deletes the item, rebuilds it from app_menu.php with a new menu_item_uuid
    cur.execute("delete from v_menu_item_groups where menu_item_uuid in (select menu_item_uuid from v_menu_items "
                "where uuid = %(u)s)", {"u": appdef.MENU_ITEM_UUID})
    cur.execute("delete from v_menu_languages where menu_item_uuid in (select menu_item_uuid from v_menu_items "
                "where uuid = %(u)s)", {"u": appdef.MENU_ITEM_UUID})
    cur.execute("delete from v_menu_items where uuid = %(u)s", {"u": appdef.MENU_ITEM_UUID})
    cur.execute("insert into v_menu_items (menu_item_uuid, menu_uuid, uuid, menu_item_title) select "
                "gen_random_uuid(), menu_uuid, %(u)s, 'SIP Guard' from v_menus", {"u": appdef.MENU_ITEM_UUID})
    cur.execute("insert into v_menu_item_groups (menu_item_group_uuid, menu_item_uuid, group_name) select "
                "gen_random_uuid(), menu_item_uuid, 'superadmin' from v_menu_items where uuid = %(u)s",
                {"u": appdef.MENU_ITEM_UUID})
    cur.execute("insert into v_group_permissions (group_permission_uuid, permission_name, group_name, "
                "permission_assigned) values (gen_random_uuid(), 'fsguard_view', 'user', 'true')")
    conn.close()
    res = installer.uninstall(root)
    assert any("fsguard's menu item (made by FusionPBX)" in r for r in res.rows)
    assert any("fsguard permission (granted by FusionPBX)" in r for r in res.rows)
    assert snapshot(db) == db0


def test_an_existing_config_without_a_token_is_misconfigured(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    (root / "etc/fsguard").mkdir(parents=True)
    (root / "etc/fsguard/fsguard.conf").write_text("[fsguard]\nstate_dir = /var/lib/fsguard\n")
    db0 = snapshot(db)
    with pytest.raises(Misconfigured, match="event_token"):
        installer.install(root)
    assert snapshot(db) == db0


def test_the_installed_copy_can_reinstall_and_uninstall_by_itself(host: tuple[Path, dict[str, str]],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`fsguard install` run later from /usr/local/sbin/fsguard (the copy in /usr/lib/fsguard, no
    checkout next to it) finds the app and sql/ in its data dir: nothing is planned away."""
    root, db = host
    tree0, db0 = tree_state(root, skip=CACHE), snapshot(db)
    installer.install(root)
    after = tree_state(root)
    monkeypatch.setattr(sources, "PKG_DIR", root / "usr/lib/fsguard/fsguard")
    assert sources.app_dir() == root / "usr/lib/fsguard/fsguard/data/fusionpbx_app"
    again = installer.install(root)
    assert not again.changed and tree_state(root) == after
    installer.uninstall(root)
    assert tree_state(root, skip=CACHE) == tree0 and snapshot(db) == db0


def test_uninstall_keep_data_keeps_tables_and_evidence(host: tuple[Path, dict[str, str]]) -> None:
    root, db = host
    installer.install(root)
    conn = connect(db)
    conn.cursor().execute("insert into v_fsguard_bans (fsguard_ban_uuid, ip_address, ban_status) "
                          "values (gen_random_uuid(), '203.0.113.9', 'banned')")
    conn.close()
    (root / "var/lib/fsguard/fs/registrations.json").write_text('{"version": 1, "registrations": []}')
    res = installer.uninstall(root, keep_data=True)
    assert res.tables == []
    assert q(db, "select ip_address from v_fsguard_bans") == [("203.0.113.9",)]
    assert (root / "var/lib/fsguard/fs/registrations.json").exists()
    assert not (root / "var/lib/fsguard/install-manifest.json").exists()
    # everything else is gone: files, rows, FusionPBX's own not-found back on
    assert not (root / "var/www/fusionpbx/app/fsguard").exists()
    assert q(db, "select dialplan_enabled from v_dialplans where app_uuid = %(a)s",
             {"a": appdef.FUSIONPBX_NOT_FOUND_APP_UUID}) == [(True,)]
    # a later install finds its tables and data again
    again = installer.install(root)
    assert again.tables == [] and q(db, "select count(*) from v_fsguard_bans") == [(1,)]
