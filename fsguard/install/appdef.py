"""The FusionPBX app's identity: uuids, permissions, menu entry, default settings.

``fusionpbx_app/app_config.php`` and ``app_menu.php`` say the same things in PHP (FusionPBX reads
those when an operator runs its own upgrade); the installer writes these as fsguard's own rows so
nothing of FusionPBX's has to be rebuilt. ``tests/test_php_app.py`` proves the two agree.
"""

from __future__ import annotations

import uuid

APP_NAME = "fsguard"
APP_UUID = "5f3c2a8e-9d41-4b7a-a6e2-0c8d1f4b9e37"
# The not-found dialplan is fsguard's own row (its own app_uuid, so FusionPBX's template importer
# never confuses it with the stock not-found one).
DIALPLAN_APP_UUID = "8a1e4c77-2b5d-4f0e-9c3a-6d7e8f901b24"
DIALPLAN_UUID = "c0a8f3d2-5e61-4b9f-8a27-13d4e5f6a7b8"
DIALPLAN_NAME = "fsguard-not-found"
FUSIONPBX_NOT_FOUND_APP_UUID = "23d198e5-7a8e-4af7-b573-2d166c1c24ff"

STATUS_MENU_UUID = "0438b504-8613-7887-c420-c837ffb20cb1"  # app_menu uuid of Status
MENU_ITEM_UUID = "e6b0d9a1-3c2f-4e8b-b7d5-9f1a2c3e4d50"  # our app_menu.php uuid
MENU_PATH = "/app/fsguard/fsguard_dashboard.php"
MENU_ICON = "fa-solid fa-shield-halved"
MENU_ORDER = 60
# Bans, whitelists and registrations are system-wide (every tenant's addresses and users), so by
# default only superadmin sees them, as with FusionPBX's own Event Guard. Grant a tenant's admin
# group single permissions (e.g. fsguard_view, fsguard_unban) in Group Manager if wanted.
MENU_GROUPS = ("superadmin",)
MENU_TITLES = {
    "en-us": "SIP Guard",
    "de-de": "SIP-Schutz",
    "fr-fr": "Protection SIP",
    "es-mx": "Protección SIP",
}

# permission name -> groups that get it. Every page checks one of these; every root action too.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "fsguard_view": ("superadmin",),
    "fsguard_unban": ("superadmin",),
    "fsguard_whitelist_add": ("superadmin",),
    "fsguard_list_view": ("superadmin",),
    "fsguard_list_edit": ("superadmin",),
    "fsguard_feed_view": ("superadmin",),
    "fsguard_feed_refresh": ("superadmin",),
    "fsguard_registration_view": ("superadmin",),
    "fsguard_firewall_apply": ("superadmin",),
}

# (uuid, subcategory, type, value, description); category is always "fsguard".
DEFAULT_SETTINGS: tuple[tuple[str, str, str, str, str], ...] = (
    ("7b1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", "state_dir", "text", "/var/lib/fsguard",
     "fsguard state directory (registrations.json, whitelist.json)"),
    ("8c2e3f4a-5b6c-4d7e-9f80-a12b3c4d5e6f", "events_limit", "numeric", "50",
     "Recent events shown on the dashboard"),
)

# Namespace for the uuids of fsguard's own rows: deterministic, so a second install finds them.
NAMESPACE = uuid.UUID("3e9b7c1a-6f2d-4a85-9b0c-d1e2f3a4b5c6")


def row_uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))
