"""Every setting of ``fsguard.conf`` the product reads, declared once: section, key, type, default,
one-line doc. Read one with its typed accessor, e.g. ``settings.FIREWALL_BACKEND.get(cfg)``.

The keys code inside FreeSWITCH reads (``[fsguard]``, ``[fs_python]``, ``[store] kind``) are
declared in :mod:`fs_python.config` with the same mechanism (fs_python must not import fsguard);
:data:`SETTINGS` holds both. Standard library only: importing this costs nothing measurable.
A default of ``""`` with "(default: ...)" in the doc is computed where it is used.
"""

from __future__ import annotations

from fs_python.config import SETTINGS, Setting, boolean, integer, number, text, words
from fsguard.firewall import registry

__all__ = ["SETTINGS", "Setting"]

# -- [store] --------------------------------------------------------------------------------------
STORE_PATH = text("store", "path", "", "SQLite file (default: <state_dir>/fsguard.db)")
STORE_HOST = text("store", "host", "", "PostgreSQL host (kind = pgsql)")
STORE_PORT = text("store", "port", "", "PostgreSQL port")
STORE_DBNAME = text("store", "dbname", "", "PostgreSQL database (FusionPBX's)")
STORE_USER = text("store", "user", "", "PostgreSQL user")
STORE_PASSWORD = text("store", "password", "", "PostgreSQL password", secret=True)
STORE_SSLMODE = text("store", "sslmode", "", "PostgreSQL sslmode")
STORE_PG = (STORE_HOST, STORE_PORT, STORE_DBNAME, STORE_USER, STORE_PASSWORD, STORE_SSLMODE)

# -- [fail2ban] -----------------------------------------------------------------------------------
F2B_JAILS_ALL = ("fsguard-auth", "fsguard-scan", "fsguard-sofia", "fsguard-fusionpbx")
F2B_SOCKET = text("fail2ban", "socket", "/var/run/fail2ban/fail2ban.sock", "fail2ban-server's control socket")
F2B_NETNS = text("fail2ban", "netns", "", "network namespace of the kernel ban sets (tests, drill)")
F2B_FIREWALL = boolean("fail2ban", "firewall", True, "off: bans are recorded, no kernel set is touched")
F2B_BACKEND = text("fail2ban", "backend", "auto", "how fail2ban reads the log",
                   choices=("auto", "pyinotify", "polling", "systemd"))
F2B_LOGPATH = text("fail2ban", "logpath", "/var/log/freeswitch/freeswitch.log", "the FreeSWITCH log fail2ban reads")
F2B_JAIL_DIR = text("fail2ban", "jail_dir", "/etc/fail2ban/jail.d",
                    "where the ignore list file is written (written empty: no file)", empty_off=True)
F2B_PYTHONPATH = text("fail2ban", "pythonpath", "", "where fail2ban's action imports fsguard from "
                      "(default: the installed package's parent)")
F2B_PORTS = text("fail2ban", "ports", "5060,5061,5080,5081", "ports named in the jails")
F2B_IGNOREIP = words("fail2ban", "ignoreip", ("127.0.0.1/8", "::1"), "addresses fail2ban never bans")
F2B_JAILS = words("fail2ban", "jails", F2B_JAILS_ALL, "jails whose ignore list the service keeps in sync")
F2B_AUTH_ENABLED = boolean("fail2ban", "auth_enabled", True, "jail fsguard-auth (password guessing)")
F2B_SCAN_ENABLED = boolean("fail2ban", "scan_enabled", True, "jail fsguard-scan (number scans)")
F2B_SOFIA_ENABLED = boolean("fail2ban", "sofia_enabled", False, "jail fsguard-sofia (FreeSWITCH's own lines)")
F2B_FUSIONPBX_ENABLED = boolean("fail2ban", "fusionpbx_enabled", False, "jail fsguard-fusionpbx (GUI logins)")
F2B_AUTH_MAXRETRY = integer("fail2ban", "auth_maxretry", 5, "auth failures before a ban")
F2B_AUTH_FINDTIME = integer("fail2ban", "auth_findtime", 600, "seconds auth failures are counted over")
F2B_AUTH_BANTIME = integer("fail2ban", "auth_bantime", 3600, "first auth ban, seconds")
F2B_SCAN_MAXRETRY = integer("fail2ban", "scan_maxretry", 2, "not-found requests before a ban")
F2B_SCAN_FINDTIME = integer("fail2ban", "scan_findtime", 600, "seconds scans are counted over")
F2B_SCAN_BANTIME = integer("fail2ban", "scan_bantime", 86400, "first scan ban, seconds")
F2B_ARMED_CHECK_INTERVAL = integer("fail2ban", "armed_check_interval", 30,
                                   "seconds between checks that every jail still has fsguard's action")
