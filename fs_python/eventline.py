"""fsguard's event line: the one contract between FreeSWITCH and fail2ban.

A line, as FreeSWITCH's mod_logfile writes it (consoleLog2 with file ``fsguard`` and line 1)::

    2026-11-26 19:16:18.546302 48.13% [WARNING] fsguard:1 FSGUARD <token> <kind> <ip> k="v" ...

- ``FSGUARD <token>``: a fixed marker plus the install's secret token. Attacker text can forge a
  whole physical log line (a folded Proxy-Authorization user name inside sofia's "Can't find user"
  record does it, see shared/reference/freeswitch.md section 3); without the token it cannot forge
  *ours*, so the filters that read these lines trust nothing else.
- ``<kind>``: one of KINDS (jails count BAN_KINDS only).
- ``<ip>``: the socket source address (``network-ip`` / ``sip_network_ip``), normalised by
  :mod:`ipaddress`, or ``-`` when FreeSWITCH gave none or an invalid one. It is the only value in a
  position a filter reads an address from, and nothing a SIP header says ever lands there.
- then ``key="value"`` pairs in the fixed order of FIELDS. Values are attacker text, escaped to
  printable ASCII with no ``"`` or ``\\`` left unescaped: ``\\xHH`` for control characters, ``"``,
  ``\\`` and raw (non-UTF-8) bytes that FreeSWITCH hands over as lone surrogates; ``\\uHHHH`` /
  ``\\UHHHHHHHH`` for other non-ASCII. Each value is capped (``~`` after the closing quote marks a
  cut), so a line never reaches FreeSWITCH's ~2 KB record limit.

The same module renders (inside FreeSWITCH) and parses (tests, ``fsguard why``, the daemon).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

MARKER = "FSGUARD"
LOG_FILE = "fsguard"  # what consoleLog2 shows as the source file: "fsguard:1"
LOG_LINE = 1
LOG_LEVEL = "WARNING"

KINDS = ("not-found", "auth-failure", "ip-literal-domain", "acl-reject", "registered-failure", "challenge",
         "no-sdp", "scanner-ua")
# What each kind means (fs_python.monitor and fs_python.dialplan write them; the jails pick them by
# mode in fsguard.f2b.filters.MODES):
#   not-found          an INVITE reached the public context's last extension (number unknown)
#   auth-failure       sofia sent 403 to a REGISTER/INVITE with wrong credentials
#   ip-literal-domain  a request challenged for a registration host that is an IP nobody serves
#   acl-reject         sofia refused the address by an ACL
#   registered-failure an auth failure for an identity (user@domain) that registered successfully
#                      from the same address now or recently (a customer's misconfigured phone).
#                      Recorded as an offence, never counted by a jail: a registration shields
#                      its own identity.
#   challenge          a request challenged (401/407) on a carrier-only profile (FusionPBX's
#                      external: auth-calls + apply-inbound-acl=providers) from an address that
#                      is no carrier, customer or whitelist entry: it can never place a call there
#   no-sdp             an INVITE refused for lack of SDP (480, MANDATORY_IE_MISSING, before any
#                      dialplan runs): a probe that leaves no other trace
#   scanner-ua         a request whose User-Agent is a known scanner's, from an untrusted address
BAN_KINDS = tuple(k for k in KINDS if k != "registered-failure")
# Fixed order: the filters and the parser rely on it.
FIELDS = ("profile", "method", "user", "domain", "number", "from", "to", "ua")
MAX_FIELD = 160  # escaped characters per value
MAX_UA = 240
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{8,64}$")

_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


_PLAIN_RE = re.compile(r'[ !#-\[\]-~]*')  # printable ASCII without " and \: kept as is


def escape(value: str, limit: int = MAX_FIELD) -> tuple[str, bool]:
    """Escape attacker text to printable ASCII; return (escaped, was_cut)."""
    if _PLAIN_RE.fullmatch(value):  # fast path, same result: every character is one output char
        return (value, False) if len(value) <= limit else (value[:limit], True)
    out: list[str] = []
    size = 0
    for ch in value:
        if ch in _PRINTABLE:
            piece = ch
        else:
            code = ord(ch)
            if code < 0x80:
                piece = "\\x%02x" % code
            elif 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd raw byte
                piece = "\\x%02x" % (code - 0xDC00)
            elif code <= 0xFFFF:
                piece = "\\u%04x" % code
            else:
                piece = "\\U%08x" % code
        if size + len(piece) > limit:
            return "".join(out), True
        out.append(piece)
        size += len(piece)
    return "".join(out), False


_UNESCAPE_RE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def unescape(text: str) -> str:
    """Reverse :func:`escape` exactly (raw bytes come back as lone surrogates)."""

    def one(m: re.Match[str]) -> str:
        code = int(m.group(1)[1:], 16)
        if m.group(1)[0] == "x" and code >= 0x80:
            return chr(0xDC00 + code)
        return chr(code)

    return _UNESCAPE_RE.sub(one, text)


def normalize_ip(value: object) -> str | None:
    """The canonical text of an IP address, or None. IPv4-mapped IPv6 becomes IPv4."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:  # scoped IPv6 is never a remote peer we could ban
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def render(token: str, kind: str, ip: object, fields: dict[str, object] | None = None) -> str:
    """The message text (no date prefix, ending in a newline) for consoleLog2."""
    if not TOKEN_RE.match(token):
        raise ValueError("bad event token")
    if kind not in KINDS:
        raise ValueError("unknown event kind")
    parts = [MARKER, token, kind, normalize_ip(ip) or "-"]
    for key in FIELDS:
        raw = (fields or {}).get(key)
        if raw is None:
            continue
        text = raw if isinstance(raw, str) else str(raw)
        esc, cut = escape(text, MAX_UA if key == "ua" else MAX_FIELD)
        parts.append('%s="%s"%s' % (key, esc, "~" if cut else ""))
    return " ".join(parts) + "\n"


