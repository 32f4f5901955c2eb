"""The FusionPBX app under php-cli: real PostgreSQL (FusionPBX's schema + rows the installer wrote),
a small harness for FusionPBX's functions (tests/php_harness), every page rendered."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fsguard import queue
from fsguard.install import installer
from fsguard.store import Store
from tests.installtree import fusion_tree
from tests.pgfix import connect, fusion_db, pg_role  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "fusionpbx_app"
HARNESS = ROOT / "tests" / "php_harness"
PAGES = ("fsguard_dashboard.php", "fsguard_lists.php", "fsguard_feeds.php", "fsguard_registrations.php")
HOSTILE = "<script>alert(1)</script>"


class App:
    def __init__(self, web: Path, db: dict[str, str], tmp: Path) -> None:
        self.web, self.db, self.tmp = web, db, tmp
        self.session = tmp / "session.json"

    def env(self, groups: str | None, lang: str | None = None) -> dict[str, str]:
        env = dict(os.environ, FSGUARD_TEST_DSN=f"pgsql:host={self.db['host']};port={self.db['port']};"
                   f"dbname={self.db['dbname']}", FSGUARD_TEST_DB_USER=self.db["user"],
                   FSGUARD_TEST_DB_PASSWORD=self.db["password"], FSGUARD_TEST_SESSION=str(self.session),
                   FSGUARD_TEST_SQL_LOG=str(self.tmp / "sql.log"))
        env.pop("FSGUARD_TEST_GROUPS", None)
        if groups is not None:
            env["FSGUARD_TEST_GROUPS"] = groups
        if lang:
            env["FSGUARD_TEST_LANG"] = lang
        return env

    def render(self, page: str, *, post: dict[str, Any] | None = None, groups: str | None = "superadmin",
               lang: str | None = None) -> str:
        req = {"method": "POST" if post is not None else "GET", "get": {}, "post": post or {}}
        env = dict(self.env(groups, lang), FSGUARD_TEST_REQUEST=json.dumps(req))
        proc = subprocess.run(["php", str(HARNESS / "run.php"), str(self.web), page], capture_output=True, text=True,
                              env=env, check=False, timeout=60)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
        assert "Warning" not in proc.stdout and "Notice" not in proc.stdout and "Fatal" not in proc.stdout, proc.stdout
        return proc.stdout

    def token(self, html: str) -> dict[str, str]:
        m = re.search(r"name='(token_[0-9a-f]+)' value='([0-9a-f]+)'", html)
        assert m, "no token in the form"
        return {m.group(1): m.group(2)}

    def messages(self) -> dict[str, list[str]]:
        """Messages still in the session (FusionPBX's shape: mood -> {"message": [...], "delay": [...]})."""
        raw = json.loads(self.session.read_text()).get("messages", {})
        return {mood: list(m.get("message", [])) for mood, m in raw.items()}

    def q(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        conn = connect(self.db)
        try:
            cur = conn.cursor()
            cur.execute(sql, params or {})
            return cur.fetchall() if cur.description else []
        finally:
            conn.close()


@pytest.fixture
def app(tmp_path: Path, fusion_db: dict[str, str]) -> App:  # noqa: F811
    root = fusion_tree(tmp_path / "root", fusion_db)
    installer.install(root)  # tables, permissions for groups by name, default settings: the real rows
    web = root / "var/www/fusionpbx"
    shutil.copytree(HARNESS / "resources", web / "resources")
    a = App(web, fusion_db, tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    a.q("update v_default_settings set default_setting_value = %(d)s where default_setting_category = 'fsguard' "
        "and default_setting_subcategory = 'state_dir'", {"d": str(state)})
    return a


def grant(app: App, group: str, *permissions: str) -> None:
    """What an operator does in Group Manager: give a tenant's group single fsguard permissions."""
    for perm in permissions:
        app.q("insert into v_group_permissions (group_permission_uuid, permission_name, permission_assigned, "
              "permission_protected, group_name, group_uuid) select gen_random_uuid(), %(p)s, 'true', 'false', "
              "group_name, group_uuid from v_groups where group_name = %(g)s", {"p": perm, "g": group})


def seed(app: App) -> None:
    now = time.time()
    q = app.q
    q("insert into v_fsguard_bans (fsguard_ban_uuid, ip_address, jail, ban_start, ban_end, ban_seconds, failure_count, "
      "matches, user_names, user_agents, ban_status) values (gen_random_uuid(), '203.0.113.77', 'fsguard-auth', "
      "%(s)s, %(e)s, 3600, 7, %(m)s, %(u)s, %(a)s, 'banned')",
      {"s": now - 600, "e": now + 3000, "u": json.dumps(["1001", HOSTILE]), "a": json.dumps(["friendly-scanner"]),
       "m": json.dumps(["2026-11-26 10:00:00.000000 97.00% [WARNING] fsguard:1 FSGUARD S3cretT0ken99 auth-failure "
                        "203.0.113.77 "
                        'profile="internal" user="1001"'] * 3)})
    q("insert into v_fsguard_bans (fsguard_ban_uuid, ip_address, jail, ban_start, ban_end, failure_count, ban_status) "
      "values (gen_random_uuid(), '2001:db8::66', 'fsguard-scan', %(s)s, null, 2, 'banned'), "
      "(gen_random_uuid(), '198.51.100.99', 'fsguard-scan', %(s)s, %(old)s, 2, 'banned')",
      {"s": now - 100, "old": now - 50})
    q("insert into v_fsguard_events (fsguard_event_uuid, event_time, event_kind, ip_address, user_name, domain_name, "
      "number, user_agent, profile_name) values (gen_random_uuid(), %(t)s, 'not-found', '198.51.100.23', '', '', "
      "'0046701234567', %(ua)s, 'external')", {"t": now - 30, "ua": HOSTILE})
    q("insert into v_fsguard_offenders (fsguard_offender_uuid, ip_address, user_identity, event_kind, failure_count, "
      "first_seen, last_seen, user_agent, whitelist_reason) values (gen_random_uuid(), '192.0.2.10', "
      "'1005@pbx.example.com', 'auth-failure', 42, %(a)s, %(b)s, 'Yealink SIP-T46S', "
      "'registered 1001@pbx.example.com until 2026-11-26 12:00')", {"a": now - 7200, "b": now - 60})
    q("insert into v_fsguard_feeds (fsguard_feed_uuid, feed_name, feed_url, feed_enabled, last_attempt, last_success, "
      "last_status, last_error, entry_count, added_count, removed_count, rejected_count) values (gen_random_uuid(), "
      "'voipbl', 'https://voipbl.org/update/', true, %(t)s, %(t)s, 'updated', '', 51234, 120, 33, 2)", {"t": now - 900})
    q("insert into v_fsguard_list_entries (fsguard_list_entry_uuid, list_name, cidr, label, expires, entry_enabled) "
      "values (gen_random_uuid(), 'allow', '192.0.2.0/24', 'office', null, true)")
    state = Path(app.q("select default_setting_value from v_default_settings where default_setting_subcategory = "
                       "'state_dir' and default_setting_category = 'fsguard'")[0][0])
    (state / "fs").mkdir(parents=True, exist_ok=True)
    (state / "fs" / "registrations.json").write_text(json.dumps({"version": 1, "written": now, "registrations": [
        {"ip": "192.0.2.10", "user": "1001", "realm": "pbx.example.com", "expires": now + 3600, "port": "5060",
         "proto": "udp", "profile": "internal"},
        {"ip": "198.51.100.5", "user": "1002", "realm": "pbx.example.com", "expires": now - 10, "port": "5060",
         "proto": "udp", "profile": "internal"}]}))


def test_php_lint_every_file() -> None:
    files = sorted(APP.rglob("*.php")) + sorted(HARNESS.rglob("*.php"))
    assert len(files) >= 10
    for f in files:
        proc = subprocess.run(["php", "-l", str(f)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sql_is_built_from_constants_and_named_parameters_only() -> None:
    for f in APP.rglob("*.php"):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"\$sql\s*\.?=", line):
                # no variable, function call or user input glued into SQL text
                assert not re.search(r"\"\s*\.\s*\$|\.\s*\$_(GET|POST|REQUEST)|\$\w+\s*\.\s*\"", line), f"{f.name}:{n}"


def test_every_page_renders_real_rows_escaped(app: App) -> None:
    seed(app)
    dash = app.render("fsguard_dashboard.php")
    assert "203.0.113.77" in dash and "fsguard-auth" in dash and "2001:db8::66" in dash
    assert "198.51.100.99" not in dash  # an expired ban is not current
    assert re.search(r"<td>(49|50)m \d\ds</td>", dash)  # time left of the 1-hour ban
    assert "permanent" in dash and "friendly-scanner" in dash and "3 log lines" in dash
    assert HOSTILE not in dash and "&lt;script&gt;alert(1)&lt;/script&gt;" in dash
    assert "S3cretT0ken99" not in dash and "FSGUARD ******** auth-failure" in dash  # the token is never shown
    assert "1005@pbx.example.com" in dash and "registered 1001@pbx.example.com" in dash  # offenders
    assert "0046701234567" in dash  # recent events
    lists = app.render("fsguard_lists.php")
    assert "192.0.2.0/24" in lists and "office" in lists
    feeds = app.render("fsguard_feeds.php")
    assert "voipbl" in feeds and "51234" in feeds and "updated" in feeds
    regs = app.render("fsguard_registrations.php")
    assert "1001@pbx.example.com" in regs and "198.51.100.5" not in regs  # expired registration left out
    de = app.render("fsguard_dashboard.php", lang="de-de")
    assert "SIP-Schutz" in de and "Entsperren" in de
    # every statement the pages ran used named parameters (the harness refuses mismatches)
    assert (app.tmp / "sql.log").read_text().count('"sql"') >= 8


def _service_cfg(app: App) -> Any:
    """The root side's config for these tests: the same state dir, firewall dry-run."""
    from fs_python import config

    p = app.tmp / "fsguard.conf"
    p.write_text(f"[fsguard]\nstate_dir = {app.tmp / 'service-state'}\n[firewall]\nbackend = dry-run\n")
    return config.load(p)


def _run_queue(app: App) -> list[queue.ActionResult]:
    """What the fsguard service does next tick: validate and run the queued requests."""
    store = Store.pgsql(host=app.db["host"], port=app.db["port"], user=app.db["user"], password=app.db["password"],
                        dbname=app.db["dbname"])
    try:
        return queue.process_pending(_service_cfg(app), store)
    finally:
        store.close()


def test_bad_list_input_shows_an_error_and_saves_nothing(app: App) -> None:
    page = app.render("fsguard_lists.php")
    before = app.q("select count(*) from v_fsguard_list_entries")[0][0], app.q("select count(*) from v_fsguard_actions")
    for post, error in [({"list_name": "allow", "cidr": "198.51.100.7; rm -rf /", "label": ""}, "not an IP address"),
                        ({"list_name": "allow", "cidr": "198.51.100.0/33", "label": ""}, "prefix length"),
                        ({"list_name": "allow", "cidr": "198.51.100.7", "label": "two\nlines"}, "printable"),
                        ({"list_name": "allow", "cidr": "198.51.100.7", "label": "x", "expires_days": "-3"},
                         "whole number"),
                        ({"list_name": "sideways", "cidr": "198.51.100.7", "label": "x"}, "Choose the whitelist")]:
        out = app.render("fsguard_lists.php", post=dict(post, action="add", **app.token(page)))
        # FusionPBX's own message area (message::add -> display_message), the page's markup untouched
        shown = re.findall(r"display_message\('(.*)', 'negative', '\d+'\);", out)
        assert shown and error in shown[0], (post, out[-1500:])
        assert "value='" + post["cidr"] + "'" in out  # the refused input is kept in the form to fix
    after = app.q("select count(*) from v_fsguard_list_entries")[0][0], app.q("select count(*) from v_fsguard_actions")
    assert after == before
    # good input: queued for the service, which stores the canonical network with the CLI's rules
    app.render("fsguard_lists.php", post={"action": "add", "list_name": "allow", "cidr": "198.51.100.77/24",
                                          "label": "branch office", "expires_days": "30", **app.token(page)})
    assert app.q("select action_name, action_argument, action_status, requested_by from v_fsguard_actions") == [
        ("allow", "198.51.100.0/24", "pending", "admin")]
    assert app.q("select count(*) from v_fsguard_list_entries") == [(0,)]  # nothing stored by the web app
    assert app.messages().get("positive")
    done = _run_queue(app)
    assert [r.status for r in done] == ["done"], done
    rows = app.q("select list_name, cidr, label, expires > extract(epoch from now()) + 29 * 86400 "
                 "from v_fsguard_list_entries")
    assert rows == [("allow", "198.51.100.0/24", "branch office", True)]
    # Apply Firewall Now (superadmin): one queued refresh
    page = app.render("fsguard_lists.php")
    assert "Apply Firewall Now" in page and "fsguard_list_requests" in page
    app.render("fsguard_lists.php", post={"action": "apply", **app.token(page)})
    assert app.q("select count(*) from v_fsguard_actions where action_name = 'firewall_apply'") == [(1,)]


def test_tenant_admin_cannot_whitelist_the_internet_or_blacklist_a_lan(app: App) -> None:
    """Attack 7: a tenant admin granted list editing tries to whitelist everyone (every ban then
    ignored) and to blacklist private/CGNAT space. The service refuses each with the CLI's reason,
    the refusal shows on the page, and the lists stay as they were."""
    grant(app, "admin", "fsguard_list_view", "fsguard_list_edit")
    app.q("insert into v_fsguard_list_entries (fsguard_list_entry_uuid, list_name, cidr, label, expires, "
          "entry_enabled, insert_date) values (gen_random_uuid(), "
          "'allow', '192.0.2.0/24', 'office', null, true, now())")
    before = app.q("select list_name, cidr, label from v_fsguard_list_entries order by cidr")
    page = app.render("fsguard_lists.php", groups="admin")
    attacks = [("allow", "0.0.0.0/0"), ("allow", "::/0"), ("allow", "0.0.0.0/1"), ("allow", "128.0.0.0/1"),
               ("allow", "2000::/3"), ("deny", "10.0.0.0/8"), ("deny", "192.168.1.0/24"), ("deny", "100.64.0.0/10"),
               ("deny", "100.64.3.4"), ("deny", "0.0.0.0/0"), ("deny", "fd00::/8")]
    for list_name, cidr in attacks:
        app.render("fsguard_lists.php", groups="admin", post={"action": "add", "list_name": list_name, "cidr": cidr,
                                                              "label": "x", **app.token(page)})
    assert app.q("select count(*) from v_fsguard_actions where action_status = 'pending'") == [(len(attacks),)]
    done = _run_queue(app)
    assert [r.status for r in done] == ["rejected"] * len(attacks), done
    assert app.q("select list_name, cidr, label from v_fsguard_list_entries order by cidr") == before
    out = app.render("fsguard_lists.php", groups="admin")
    assert "default route" in out and "broader than the whitelist floor" in out and "CGNAT" in out
    assert "private (RFC 1918)" in out
    # nine /8s one by one: each is within the floor; with the office /24, only three more fit under the cap
    for first in range(11, 20):
        app.render("fsguard_lists.php", groups="admin", post={"action": "add", "list_name": "allow",
                                                              "cidr": f"{first}.0.0.0/8", "label": "x",
                                                              **app.token(page)})
    done = _run_queue(app)
    assert [r.status for r in done] == ["done"] * 3 + ["rejected"] * 6
    assert "more public IPv4 space" in app.render("fsguard_lists.php", groups="admin")


def test_missing_or_wrong_token_is_refused(app: App) -> None:
    page = app.render("fsguard_lists.php")
    good = app.token(page)
    name = next(iter(good))
    for token in ({}, {name: "0" * 32}):
        app.render("fsguard_lists.php", post={"action": "add", "list_name": "allow", "cidr": "198.51.100.1",
                                              "label": "x", **token})
        assert app.q("select count(*) from v_fsguard_list_entries") == [(0,)]
        assert any("Invalid token" in m for m in app.messages().get("negative", []))
    dash = app.render("fsguard_dashboard.php")
    app.render("fsguard_dashboard.php", post={"action": "unban", "ip_address": "203.0.113.77"})
    assert app.q("select count(*) from v_fsguard_actions") == [(0,)]
    assert "Invalid token" in " ".join(app.messages().get("negative", [])) and dash


def test_users_without_the_permission_are_refused(app: App) -> None:
    seed(app)
    for page in PAGES:
        out = app.render(page, groups="user")
        assert out.strip() == "access denied", page
        assert app.render(page, groups=None).strip() == "login required"
    # by default a tenant's admin sees nothing of this system-wide data
    assert app.render("fsguard_dashboard.php", groups="admin").strip() == "access denied"
    # granted view rights only: may look, may not edit, refresh or unban
    grant(app, "admin", "fsguard_view", "fsguard_list_view", "fsguard_feed_view")
    dash = app.render("fsguard_dashboard.php", groups="admin")
    assert "203.0.113.77" in dash and "Unban" not in dash and "Whitelist</button>" not in dash
    tok = app.token(app.render("fsguard_dashboard.php"))  # a valid token (the page shows admin no form)
    assert app.render("fsguard_dashboard.php", groups="admin", post={"action": "unban", "ip_address": "203.0.113.77",
                                                                     **tok}).strip() == "access denied"
    assert app.q("select count(*) from v_fsguard_actions") == [(0,)]
    page = app.render("fsguard_lists.php", groups="admin")
    assert "192.0.2.0/24" in page and "fsguard_add" not in page
    out = app.render("fsguard_lists.php", groups="admin", post={"action": "add", "list_name": "allow",
                                                                "cidr": "198.51.100.1", "label": "x"})
    assert out.strip() == "access denied" and app.q("select count(*) from v_fsguard_list_entries") == [(1,)]
    assert "Apply Firewall Now" not in page
    assert app.render("fsguard_lists.php", groups="admin", post={"action": "apply", **app.token(
        app.render("fsguard_lists.php"))}).strip() == "access denied"
    feeds = app.render("fsguard_feeds.php", groups="admin")
    assert "Refresh Now" not in feeds
    assert app.render("fsguard_feeds.php", groups="admin", post={"action": "refresh"}).strip() == "access denied"


def test_unban_and_whitelist_go_through_the_queue_to_the_service(app: App) -> None:
    seed(app)
    grant(app, "admin", "fsguard_view", "fsguard_unban", "fsguard_whitelist_add")
    dash = app.render("fsguard_dashboard.php", groups="admin")
    tok = app.token(dash)
    app.render("fsguard_dashboard.php", groups="admin", post={"action": "unban", "ip_address": "203.0.113.77", **tok})
    app.render("fsguard_dashboard.php", groups="admin", post={"action": "whitelist", "ip_address": "2001:db8::66",
                                                              **tok})
    app.render("fsguard_dashboard.php", groups="admin", post={"action": "unban", "ip_address": "203.0.113.77 -j ACCEPT",
                                                              **tok})
    assert any("Invalid address" in m for m in app.messages().get("negative", []))
    queued = app.q("select action_name, action_argument, action_status from v_fsguard_actions order by action_name")
    assert queued == [("allow", "2001:db8::66", "pending"), ("unban", "203.0.113.77", "pending")]
    # the fsguard service picks them up (handlers stubbed: no firewall here) and the GUI shows the outcome
    store = Store.pgsql(host=app.db["host"], port=app.db["port"], user=app.db["user"], password=app.db["password"],
                        dbname=app.db["dbname"])
    done = queue.process_pending(None, store, handlers={
        "unban": lambda cfg, st, req: f"{req.argument} unbanned", "allow": lambda cfg, st, req: "whitelisted"})
    store.close()
    assert sorted(r.status for r in done) == ["done", "done"]
    assert "203.0.113.77 unbanned" in app.render("fsguard_dashboard.php")


def test_every_language_has_every_key() -> None:
    code = "$text = []; include $argv[1]; echo json_encode($text);"
    text = json.loads(subprocess.run(["php", "-r", code, str(APP / "app_languages.php")], capture_output=True,
                                     text=True, check=True).stdout)
    used = set()
    for f in APP.rglob("*.php"):
        used |= set(re.findall(r"\$text\['([a-z_-]+)'\]", f.read_text()))
        used |= set(re.findall(r"'((?:label|title|button|message|description)-[a-z_]+)'", f.read_text()))
    used = {u for u in used if not u.endswith("_")}
    assert used <= set(text), used - set(text)
    for key, values in text.items():
        assert {"en-us", "de-de", "fr-fr", "es-mx"} <= set(values), key


def test_registrations_page_without_or_with_a_broken_snapshot(app: App) -> None:
    out = app.render("fsguard_registrations.php")
    assert "No registrations snapshot yet" in out and "fsguard_registrations" in out
    assert re.search(r"display_message\('No registrations snapshot yet.*', 'alert', '\d+'\);", out)  # FusionPBX's
    state = Path(app.q("select default_setting_value from v_default_settings where default_setting_subcategory = "
                       "'state_dir' and default_setting_category = 'fsguard'")[0][0])
    (state / "fs").mkdir(parents=True, exist_ok=True)
    (state / "fs" / "registrations.json").write_text('{"version": 1, "registrations": [{"ip": "not an ip", '
                                              '"expires": 9999999999}, {"ip": "192.0.2.44", "expires": "soon"}, 7]}')
    out = app.render("fsguard_registrations.php")
    assert "not an ip" not in out and "192.0.2.44" not in out and "(0)" in out  # bad entries skipped, no error


def test_dashboard_says_when_the_kernel_did_not_block(app: App) -> None:
    now = time.time()
    app.q("insert into v_fsguard_bans (fsguard_ban_uuid, ip_address, jail, ban_start, ban_end, failure_count, "
          "ban_status, kernel_status) values (gen_random_uuid(), '203.0.113.80', 'fsguard-auth', %(s)s, %(e)s, 3, "
          "'banned', 'failed: NetlinkError: <b>x</b>'), (gen_random_uuid(), '203.0.113.81', 'fsguard-auth', %(s)s, "
          "%(e)s, 3, 'banned', 'added')", {"s": now - 10, "e": now + 600})
    dash = app.render("fsguard_dashboard.php")
    assert "fsguard-auth (NOT blocked in the kernel: failed: NetlinkError: &lt;b&gt;x&lt;/b&gt;)" in dash
    assert dash.count("NOT blocked in the kernel") == 1


def test_dashboard_names_the_deciding_node_and_lists_cluster_nodes(app: App) -> None:
    now = time.time()
    assert "Cluster nodes" not in app.render("fsguard_dashboard.php")  # a single host: no node list
    app.q("insert into v_fsguard_bans (fsguard_ban_uuid, hostname, ip_address, jail, ban_start, ban_end, "
          "failure_count, ban_status) values (gen_random_uuid(), 'node-a<i>', '203.0.113.82', 'fsguard-auth', "
          "%(s)s, %(e)s, 3, 'banned')", {"s": now - 10, "e": now + 600})
    app.q("insert into v_fsguard_cluster_nodes (fsguard_cluster_node_uuid, node_name, last_seen) values "
          "(gen_random_uuid(), 'node-a<i>', extract(epoch from now())), (gen_random_uuid(), 'node-b', "
          "extract(epoch from now()) - 600)")
    dash = app.render("fsguard_dashboard.php")
    assert "<td>node-a&lt;i&gt;</td>" in dash and "<i>" not in dash
    assert "Cluster nodes" in dash and ">up<" in dash and "not seen for 30 s or more" in dash


def test_feeds_page_never_shows_the_apiban_key(app: App, tmp_path: Path) -> None:
    """Attack 10: the APIBAN key was in the feed error text on the feeds page. A real failing
    APIBAN server (loopback), the real update writing FusionPBX's PostgreSQL, the page rendered."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from fs_python import config
    from fsguard.perimeter import update

    key = "TopSecretKey0123456789"

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = f"key {key} is not valid at {self.path}".encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        p = tmp_path / "feeds.conf"
        p.write_text(f"[fsguard]\nstate_dir = {tmp_path / 'fstate'}\n[feeds]\nvoipbl = no\nretries = 0\ntimeout = 5\n"
                     f"apiban_key = {key}\napiban_url = http://127.0.0.1:{httpd.server_port}/api\n")
        store = Store.pgsql(host=app.db["host"], port=app.db["port"], user=app.db["user"],
                            password=app.db["password"], dbname=app.db["dbname"])
        try:
            [res] = update.update_all(config.load(p), store)
        finally:
            store.close()
    finally:
        httpd.shutdown()
    assert res.status == "failed" and "HTTP 500" in res.error
    page = app.render("fsguard_feeds.php")
    assert "apiban" in page and "HTTP 500" in page and key not in page
    assert not any(key in str(v) for row in app.q("select * from v_fsguard_feeds") for v in row)


LIST_SYNTAX_CORPUS = ["198.51.100.77/24", "198.51.100.7", " 10.1.2.3/8 ", "0.0.0.0/0", "::/0", "2001:DB8::1",
                      "2001:db8::/32", "fe80::1/10", "1.2.3.4/33", "1.2.3", "01.2.3.4", "1.2.3.4/", "1.2.3.4/-1",
                      "x", "", "1.2.3.4; rm -rf /", "::ffff:1.2.3.4", "::ffff:1.2.3.4/120", "::1.2.3.4",
                      "::ffff:102:304", "2001:db8::1/129", "1.2.3.4/032",
                      "203.0.113.9/31", "2a01:4f8:0:a::5/64"]


def test_gui_syntax_check_agrees_with_python() -> None:
    """The page's early check (typos) gives the canonical network Python gives, or refuses what
    Python refuses: the GUI can never queue a different network than the operator typed."""
    from fsguard.perimeter import lists

    code = ("require $argv[1]; $out = []; foreach (json_decode($argv[2], true) as $i) { "
            "$r = fsguard_canonical_cidr($i, 'allow', $e); $out[] = $r === false ? null : $r; } "
            "echo json_encode($out);")
    got = json.loads(subprocess.run(["php", "-r", code, str(APP / "resources" / "functions.php"),
                                     json.dumps(LIST_SYNTAX_CORPUS)], capture_output=True, text=True,
                                    check=True).stdout)
    for text, php in zip(LIST_SYNTAX_CORPUS, got, strict=True):
        try:
            py: str | None = lists.network_text(text)
        except lists.ListError:
            py = None
        assert php == py, (text, php, py)


def test_pages_use_fusionpbx_s_own_action_bar_buttons_and_messages(app: App) -> None:
    """The page switcher is FusionPBX's button::create inside the action bar's actions (as its own
    pages link related pages), the current page marked and not linked; a user sees only the pages
    their permissions allow; no page has a home-made tab bar or error box."""
    pages = ["fsguard_dashboard.php", "fsguard_lists.php", "fsguard_feeds.php", "fsguard_registrations.php"]
    for page in pages:
        out = app.render(page)
        bar = out[out.index("<div class='action_bar' id='action_bar'>"):]
        actions = bar[bar.index("<div class='actions'>"):bar.index("<div style='clear: both;'></div>")]
        links = re.findall(r"<a href='(fsguard_[a-z]+\.php)' target=\"_self\">"
                           r"<button type='button' id=\"fsguard_tab_", actions)
        assert sorted(links) == sorted(p for p in pages if p != page), (page, actions)
        assert re.search(r"<button type='button' id=\"fsguard_tab_%s\"[^>]*class='btn btn-default fsguard_tab_current'"
                         % page[:-4], actions), actions
        assert "fsguard_tabs" not in out and "fsguard_errors" not in out
