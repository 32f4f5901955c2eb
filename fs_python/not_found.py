"""``python fs_python.not_found``: log the unknown number with the caller's IP, answer SIP 404.

Entry module, reloaded by mod_python3 on every call: kept tiny; see fs_python.dialplan."""

from fs_python.dialplan import handler

__all__ = ["handler"]