@dataclass(frozen=True)
class Event:
    kind: str
    ip: str | None
    fields: dict[str, str] = field(default_factory=dict)
    cut: frozenset[str] = frozenset()
    timestamp: str | None = None  # "YYYY-MM-DD HH:MM:SS.ffffff" when parsed from a log line


_FIELD_RE = r'(?:%s)="[^"]*"~?' % "|".join(FIELDS)
_LINE_RE = re.compile(
    r"^(?:(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})(?: \d{1,3}\.\d\d%%)? \[WARNING\] fsguard:1 )?"
    r"FSGUARD (?P<token>[A-Za-z0-9]{8,64}) (?P<kind>[a-z-]{1,32}) (?P<ip>[0-9A-Fa-f.:]{2,45}|-)"
    r"(?P<rest>(?: %s)*)$" % _FIELD_RE
)
_PAIR_RE = re.compile(r' ([a-z]+)="([^"]*)"(~?)')


def parse(line: str, token: str | None = None) -> Event | None:
    """Parse a message or a whole log line; None if it is not a well-formed event (or the token
    differs from ``token`` when one is given)."""
    m = _LINE_RE.match(line.rstrip("\r\n"))
    if m is None or m.group("kind") not in KINDS:
        return None
    if token is not None and m.group("token") != token:
        return None
    ip = None if m.group("ip") == "-" else normalize_ip(m.group("ip"))
    if m.group("ip") != "-" and ip is None:
        return None
    fields: dict[str, str] = {}
    cut: set[str] = set()
    for key, val, tilde in _PAIR_RE.findall(m.group("rest")):
        fields[key] = unescape(val)
        if tilde:
            cut.add(key)
    return Event(m.group("kind"), ip, fields, frozenset(cut), m.group("ts"))


def filter_regex(token: str, *more_tokens: str) -> str:
    """The failregex body (after the record prefix) matching every event kind of ``token`` (or of
    ``more_tokens``: the previous token during a rotation's grace period).

    Used to render fail2ban filters, so the filter and the renderer cannot drift apart."""
    tokens = (token, *more_tokens)
    if not all(TOKEN_RE.match(t) for t in tokens):
        raise ValueError("bad event token")
    alt = tokens[0] if len(tokens) == 1 else "(?:%s)" % "|".join(tokens)
    return r"FSGUARD %s (?:%s) <ADDR>" % (alt, "|".join(re.escape(k) for k in KINDS))


_TOKEN_IN_LINE = re.compile(r"\bFSGUARD [A-Za-z0-9]{8,64}(?= |$)")
MASKED = "FSGUARD ********"


def mask_token(text: str) -> str:
    """The line with its token hidden: evidence is shown to GUI users, the token is the secret
    that makes our event lines unforgeable."""
    return _TOKEN_IN_LINE.sub(MASKED, text)


def parse_record(line: str, tokens: tuple[str, ...]) -> Event | None:
    """A whole log record (date, idle, level, ``fsguard:1``) carrying one of ``tokens``; None for
    anything else, a bare message without the record prefix included. ``line`` is one physical
    line, split on ``\\n`` only (a CR or U+2028 inside it is attacker data, never a line break)."""
    if "\r" in line:
        return None
    for tok in tokens:
        ev = parse(line, tok)
        if ev is not None:
            return ev if ev.timestamp is not None else None
    return None
