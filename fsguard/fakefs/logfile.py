"""mod_logfile's record format, ported from FreeSWITCH 1.10.12 (see shared/reference/freeswitch.md).

A record is ``YYYY-MM-DD HH:MM:SS.uuuuuu NN.NN% [LEVEL] file:line message`` with *no* newline added
(``consoleLog`` without ``\\n`` glues the next record onto the line). Records that belong to a call
(``node->userdata`` = the uuid, mod_logfile ``uuid=true``) go another way: the whole record is split
on ``\\n`` with ``switch_separate_string`` (which strips paired single quotes, processes backslash
escapes and trims spaces per line) and each piece is written as ``"%s %s\\n" % (uuid, piece)``
through a 2048-byte buffer, so a piece longer than 2046 bytes loses its newline. That port is what
makes ``session.consoleLog`` look "rewritten" in the recordings.
"""

from __future__ import annotations

import time

LEVELS = ("CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")
DISABLE = -1
INVALID = 64
MAX_LOGGED = 7  # mod_logfile's default level map logs CONSOLE..DEBUG


def _is_number(s: str) -> bool:
    # switch_is_number: optional sign, then digits and dots only ("" counts as a number)
    if s[:1] in ("-", "+"):
        s = s[1:]
    return all(c == "." or "0" <= c <= "9" for c in s)


def _atoi(s: str) -> int:
    sign, i, n = 1, 0, 0
    if s[:1] in ("-", "+"):
        sign, i = (-1 if s[0] == "-" else 1), 1
    while i < len(s) and "0" <= s[i] <= "9":
        n = n * 10 + ord(s[i]) - 48
        i += 1
    return sign * n


def str2level(level: str | None) -> int:
    """switch_log_str2level, with consoleLog's "INVALID becomes DEBUG" on top."""
    if level is None:
        return 7
    if _is_number(level):
        x = _atoi(level)
        if x > INVALID:
            return INVALID - 1
        return max(x, 0)
    up = level.upper()
    if up == "DISABLE":
        return DISABLE
    if up in LEVELS:
        return LEVELS.index(up)
    return 7  # unknown names ("error", "warn") silently become DEBUG


def header(level: int, file: str, line: int, now: float | None = None, idle: float | None = 99.9) -> str:
    t = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + ".%06d" % int((t % 1) * 1_000_000)
    idle_txt = "" if idle is None else " %.2f%%" % idle
    return "%s%s [%s] %s:%d " % (stamp, idle_txt, LEVELS[level], file, line)


def cut_path(path: str) -> str:
    """switch_cut_path: the shown file is the basename (both / and \\ separators)."""
    for sep in ("/", "\\"):
        if sep in path:
            path = path.rsplit(sep, 1)[1]
    return path


_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _cleanup(s: str, delim: str) -> str:
    """cleanup_separated_string: drop paired quotes, process escapes, trim spaces."""
    i = 0
    while i < len(s) and s[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            e = s[i + 1]
            if e in ("'", '"', delim, "\\") or e in _UNESCAPE:
                out.append(_UNESCAPE.get(e, e) if e not in ("'", '"', delim, "\\") else e)
                end = len(out)
                i += 2
                continue
        if ch == "'" and (inside or "'" in s[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(ch)
            if ch != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end] if end is not None else out)


def separate_string(buf: str, delim: str, limit: int) -> list[str]:
    """switch_separate_string for a non-blank delimiter (and the ``^^<d>`` delimiter switch)."""
    if buf.startswith("^^") and len(buf) > 3:
        delim, buf = buf[2], buf[3:]
    if not buf:
        return []
    if "\\" not in buf and "'" not in buf:
        # nothing to unquote or unescape: the tokenizer reduces to split + trim of spaces
        parts = buf.split(delim, limit - 1) if limit > 0 else []
        if parts and parts[-1] == "" and buf.endswith(delim) and len(parts) <= limit:
            parts.pop()  # a trailing delimiter opens no new piece
        return [p.strip(" ") for p in parts]
    return _separate_slow(buf, delim, limit)


def _separate_slow(buf: str, delim: str, limit: int) -> list[str]:
    """The C tokenizer, character by character."""
    bounds: list[tuple[int, int]] = []
    start = -1  # -1: state START (C's tokenizer), else the current piece's first index
    inside = False
    i, n = 0, len(buf)
    while i < n:
        if start < 0:
            if len(bounds) >= limit:
                break
            start = i
            if len(bounds) + 1 >= limit:
                break  # the last slot takes the rest of the buffer, newlines and all
            continue
        ch = buf[i]
        if ch == "\\":
            i += 1
        elif ch == "'" and (inside or "'" in buf[i + 1 :]):
            inside = not inside
        elif ch == delim and not inside:
            bounds.append((start, i))
            start = -1
        i += 1
    if start >= 0:
        bounds.append((start, n))
    pieces = [buf[a:b] for a, b in bounds]
    return [_cleanup(p, delim) for p in pieces]


def uuid_lines(uuid: str, record: str) -> bytes:
    """What mod_logfile writes for a record carrying a call uuid."""
    out = bytearray()
    for piece in separate_string(record, "\n", 100):
        line = ("%s %s\n" % (uuid, piece)).encode("utf-8", "surrogateescape")
        out += line if len(line) <= 2047 else line[:2047]  # snprintf into char buf[2048]
    return bytes(out)
