"""fsguard: keeps SIP scanners and password guessers out of FreeSWITCH / FusionPBX.

This package is imported inside FreeSWITCH (mod_python3, system python3) by the entry modules
``fs_python.not_found``, ``fs_python.monitor`` and ``fs_python.api``: keep top-level imports here
and in those modules to the standard library.
"""

__version__ = "0.1.0"
