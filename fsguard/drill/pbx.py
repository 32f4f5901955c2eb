"""The stand-in PBX: a small SIP responder that answers as FreeSWITCH 1.10.12 does.

Two sofia profiles as in a vanilla install: ``internal`` (5060, auth-calls, the directory's
users register here) and ``external`` (5080, public context, no authentication). What it answers
and logs follows shared/reference/freeswitch.md §3 and §7:

* REGISTER without credentials: ``SIP auth challenge`` line, ``sofia::pre_register`` event, 401
  with a digest nonce. With credentials: the right password gives 200 and ``sofia::register``; a
  wrong one gives ``SIP auth failure`` + ``sofia::register_failure`` + 403; an unknown user (or a
  domain not served, such as the server's IP literal) first logs ``Can't find user`` (with its two
  continuation lines), then the failure line, event and 403.
* INVITE on internal: 407 challenge, then 403 + failure line for a wrong password (the bracketed
  user is the number called).
* INVITE on external: 100 Trying, a channel, then the public dialplan; its last extension runs
  ``python fs_python.not_found`` (through :class:`Hooks`), which answers 404.
* ``auth_calls`` profiles (internal always; external too in FusionPBX's layout, where it has
  ``auth-calls=true`` and ``apply-inbound-acl=providers``, fusionpbx.md "Observed on a real
  FusionPBX 5.5"): an INVITE from outside ``providers`` is challenged with 407, logs the challenge
  line and fires ``sofia::pre_register`` (sofia_reg.c fires it before every 401/407, freeswitch.md
  section 4) and never reaches the dialplan; an address in ``providers`` is not challenged.
* An INVITE without SDP (after authentication, once a channel exists): ``No SDP in INVITE and 3pcc
  not enabled`` (sofia.c:8033), the channel hung up in CS_NEW with MANDATORY_IE_MISSING
  (sofia.c:8035), a ``CHANNEL_HANGUP`` event with that cause, 480, no dialplan (freeswitch.md
  section 7).
* OPTIONS: 200.

What FreeSWITCH does inside (events to the monitor, the dialplan's python handler) goes through
:class:`Hooks`, which the drill connects to fs_python's real code via the stand-in ``freeswitch``
module; the default hooks fire nothing and route nowhere (``No Route, Aborting``, 404).
"""

from __future__ import annotations

import ipaddress
import secrets
import selectors
import socket
import threading
import time
import urllib.parse
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field

from fsguard.drill import sip
from fsguard.drill.fslog import FsLog
from fsguard.drill.netns import socket_in

NONCE_TTL = 60.0
PROFILES = {"internal": 5060, "external": 5080}


@dataclass
class CallInfo:
    uuid: str
    profile: str
    network_ip: str
    network_port: int
    destination_number: str
    from_user: str
    from_host: str
    to_user: str
    to_host: str
    user_agent: str
    call_id: str

    @property
    def channel(self) -> str:
        ip = f"[{self.network_ip}]" if ":" in self.network_ip else self.network_ip  # a URL host
        return f"sofia/{self.profile}/{self.from_user}@{ip}:{self.network_port}"


class Hooks:
    """FreeSWITCH's insides as the stand-in exposes them. Subclassed to reach fs_python's code."""

    def event(self, subclass: str, headers: dict[str, str]) -> None:
        """A ``CUSTOM <subclass>`` event fired by sofia."""

    def channel_event(self, name: str, headers: dict[str, str]) -> None:
        """A core channel event (``CHANNEL_HANGUP``, ...) with its channel variables."""

    def public_dialplan(self, call: CallInfo, log: FsLog) -> int:
        """Run the public context for an inbound call; return the SIP final status."""
        log.no_route(call.uuid, call.channel)
        return 404


@dataclass
class Directory:
    domains: dict[str, dict[str, str]] = field(default_factory=dict)  # domain -> {user: password}

    def password(self, user: str, domain: str) -> str | None:
        return self.domains.get(domain, {}).get(user)