F2B_BANTIME_MAX = integer("fail2ban", "bantime_max", 4 * 7 * 86400, "longest repeat-offender ban, seconds")

# -- [firewall] -----------------------------------------------------------------------------------
FIREWALL_BACKEND = text("firewall", "backend", registry.DEFAULT, "kernel ruleset backend",
                        choices=tuple(registry.BACKENDS))
FIREWALL_BAN_GRACE = integer("firewall", "ban_grace", 30, "seconds a kernel ban outlives fail2ban's")
FIREWALL_PROTECTED_PORTS = words("firewall", "protected_ports", ("5060", "5061", "5080", "5081"),
                                 "SIP ports the drop rules cover (or: all)")
FIREWALL_PROTOCOLS = words("firewall", "protocols", ("udp", "tcp"), "protocols the rules cover")
FIREWALL_MANAGEMENT_PORTS = words("firewall", "management_ports", ("22", "80", "443"), "never filtered")
FIREWALL_COUNTRY_PORTS = words("firewall", "country_ports", ("5060",), "ports limited to allowed countries")
FIREWALL_CARRIER_PORTS = words("firewall", "carrier_ports", ("5080",), "ports limited to carriers")
FIREWALL_CARRIER_RULE = text("firewall", "carrier_rule", "auto", "carrier-only rule on carrier_ports",
                             choices=("auto", "on", "off"))
FIREWALL_NEW_WITHOUT_SYN = boolean("firewall", "new_without_syn", True, "drop new TCP without SYN (stateful)")
FIREWALL_REGISTERED_ACCEPT = boolean("firewall", "registered_accept", True,
                                     "accept live registrations ahead of feed and country drops")
FIREWALL_REGISTRATION_GRACE = integer("firewall", "registration_grace", 60,
                                      "seconds an unregistered address stays accepted")
FIREWALL_IPV6_PREFIX_BAN_AFTER = integer("firewall", "ipv6_prefix_ban_after", 3,
                                         "banned addresses in one IPv6 /64 that ban the /64 (0: never)")
FIREWALL_PRIORITY = integer("firewall", "priority", -10, "nftables hook priority")

# -- [feeds] --------------------------------------------------------------------------------------
FEEDS_VOIPBL = boolean("feeds", "voipbl", True, "use the VoIP Blacklist feed")
FEEDS_VOIPBL_URL = text("feeds", "voipbl_url", "http://www.voipbl.org/update/", "VoIP Blacklist URL")
FEEDS_APIBAN_KEY = text("feeds", "apiban_key", "", "APIBAN key (empty: APIBAN off)", secret=True)
FEEDS_APIBAN_URL = text("feeds", "apiban_url", "https://apiban.org/api", "APIBAN URL")
FEEDS_EXTRA = words("feeds", "extra", (), "more feeds: name=URL or name=/path")
FEEDS_FLOOR4 = integer("feeds", "floor4", 10, "shortest IPv4 prefix a feed may list")
FEEDS_FLOOR6 = integer("feeds", "floor6", 32, "shortest IPv6 prefix a feed may list")
FEEDS_ACCEPT_TEST_RANGES = boolean("feeds", "accept_test_ranges", False, "accept documentation ranges (tests)")
FEEDS_MAX_BYTES = integer("feeds", "max_bytes", 64 * 1024 * 1024, "largest download accepted")
FEEDS_TIMEOUT = integer("feeds", "timeout", 30, "seconds per download")
FEEDS_RETRIES = integer("feeds", "retries", 3, "attempts per download")
FEEDS_MIN_KEEP_RATIO = number("feeds", "min_keep_ratio", 0.5, "a feed shrinking below this share is refused")
FEEDS_APIBAN_RATE = integer("feeds", "apiban_rate", 11, "APIBAN requests per window")
FEEDS_APIBAN_WINDOW = integer("feeds", "apiban_window", 120, "APIBAN rate window, seconds")
FEEDS_REFRESH_LIMIT = integer("feeds", "refresh_limit", 900, "seconds a GUI-requested refresh may take")
FEEDS_APIBAN_DAYS = integer("feeds", "apiban_days", 7, "days an APIBAN entry is kept")

