"""Safe emission back into FreeSWITCH, and the config cached for code running inside it.

Every text handed to ``freeswitch`` goes through :func:`safe_text` first: FreeSWITCH 1.10.12 hands
non-UTF-8 attacker bytes to Python as lone surrogates, and passing such a string back (consoleLog,
stream.write, setVariable, any str argument, an exception message) segfaults the whole PBX.

Events go out as :mod:`fs_python.eventline` lines through ``consoleLog2(LOG_LEVEL, LOG_FILE, "",
LOG_LINE, line)``, so mod_logfile shows ``[WARNING] fsguard:1 FSGUARD <token> ...``.

This is a helper module (not an entry module): it stays cached in ``sys.modules`` across the
entry modules' reloads, so the config is read once and re-read only when its file changes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from fs_python import config, eventline

_lock = threading.Lock()
_cfg: config.Config | None = None
_cfg_key: tuple[str, int] | None = None
_cfg_checked = 0.0
_warned: set[str] = set()
RECHECK_SECONDS = 5.0


def safe_text(value: object, limit: int | None = None) -> str:
    """A str FreeSWITCH can take: no lone surrogates (shown as ``\\udcXX``), no NUL."""
    try:
        s = value if isinstance(value, str) else str(value)
    except Exception:
        s = "<unprintable>"
    if limit is not None and len(s) > limit:
        s = s[:limit]
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    if "\x00" in s:
        s = s.replace("\x00", "\\x00")
    return s


def _fs() -> Any:
    import freeswitch  # only importable inside FreeSWITCH (or with fakefs installed)

    return freeswitch


def log(level: str, message: object) -> None:
    """consoleLog with a trailing newline, never raising (a failed log must not fail a call)."""
    text = safe_text(message, 1800)
    if not text.endswith("\n"):
        text += "\n"
    try:
        _fs().consoleLog(level, text)
    except Exception:  # noqa: S110 - nothing else to tell it to
        pass


def log_once(key: str, level: str, message: object) -> None:
    """Log ``message`` the first time ``key`` is seen in this process (config errors, ...)."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log(level, message)


def settings() -> config.Config | None:
    """The fsguard config, cached; re-read when the file changes (checked every few seconds).
    A broken file keeps the last good config in force."""
    global _cfg, _cfg_key, _cfg_checked
    now = time.monotonic()
    if _cfg is not None and now - _cfg_checked < RECHECK_SECONDS:
        return _cfg
    with _lock:
        _cfg_checked = now
        path = config.config_path()
        try:
            st = os.stat(path)
            key: tuple[str, int] = (str(path), st.st_mtime_ns)
        except OSError:
            key = (str(path), -1)
        if _cfg is not None and key == _cfg_key:
            return _cfg
        try:
            cfg = config.load(path)
        except config.ConfigError as exc:
            bad = exc
        else:
            _cfg, _cfg_key = cfg, key
            return cfg
    log_once("config:%s" % (key,), "ERR", "fsguard: cannot read its config: %s" % bad)
    return _cfg


def reset() -> None:
    """Forget the cached config and the once-only warnings (tests)."""
    global _cfg, _cfg_key, _cfg_checked
    with _lock:
        _cfg, _cfg_key, _cfg_checked = None, None, 0.0
        _warned.clear()


def token() -> str | None:
    cfg = settings()
    tok = cfg.event_token if cfg is not None else ""
    if not tok or not eventline.TOKEN_RE.match(tok):
        where = str(cfg.path) if cfg is not None else str(config.config_path())
        log_once("token:" + where, "ERR", "fsguard: no valid [fsguard] event_token in %s: fsguard events are not "
                 "logged until it is set (fsguard install sets it)" % where)
        return None
    return tok


def event(kind: str, ip: object, fields: dict[str, object] | None = None) -> bool:
    """Emit one event line; False (and nothing logged) when no token is configured."""
    tok = token()
    if tok is None:
        return False
    line = safe_text(eventline.render(tok, kind, ip, fields))
    try:
        _fs().consoleLog2(eventline.LOG_LEVEL, eventline.LOG_FILE, "", eventline.LOG_LINE, line)
    except Exception:
        return False
    return True
