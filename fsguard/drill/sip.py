"""Just enough SIP (RFC 3261) for the drill: build and parse messages, digest authentication.

Text from the network is decoded with ``surrogateescape`` (as FreeSWITCH hands it to Python), so a
hostile byte never raises here; it is data, carried as it came.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE = 65535

REASONS = {
    100: "Trying",
    200: "OK",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    480: "Temporarily Unavailable",
    500: "Server Internal Error",
}

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}


class SipError(ValueError):
    """Not a SIP message we can read."""


@dataclass
class Message:
    first_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0] if self.is_request else ""

    @property
    def uri(self) -> str:
        parts = self.first_line.split(" ")
        return parts[1] if self.is_request and len(parts) > 2 else ""

    @property
    def status(self) -> int:
        if self.is_request:
            return 0
        try:
            return int(self.first_line.split(" ")[1])
        except (IndexError, ValueError):
            return 0

    def get(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def encode(self) -> bytes:
        lines = [self.first_line]
        for k, v in self.headers:
            lines.append(f"{_canon(k)}: {v}")
        body = self.body.encode("utf-8", "surrogateescape")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def _canon(name: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(name, "-".join(p.capitalize() for p in name.split("-")))


def parse(data: bytes) -> Message:
    if len(data) > MAX_MESSAGE:
        raise SipError("message too large")
    text = data.decode("utf-8", "surrogateescape")
    head, _, body = text.partition("\r\n\r\n")
    if not _:
        head, _, body = text.partition("\n\n")
    lines = head.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0]:
        raise SipError("empty message")
    first = lines[0].strip()
    if not (first.startswith("SIP/2.0 ") or first.endswith(" SIP/2.0")):
        raise SipError("not a SIP start line")
    msg = Message(first)
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and msg.headers:  # folded header: joins the previous one
            k, v = msg.headers[-1]
            msg.headers[-1] = (k, v + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        msg.headers.append((_COMPACT.get(key, key), value.strip()))
    msg.body = body
    return msg


_URI_RE = re.compile(r"<?\s*sips?:(?:(?P<user>[^@>;]*)@)?(?P<host>\[[^\]]*\]|[^:;>\s]*)")


def uri_parts(value: str | None) -> tuple[str, str]:
    """(user, host) of a URI or a From/To header value; empty strings when absent."""
    if not value:
        return "", ""
    m = _URI_RE.search(value)
    if not m:
        return "", ""
    return m.group("user") or "", m.group("host") or ""


def tag_of(value: str | None) -> str:
    m = re.search(r";\s*tag=([^;\s>]+)", value or "")
    return m.group(1) if m else ""


def new_tag() -> str:
    return secrets.token_hex(5)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response_to(req: Message, code: int, to_tag: str | None = None,
                extra: list[tuple[str, str]] | None = None) -> Message:
    """A response carrying the request's Via/From/To/Call-ID/CSeq (RFC 3261 8.2.6)."""
    msg = Message(f"SIP/2.0 {code} {REASONS.get(code, 'Unknown')}")
    for via in req.get_all("via"):
        msg.headers.append(("via", via))
    msg.headers.append(("from", req.get("from") or ""))
    to = req.get("to") or ""
    if to_tag and not tag_of(to) and code > 100:
        to = f"{to};tag={to_tag}"
    msg.headers.append(("to", to))
    msg.headers.append(("call-id", req.get("call-id") or ""))
    msg.headers.append(("cseq", req.get("cseq") or ""))
    msg.headers.extend(extra or [])
    return msg


# -- digest (RFC 2617 / 7616 with MD5, as FreeSWITCH uses) -------------------------------------
def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def parse_auth(value: str | None) -> dict[str, str]:
    """Parameters of a ``Digest k="v", ...`` header (lower-case keys)."""
    if not value:
        return {}
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    out: dict[str, str] = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', rest):
        out[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return out


def digest_response(user: str, realm: str, password: str, method: str, uri: str, nonce: str,
                    nc: str = "", cnonce: str = "", qop: str = "") -> str:
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def authorization(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    """The Authorization/Proxy-Authorization value answering a WWW-/Proxy-Authenticate challenge."""
    p = parse_auth(challenge)
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    qop = "auth" if "auth" in p.get("qop", "").split(",") else ""
    nc, cnonce = ("00000001", secrets.token_hex(8)) if qop else ("", "")
    resp = digest_response(user, realm, password, method, uri, nonce, nc, cnonce, qop)
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
             f'response="{resp}"', "algorithm=MD5"]
    if qop:
        parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(parts)


def check_authorization(params: dict[str, str], password: str, method: str) -> bool:
    expected = digest_response(params.get("username", ""), params.get("realm", ""), password, method,
                               params.get("uri", ""), params.get("nonce", ""), params.get("nc", ""),
                               params.get("cnonce", ""), params.get("qop", ""))
    return secrets.compare_digest(expected, params.get("response", ""))