# -- [countries] / [carriers] / [drill] ---------------------------------------------------------
COUNTRIES_ALLOW = words("countries", "allow", (), "ISO codes allowed on country_ports (empty: no rule)")
COUNTRIES_REFRESH_HOURS = integer("countries", "refresh_hours", 24, "age before country data is re-fetched")
COUNTRIES_SOURCES = words("countries", "sources", (
    "https://ftp.afrinic.net/pub/stats/afrinic/delegated-afrinic-extended-latest",
    "https://ftp.apnic.net/stats/apnic/delegated-apnic-extended-latest",
    "https://ftp.arin.net/pub/stats/arin/delegated-arin-extended-latest",
    "https://ftp.lacnic.net/pub/stats/lacnic/delegated-lacnic-extended-latest",
    "https://ftp.ripe.net/pub/stats/ripencc/delegated-ripencc-extended-latest",
), "RIR delegation files")
SHIELD_AUTH_JAIL = text("shield", "auth_jail", "fsguard-auth", "jail a suspended registration shield bans in")
SHIELD_IDENTITIES = integer("shield", "identities", 10, "foreign identities failing behind a registered "
                            "address before its shield is suspended")
SHIELD_WINDOW = integer("shield", "window", 600, "seconds those identities are counted over")
SHIELD_SUSPEND = integer("shield", "suspend", 3600, "seconds a shield stays suspended (at least 60)")
SERVICE_OFFENDER_IDENTITIES = integer("service", "offender_identities", 200,
                                      "distinct identities kept per whitelisted address")
CARRIERS_CIDRS = words("carriers", "cidrs", (), "carrier addresses (whitelisted, carrier_ports)")
CARRIERS_FUSIONPBX_ACL = text("carriers", "fusionpbx_acl", "providers", "FusionPBX ACL read for carriers")
CLUSTER_NODE = text("cluster", "node", "", "this node's name (default: the host name); the section turns the "
                    "cluster on")
CLUSTER_FEEDS_MAX_AGE = integer("cluster", "feeds_max_age", 3 * 3600, "seconds another node's fetch of the feeds "
                                "stays fresh: this node loads it instead of fetching")
# Written by ``fsguard install`` to record what it found (read by people and the installer's re-runs).
FREESWITCH_CONF_DIR = text("freeswitch", "conf_dir", "", "FreeSWITCH's config directory install found")
FREESWITCH_SCRIPTS_DIR = text("freeswitch", "scripts_dir", "", "FreeSWITCH's scripts directory (gets fs_python/)")
FREESWITCH_LOG = text("freeswitch", "log", "", "FreeSWITCH's log file")
FUSIONPBX_CONFIG = text("fusionpbx", "config", "", "FusionPBX's config.conf")
FUSIONPBX_WEB_ROOT = text("fusionpbx", "web_root", "", "FusionPBX's web root")
FUSIONPBX_CACHE_METHOD = text("fusionpbx", "cache_method", "", "FusionPBX's cache method")
FUSIONPBX_CACHE_DIR = text("fusionpbx", "cache_dir", "", "FusionPBX's cache directory")
DRILL_TARGET = text("drill", "target", "", "address the live drill attacks (default: local_ip_v4)")
DRILL_DOMAIN = text("drill", "domain", "", "SIP domain of the live drill (default: FreeSWITCH's)")


# -- [shield] / [service] (fsguard.shield, fsguard.evidence) ---------------------------------------
SHIELD_IDENTITIES = integer("shield", "identities", 10, "identities that never registered from a registered "
                            "address which, failing within the window, suspend its registration shield")
SHIELD_WINDOW = integer("shield", "window", 600, "seconds those identities are counted over")
SHIELD_SUSPEND = integer("shield", "suspend", 3600, "seconds a suspension lasts (extended while banned)")
SHIELD_AUTH_JAIL = text("shield", "auth_jail", "fsguard-auth", "jail that gets a suspended address's failures")
SERVICE_OFFENDER_IDENTITIES = integer("service", "offender_identities", 200, "distinct identities kept per "
                                      "address in the offenders table (the rest share one overflow row)")
