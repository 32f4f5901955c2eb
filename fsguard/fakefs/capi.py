"""The C boundary of the stand-in: which simulated process is current, and SWIG's argument rules."""

from __future__ import annotations

import threading

from fsguard.fakefs.switch import FakeSwitch

_current: FakeSwitch | None = None
# A runtime thread belongs to the switch that started it, even when a test (or the drill) makes
# another switch current later: its running() must turn false with *its* switch's shutdown.
_thread = threading.local()


def bind_thread(switch: FakeSwitch) -> None:
    _thread.switch = switch


def use(switch: FakeSwitch) -> FakeSwitch:
    """Make ``switch`` the process every call of the stand-in module talks to."""
    global _current
    _current = switch
    return switch


def current() -> FakeSwitch:
    global _current
    mine = getattr(_thread, "switch", None)
    if mine is not None:
        return mine  # type: ignore[no-any-return]
    if _current is None:
        _current = FakeSwitch()
    return _current


def c_str(value: object, fn: str, argn: int) -> str | None:
    """SWIG's ``char *`` conversion: str or None, lone surrogates crash the process (observed on
    1.10.12), a NUL ends the C string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("in method '%s', argument %d of type 'char const *'" % (fn, argn))
    current().check_str(value, fn)
    return value.split("\x00", 1)[0]


def c_int(value: object, fn: str, argn: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("in method '%s', argument %d of type 'int'" % (fn, argn))
    return value
