"""fakefs: a stand-in ``freeswitch`` module and a harness calling entry points like mod_python3.

Contract 8 (ARCHITECTURE.md): shipped in the package because the drill's simulated PBX uses it.

    from fsguard.fakefs import Harness, FakeSwitch
    h = Harness(FakeSwitch(log_path))      # installs sys.modules["freeswitch"]
    h.api("fs_python.api check 192.0.2.1") # -> "false\\n"
    call = h.dialplan("fs_python.not_found", destination="999", network_ip="203.0.113.9")
    call.final                               # -> 404
    h.pyrun("fs_python.monitor")             # runtime(args) in a thread; h.switch.shutdown()
"""

from fsguard.fakefs.harness import Call, Harness, install, split_command
from fsguard.fakefs.switch import FakeSwitch, FreeSwitchCrash, FreeSwitchDeadlock

__all__ = ["Call", "FakeSwitch", "FreeSwitchCrash", "FreeSwitchDeadlock", "Harness", "install", "split_command"]