class StandInPBX:
    def __init__(self, log: FsLog, directory: Directory, *, bind_ip: str, netns: str | None,
                 hooks: Hooks | None = None, ports: dict[str, int] | None = None, tcp: bool = True,
                 bind_ip6: str | None = None, auth_calls: tuple[str, ...] = ("internal",),
                 providers: tuple[str, ...] = (), log_auth_failures: bool = True) -> None:
        self.log = log
        # sofia writes its challenge/failure lines only with log-auth-failures=true (freeswitch.md 3)
        self.log_auth_failures = log_auth_failures
        self.auth_calls = set(auth_calls)
        # apply-inbound-acl=providers: these addresses/networks are never challenged
        self.providers = [ipaddress.ip_network(p, strict=False) for p in providers]
        self.directory = directory
        self.bind_ip = bind_ip
        self.bind_ip6 = bind_ip6
        self.netns = netns
        self.hooks = hooks or Hooks()
        self.ports = dict(ports or PROFILES)
        self.tcp = tcp
        self.nonces: dict[str, float] = {}
        self.answered: Counter[int] = Counter()  # status codes sent, for reports and tests
        self.registered: dict[str, tuple[str, str, float]] = {}  # ip -> (user, realm, expires)
        self._sel = selectors.DefaultSelector()
        self._socks: list[socket.socket] = []
        self._tcp_bufs: dict[socket.socket, tuple[bytes, str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        for fam, addr in ((socket.AF_INET, self.bind_ip), (socket.AF_INET6, self.bind_ip6)):
            if addr:
                self._bind(fam, addr)
        self._thread = threading.Thread(target=self._loop, name="standin-pbx", daemon=True)
        self._thread.start()

    def _bind(self, fam: int, addr: str) -> None:
        for profile, port in self.ports.items():
            u = socket_in(self.netns, fam, socket.SOCK_DGRAM, (addr, port))
            u.setblocking(False)
            self._socks.append(u)
            self._sel.register(u, selectors.EVENT_READ, ("udp", profile))
            if self.tcp:
                t = socket_in(self.netns, fam, socket.SOCK_STREAM, (addr, port))
                t.listen(16)
                t.setblocking(False)
                self._socks.append(t)
                self._sel.register(t, selectors.EVENT_READ, ("listen", profile))

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=3)
        for s in list(self._socks) + list(self._tcp_bufs):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._socks.clear()
        self._tcp_bufs.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                kind, profile = key.data
                try:
                    if kind == "udp":
                        self._udp(sock, profile)
                    elif kind == "listen":
                        conn, _addr = sock.accept()
                        conn.setblocking(False)
                        self._tcp_bufs[conn] = (b"", profile)
                        self._sel.register(conn, selectors.EVENT_READ, ("tcp", profile))
                    else:
                        self._tcp(sock, profile)
                except OSError:
                    continue
                except Exception as exc:  # one bad packet never stops the PBX
                    self.log.record("ERR", "sofia.c:2277", f"stand-in: {type(exc).__name__}: {exc}")

    def _udp(self, sock: socket.socket, profile: str) -> None:
        data, addr = sock.recvfrom(sip.MAX_MESSAGE)
        ip, port = addr[0], addr[1]
        for out in self.handle(data, ip, port, profile, "udp"):
            sock.sendto(out.encode(), addr)

    def _tcp(self, conn: socket.socket, profile: str) -> None:
        chunk = conn.recv(sip.MAX_MESSAGE)
        buf, _ = self._tcp_bufs.get(conn, (b"", profile))
        if not chunk or len(buf) + len(chunk) > sip.MAX_MESSAGE:
            self._sel.unregister(conn)
            self._tcp_bufs.pop(conn, None)
            conn.close()
            return
        buf += chunk
        ip, port = conn.getpeername()[:2]
        while b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() in (b"content-length", b"l"):
                    length = int(value.strip() or b"0") if value.strip().isdigit() else 0
            if len(rest) < length:
                break
            msg, buf = head + b"\r\n\r\n" + rest[:length], rest[length:]
            for out in self.handle(msg, ip, port, profile, "tcp"):
                conn.sendall(out.encode())
        self._tcp_bufs[conn] = (buf, profile)

    # -- SIP -------------------------------------------------------------------------------
    def handle(self, data: bytes, ip: str, port: int, profile: str, proto: str = "udp") -> list[sip.Message]:
        """Answer one message; return the responses to send (in order)."""
        try:
            req = sip.parse(data)
        except sip.SipError:
            return []
        if not req.is_request or not req.get("via") or not req.get("call-id"):
            return []
        method = req.method
        with self._lock:
            if method == "OPTIONS":
                out = [self._reply(req, 200, [("allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER")])]
            elif method == "REGISTER":
                out = [self._register(req, ip, port, profile, proto)]
            elif method == "INVITE":
                out = self._invite(req, ip, port, profile)
            elif method in ("ACK",):
                out = []
            elif method in ("BYE", "CANCEL"):
                out = [self._reply(req, 200)]
            else:
                out = [self._reply(req, 500)]
        for o in out:
            self.answered[o.status] += 1
        return out

    def _reply(self, req: sip.Message, code: int, extra: list[tuple[str, str]] | None = None) -> sip.Message:
        extra = list(extra or [])
        extra.append(("user-agent", "FreeSWITCH-mod_sofia/1.10.12-release~64bit"))
        return sip.response_to(req, code, to_tag=sip.new_tag(), extra=extra)

    def _new_nonce(self) -> str:
        now = time.monotonic()
        for n, t in list(self.nonces.items()):
            if now - t > NONCE_TTL:
                del self.nonces[n]
        nonce = str(uuidlib.uuid4())
        self.nonces[nonce] = now
        return nonce

    def _challenge(self, req: sip.Message, code: int, realm: str) -> sip.Message:
        header = "www-authenticate" if code == 401 else "proxy-authenticate"
        value = f'Digest realm="{realm}", nonce="{self._new_nonce()}", algorithm=MD5, qop="auth"'
        return self._reply(req, code, [(header, value)])

    def _common(self, req: sip.Message, ip: str, port: int, profile: str) -> dict[str, str]:
        to_user, to_host = sip.uri_parts(req.get("to"))
        from_user, from_host = sip.uri_parts(req.get("from"))
        # sofia's naming swap (reference §4): from-* carry the To-URI, to-* the From-URI.
        return {
            "profile-name": profile, "from-user": to_user, "from-host": to_host,
            "to-user": from_user, "to-host": from_host, "network-ip": ip, "network-port": str(port),
            "user-agent": req.get("user-agent") or "", "call-id": req.get("call-id") or "",
        }

    def _creds(self, req: sip.Message, header: str) -> dict[str, str]:
        params = sip.parse_auth(req.get(header))
        if not params or params.get("nonce") not in self.nonces:
            return {}  # none, or stale: challenged again
        return params

    def _register(self, req: sip.Message, ip: str, port: int, profile: str, proto: str) -> sip.Message:
        to_user, to_host = sip.uri_parts(req.get("to"))
        creds = self._creds(req, "authorization")
        if not creds:
            if self.log_auth_failures:
                self.log.auth_challenge("REGISTER", profile, to_user, to_host, ip)
            self.hooks.event("sofia::pre_register", self._common(req, ip, port, profile))
            return self._challenge(req, 401, to_host)
        self.nonces.pop(creds.get("nonce", ""), None)
        username, realm = creds.get("username", ""), creds.get("realm", "")
        password = self.directory.password(username, realm)
        if password is None:
            self.log.cant_find_user(username, realm, ip)
        if password is None or not sip.check_authorization(creds, password, "REGISTER"):
            self._fail("REGISTER", req, ip, port, profile, to_user, to_host)
            return self._reply(req, 403)
        expires = _int(req.get("expires"), 3600)
        headers = self._common(req, ip, port, profile)
        headers.update({"username": username, "realm": realm, "expires": str(expires),
                        "contact": req.get("contact") or "", "status": f"Registered({proto.upper()})",
                        "network-proto": proto})
        if expires == 0:
            self.registered.pop(ip, None)
            self.hooks.event("sofia::unregister", headers)
        else:
            self.registered[ip] = (username, realm, time.time() + expires)
            self.hooks.event("sofia::register", headers)
        return self._reply(req, 200, [("contact", f"{req.get('contact') or ''};expires={expires}"),
                                      ("expires", str(expires))])

    def _fail(self, method: str, req: sip.Message, ip: str, port: int, profile: str, user: str, host: str) -> None:
        if self.log_auth_failures:
            self.log.auth_failure(method, profile, user, host, ip)
        self.hooks.event("sofia::register_failure", {
            "profile-name": profile, "to-user": user, "to-host": host, "network-ip": ip,
            "network-port": str(port), "user-agent": req.get("user-agent") or "",
            "registration-type": method})

    def _invite(self, req: sip.Message, ip: str, port: int, profile: str) -> list[sip.Message]:
        req_user, req_host = sip.uri_parts(req.uri)
        if profile in self.auth_calls and not self._provider(ip):
            creds = self._creds(req, "proxy-authorization")
            if not creds:
                # sofia fires pre_register for the INVITE it challenges, as for a REGISTER
                if self.log_auth_failures:
                    self.log.auth_challenge("INVITE", profile, req_user, req_host, ip)
                self.hooks.event("sofia::pre_register", self._common(req, ip, port, profile))
                return [self._challenge(req, 407, req_host)]
            self.nonces.pop(creds.get("nonce", ""), None)
            password = self.directory.password(creds.get("username", ""), creds.get("realm", ""))
            if password is None or not sip.check_authorization(creds, password, "INVITE"):
                self._fail("INVITE", req, ip, port, profile, req_user, req_host)
                return [self._reply(req, 403)]
        trying = sip.response_to(req, 100)
        from_user, from_host = sip.uri_parts(req.get("from"))
        to_user, to_host = sip.uri_parts(req.get("to"))
        call = CallInfo(
            uuid=str(uuidlib.uuid4()), profile=profile, network_ip=ip, network_port=port,
            destination_number=urllib.parse.unquote(req_user, errors="surrogateescape"),
            from_user=from_user, from_host=from_host, to_user=to_user, to_host=to_host,
            user_agent=req.get("user-agent") or "", call_id=req.get("call-id") or "")
        self.log.new_channel(call.uuid, call.channel, ip, port, call.call_id)
        if not _has_sdp(req):
            self.log.no_sdp(call.uuid, call.channel)
            self.hooks.channel_event("CHANNEL_HANGUP", _hangup_headers(call, "MANDATORY_IE_MISSING"))
            return [trying, self._reply(req, 480)]
        try:
            code = self.hooks.public_dialplan(call, self.log)
        except Exception as exc:  # a broken dialplan hangs the call up, as FreeSWITCH does
            self.log.record("ERR", "switch_core_state_machine.c:311", f"dialplan error: {exc}", call.uuid)
            code = 500
        return [trying, self._reply(req, code)]

    def _provider(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.providers)


def _has_sdp(req: sip.Message) -> bool:
    ctype = (req.get("content-type") or "").split(";")[0].strip().lower()
    return ctype == "application/sdp" and "m=" in req.body


def _hangup_headers(call: CallInfo, cause: str) -> dict[str, str]:
    """What CHANNEL_HANGUP carries that fsguard reads: the cause, the caller profile's
    Network-Addr / Destination-Number (switch_caller_profile_event_set_data) and the channel's
    sip_* variables (``variable_`` prefix)."""
    return {
        "Unique-ID": call.uuid, "Channel-Name": call.channel, "Call-Direction": "inbound",
        "Hangup-Cause": cause, "Caller-Network-Addr": call.network_ip,
        "Caller-Destination-Number": call.destination_number, "Caller-Caller-ID-Number": call.from_user,
        "variable_sofia_profile_name": call.profile, "variable_sip_network_ip": call.network_ip,
        "variable_sip_network_port": str(call.network_port), "variable_sip_from_user": call.from_user,
        "variable_sip_from_host": call.from_host, "variable_sip_to_user": call.to_user,
        "variable_sip_to_host": call.to_host, "variable_sip_user_agent": call.user_agent,
        "variable_sip_call_id": call.call_id,
    }


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def random_password() -> str:
    return secrets.token_urlsafe(12)
