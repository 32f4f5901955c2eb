"""Ask FreeSWITCH itself whether the internal profile runs with ``log-auth-failures`` as we left it.

sofia reports no ``log-auth-failures`` flag in ``sofia status`` or ``xmlstatus``; what the flag
does is observable, though: with it on, sofia writes ``SIP auth challenge (REGISTER) on sofia
profile 'internal' for [user@host] from ip X`` for every challenged REGISTER, with it off nothing
(shared/reference/freeswitch.md section 3; sofia_reg.c "Log line added to support Fail2Ban").

So: find the profile's SIP address (``sofia status profile internal``: its ``URL`` line), send
one REGISTER without credentials from loopback for a user that exists nowhere
(``fsguard-verify-<random>@fsguard.invalid``: a name, not an IP literal, so fsguard's own monitor
writes nothing for it, and fail2ban never counts a challenge), and look for the challenge line
in FreeSWITCH's log. A 401 without the line means the flag is off; no 401 means the check could
not be made, and the step says so instead of guessing.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from pathlib import Path

URL_RE = re.compile(r"^URL\s+sip:[^@\s]*@(?P<host>\[[0-9A-Fa-f:.]+\]|[0-9.]+):(?P<port>\d+)", re.M)
WAIT = 3.0  # seconds for the log line after the 401 (mod_logfile writes within milliseconds)


def profile_address(status_text: str) -> tuple[str, int] | None:
    """The SIP address of ``sofia status profile <p>`` (its ``URL`` line), or None."""
    m = URL_RE.search(status_text)
    if m is None:
        return None
    return m.group("host").strip("[]"), int(m.group("port"))


def probe(ip: str, port: int, logpath: Path, profile: str = "internal",
          timeout: float = 2.0) -> tuple[bool | None, str]:
    """(True: the challenge line was written; False: 401 but no line; None: no answer), detail."""
    user = "fsguard-verify-" + secrets.token_hex(4)
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    start = logpath.stat().st_size if logpath.exists() else 0
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        lhost = "[::1]" if fam == socket.AF_INET6 else "127.0.0.1"
        target = f"[{ip}]" if fam == socket.AF_INET6 else ip
        msg = (f"REGISTER sip:fsguard.invalid SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {lhost}:{lport};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{user}@fsguard.invalid>;tag={secrets.token_hex(4)}\r\n"
               f"To: <sip:{user}@fsguard.invalid>\r\nCall-ID: {secrets.token_hex(8)}\r\nCSeq: 1 REGISTER\r\n"
               f"Contact: <sip:{user}@{lhost}:{lport}>\r\nExpires: 60\r\nUser-Agent: fsguard-install-check\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), (ip, port))
        status = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65535)
            except OSError:
                break
            first = data.split(b"\r\n", 1)[0].split()
            if len(first) >= 2 and first[0] == b"SIP/2.0" and first[1].isdigit() and int(first[1]) >= 200:
                status = int(first[1])
                break
    if status is None:
        return None, f"no answer from {target}:{port} to a REGISTER (sent from loopback)"
    if status != 401:
        return None, f"{target}:{port} answered {status} to a REGISTER, not 401: cannot tell"
    needle = f"SIP auth challenge (REGISTER) on sofia profile '{profile}' for [{user}@"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with open(logpath, "rb") as fh:
                fh.seek(start)
                if needle.encode() in fh.read():
                    return True, f"{target}:{port} answered 401 and logged the challenge line (log-auth-failures on)"
        except OSError as exc:
            return None, f"cannot read {logpath}: {exc}"
        if time.monotonic() >= deadline:
            return False, f"{target}:{port} answered 401 but logged no challenge line (log-auth-failures off)"
        time.sleep(0.1)
