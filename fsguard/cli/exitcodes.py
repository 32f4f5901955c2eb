"""Named exit codes of the ``fsguard`` command (pipx style: scripts can rely on them)."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    # ``ignore-check`` keeps fail2ban's ignorecommand contract: 0 ignore, 1 not ignored, 2 bad input.
    NOT_IGNORED = 1
    BAD_INPUT = 2
    NOT_FOUND = 3  # the thing asked about does not exist (no ban, no entry)
    CONFIG_ERROR = 4  # the config file or a setting is broken
    PREFLIGHT_FAILED = 5  # something needed is not installed / unsupported
    STORE_ERROR = 6
    FIREWALL_ERROR = 7
    FEED_ERROR = 8
    FAIL2BAN_ERROR = 9
    INSTALL_ERROR = 10
    USER_EDITED = 11  # an installed file was edited by the operator: refused to overwrite
    DRILL_FAILED = 12  # a protection did not hold
    INTERNAL = 70  # an unexpected exception (a bug): traceback on stderr (EX_SOFTWARE)
    INTERRUPTED = 130
