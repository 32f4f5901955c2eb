"""fsguard's tables: the one source of truth.

``sql/`` (PostgreSQL and SQLite DDL) and the FusionPBX app's ``app_config.php`` are generated from /
checked against this list by tests. FusionPBX conventions: ``v_fsguard_<plural>`` tables, a
``<singular>_uuid`` primary key, the audit columns, no foreign-key constraints.

Column types are abstract: ``uuid``, ``text``, ``bool``, ``int``, ``epoch`` (seconds since 1970 as
a float: easy arithmetic for ban times in Python, PHP and SQL alike), ``timestamptz`` (audit).
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

AUDIT = (
    ("insert_date", "timestamptz"),
    ("insert_user", "uuid"),
    ("update_date", "timestamptz"),
    ("update_user", "uuid"),
)


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, abstract type), key first, audit last
    indexes: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()  # one unique index over these columns (an upsert's conflict target)

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _table(name: str, key: str, cols: tuple[tuple[str, str], ...], indexes: tuple[str, ...] = (),
           unique: tuple[str, ...] = ()) -> Table:
    return Table(name, key, ((key, "uuid"),) + cols + AUDIT, indexes, unique)


def unique_index_name(t: Table) -> str:
    return f"{t.name}_unique_idx"



TABLES: tuple[Table, ...] = (
    # One row per ban (and its unban): the evidence an operator shows a customer.
    _table(
        "v_fsguard_bans",
        "fsguard_ban_uuid",
        (
            ("hostname", "text"),
            ("ip_address", "text"),
            ("jail", "text"),
            ("ban_start", "epoch"),
            ("ban_end", "epoch"),  # planned end; NULL = permanent
            ("ban_seconds", "int"),
            ("failure_count", "int"),
            ("matches", "text"),  # JSON list of the matched log lines
            ("user_names", "text"),  # JSON list
            ("user_agents", "text"),  # JSON list
            ("restored", "bool"),
            ("ban_status", "text"),  # banned | unbanned
            ("unban_time", "epoch"),
            ("unban_reason", "text"),
            # the kernel set add: added | failed: <reason> | skipped (whitelisted, firewall off)
            ("kernel_status", "text"),
        ),
        ("ip_address", "ban_status"),
    ),
    # Admin whitelist ("allow") and blacklist ("deny") entries.
    _table(
        "v_fsguard_list_entries",
        "fsguard_list_entry_uuid",
        (
            ("list_name", "text"),  # allow | deny
            ("cidr", "text"),  # canonical network, e.g. 192.0.2.0/24 or 2001:db8::1/128
            ("label", "text"),
            ("expires", "epoch"),  # NULL = never
            ("entry_enabled", "bool"),
        ),
        ("list_name",),
    ),
    # Failures from whitelisted addresses (one public IP, many phones), per user identity: one row
    # per (address, identity, kind), at most [service] offender_identities identities per address
    # (the rest share one overflow row), rows not seen for [service] offenders_keep_days pruned.
    _table(
        "v_fsguard_offenders",
        "fsguard_offender_uuid",
        (
            ("ip_address", "text"),
            ("user_identity", "text"),  # user@domain as the phone sent it (escaped text)
            ("event_kind", "text"),
            ("failure_count", "int"),
            ("first_seen", "epoch"),
            ("last_seen", "epoch"),
            ("user_agent", "text"),
            ("whitelist_reason", "text"),
        ),
        ("last_seen",),
        ("ip_address", "user_identity", "event_kind"),
    ),
    # Feed status for the GUI and `fsguard feeds`.
    _table(
        "v_fsguard_feeds",
        "fsguard_feed_uuid",
        (
            ("feed_name", "text"),
            ("feed_url", "text"),
            ("feed_enabled", "bool"),
            ("last_attempt", "epoch"),
            ("last_success", "epoch"),
            ("last_status", "text"),
            ("last_error", "text"),
            ("entry_count", "int"),
            ("added_count", "int"),
            ("removed_count", "int"),
            ("rejected_count", "int"),
        ),
        ("feed_name",),
    ),
    # Recent events (parsed event lines) for the dashboard.
    _table(
        "v_fsguard_events",
        "fsguard_event_uuid",
        (
            ("event_time", "epoch"),
            ("event_kind", "text"),
            ("ip_address", "text"),
            ("user_name", "text"),
            ("domain_name", "text"),
            ("number", "text"),
            ("user_agent", "text"),
            ("profile_name", "text"),
            ("method", "text"),
        ),
        ("event_time", "ip_address"),
    ),
    # The GUI's one narrow path to root: validated requests the fsguard service consumes.
    _table(
        "v_fsguard_actions",
        "fsguard_action_uuid",
        (
            ("action_name", "text"),  # unban | allow | deny | feeds_update | firewall_apply
            ("action_argument", "text"),  # a validated IP/CIDR or empty
            ("action_label", "text"),
            ("action_status", "text"),  # pending | running | done | failed | rejected
            ("action_result", "text"),
            ("requested_by", "text"),
            ("action_expires", "epoch"),  # allow/deny: the entry's expiry (NULL = never)
        ),
        ("action_status",),
    ),
    # -- cluster (fsguard.cluster; only used with a [cluster] section) --------------------------
    # One row per ban decided by one node; the key is uuid5(node, ip, jail, ban start), so a
    # replayed outbox or a multi-master copy of the same decision never makes a second row.
    _table(
        "v_fsguard_cluster_bans",
        "fsguard_cluster_ban_uuid",
        (
            ("node_name", "text"),  # the node whose fail2ban decided
            ("ip_address", "text"),
            ("jail", "text"),
            ("ban_start", "epoch"),
            ("ban_end", "epoch"),  # NULL = permanent
            ("ban_seconds", "int"),
            ("ban_status", "text"),  # banned | unbanned
            ("unban_time", "epoch"),
            ("unban_node", "text"),
            ("unban_reason", "text"),
            ("published_at", "epoch"),  # deciding node's clock when it published (lag figure)
        ),
        ("ip_address", "ban_status"),
    ),
    # Every node that ever joined: liveness and the figures `fsguard cluster status` shows.
    _table(
        "v_fsguard_cluster_nodes",
        "fsguard_cluster_node_uuid",
        (
            ("node_name", "text"),
            ("last_seen", "epoch"),  # database clock (no node clock skew in "is it alive")
            ("started_at", "epoch"),
            ("outbox_size", "int"),
            ("apply_lag", "epoch"),  # seconds from a remote decision to the kernel add here
            ("bans_applied", "int"),
        ),
        ("node_name",),
    ),
    # Each node's live registrations: every node's whitelist includes them until they expire.
    _table(
        "v_fsguard_cluster_registrations",
        "fsguard_cluster_registration_uuid",
        (
            ("node_name", "text"),
            ("ip_address", "text"),
            ("user_name", "text"),
            ("realm", "text"),
            ("expires", "epoch"),
        ),
        ("node_name", "expires"),
    ),
    # Feed caches and country data, fetched by one node per cycle and loaded by all (fsguard.cluster).
    _table(
        "v_fsguard_cluster_files",
        "fsguard_cluster_file_uuid",
        (
            ("file_name", "text"),  # feeds/<name>.json, countries/<file>
            ("file_body", "text"),  # the bytes as latin-1 text (lossless; no NUL in these files)
            ("file_sha256", "text"),
            ("fetched_at", "epoch"),
            ("node_name", "text"),  # the node that fetched it
        ),
        ("file_name",),
    ),
)

BY_NAME = {t.name: t for t in TABLES}

PG_TYPES = {
    "uuid": "uuid",
    "text": "text",
    "bool": "boolean",
    "int": "integer",
    "epoch": "double precision",
    "timestamptz": "timestamptz",
}
SQLITE_TYPES = {
    "uuid": "text",
    "text": "text",
    "bool": "integer",
    "int": "integer",
    "epoch": "real",
    "timestamptz": "text",
}


def ddl(kind: str) -> str:
    """CREATE TABLE / INDEX statements (IF NOT EXISTS) for ``pgsql`` or ``sqlite``."""
    types = PG_TYPES if kind == "pgsql" else SQLITE_TYPES
    out: list[str] = []
    for t in TABLES:
        cols = []
        for name, typ in t.columns:
            extra = " primary key" if name == t.key else ""
            cols.append(f"\t{name} {types[typ]}{extra}")
        out.append(f"create table if not exists {t.name} (\n" + ",\n".join(cols) + "\n);")
        for col in t.indexes:
            out.append(f"create index if not exists {t.name}_{col}_idx on {t.name} ({col});")
        if t.unique:
            out.append(f"create unique index if not exists {unique_index_name(t)} on {t.name} ({', '.join(t.unique)});")
    return "\n".join(out) + "\n"
