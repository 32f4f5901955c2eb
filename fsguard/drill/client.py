"""The drill's SIP user agents: a scanner, a customer's phones, probes from listed addresses.

Each agent owns one UDP socket bound to its throwaway address inside the client namespace. A
request is sent, retransmitted once (RFC 3261 timer A, shortened) and answered or not: ``None``
means no answer within the timeout, which is what a dropped packet looks like from outside.
"""

from __future__ import annotations

import secrets
import socket
import time

from fsguard.drill import sip

USER_AGENT = "fsguard-drill/1"


def host(ip: str) -> str:
    """An address as a SIP URI host (IPv6 in brackets)."""
    return f"[{ip}]" if ":" in ip else ip


class Agent:
    def __init__(self, sock: socket.socket, server_ip: str, *, timeout: float = 0.8) -> None:
        self.sock = sock
        self.server_ip = server_ip
        self.timeout = timeout
        self.local_ip, self.local_port = sock.getsockname()[:2]
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    def _request(self, method: str, ruri: str, from_uri: str, to_uri: str, call_id: str,
                 extra: list[tuple[str, str]] | None = None) -> sip.Message:
        self.cseq += 1
        msg = sip.Message(f"{method} {ruri} SIP/2.0")
        msg.headers = [
            ("via", f"SIP/2.0/UDP {host(self.local_ip)}:{self.local_port};branch={sip.new_branch()};rport"),
            ("max-forwards", "70"),
            ("from", f"<{from_uri}>;tag={sip.new_tag()}"),
            ("to", f"<{to_uri}>"),
            ("call-id", call_id),
            ("cseq", f"{self.cseq} {method}"),
            ("contact", f"<sip:{sip.uri_parts(from_uri)[0] or 'drill'}@{host(self.local_ip)}:{self.local_port}>"),
            ("user-agent", USER_AGENT),
        ]
        msg.headers.extend(extra or [])
        return msg

    def transact(self, req: sip.Message, port: int) -> sip.Message | None:
        """Send ``req`` to the server; the final response, or None when nothing came back."""
        data = req.encode()
        deadline = time.monotonic() + self.timeout
        resend_at = time.monotonic() + self.timeout / 2
        self.sock.sendto(data, (self.server_ip, port))
        call_id = req.get("call-id")
        cseq = req.get("cseq")
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None
            if resend_at and now >= resend_at:
                self.sock.sendto(data, (self.server_ip, port))
                resend_at = 0.0
            self.sock.settimeout(max(0.01, min(deadline, resend_at or deadline) - now))
            try:
                raw, _ = self.sock.recvfrom(sip.MAX_MESSAGE)
            except TimeoutError:
                continue
            try:
                resp = sip.parse(raw)
            except sip.SipError:
                continue
            if resp.is_request or resp.get("call-id") != call_id or resp.get("cseq") != cseq:
                continue  # a late answer to an earlier attempt
            if resp.status >= 200:
                if resp.status >= 300 and req.method == "INVITE":
                    self._ack(req, resp, port)
                return resp
            resend_at = 0.0  # provisional: the server has it, wait for the final answer

    def _ack(self, invite: sip.Message, resp: sip.Message, port: int) -> None:
        ack = sip.Message(f"ACK {invite.uri} SIP/2.0")
        ack.headers = [("via", invite.get("via") or ""), ("max-forwards", "70"),
                       ("from", invite.get("from") or ""), ("to", resp.get("to") or ""),
                       ("call-id", invite.get("call-id") or ""),
                       ("cseq", (invite.get("cseq") or "1 INVITE").split()[0] + " ACK")]
        self.sock.sendto(ack.encode(), (self.server_ip, port))

    # -- what the drill does ------------------------------------------------------------------
    def options(self, port: int) -> int | None:
        """Status of an OPTIONS ping, None when dropped."""
        target = f"{host(self.server_ip)}:{port}"
        req = self._request("OPTIONS", f"sip:{target}", f"sip:probe@{host(self.local_ip)}", f"sip:{target}",
                            secrets.token_hex(8))
        resp = self.transact(req, port)
        return resp.status if resp else None

    def register(self, user: str, domain: str, password: str, port: int = 5060,
                 expires: int = 300) -> list[int | None]:
        """REGISTER, answer the challenge with ``password``; the statuses seen (401, then 200/403)."""
        aor = f"sip:{user}@{domain}"
        call_id = secrets.token_hex(8)
        codes: list[int | None] = []
        req = self._request("REGISTER", f"sip:{domain}", aor, aor, call_id, [("expires", str(expires))])
        resp = self.transact(req, port)
        codes.append(resp.status if resp else None)
        if resp is None or resp.status != 401:
            return codes
        auth = sip.authorization(resp.get("www-authenticate") or "", user, password, "REGISTER", f"sip:{domain}")
        req = self._request("REGISTER", f"sip:{domain}", aor, aor, call_id,
                            [("expires", str(expires)), ("authorization", auth)])
        resp = self.transact(req, port)
        codes.append(resp.status if resp else None)
        return codes

    def invite(self, number: str, port: int, domain: str, *, user: str = "scanner",
               password: str | None = None, sdp: bool = True) -> list[int | None]:
        """INVITE ``number``; answer a 407 with ``password`` when given. Statuses seen.

        With an SDP offer by default: a real FreeSWITCH (3pcc off) refuses an INVITE without one
        with 480 before any dialplan runs (shared/reference/freeswitch.md section 7); ``sdp=False``
        sends such a probe on purpose."""
        ruri = f"sip:{number}@{domain}"
        call_id = secrets.token_hex(8)
        codes: list[int | None] = []
        body = offer(self.local_ip) if sdp else ""
        extra = [("content-type", "application/sdp")] if sdp else []
        req = self._request("INVITE", ruri, f"sip:{user}@{host(self.local_ip)}", ruri, call_id, extra)
        req.body = body
        resp = self.transact(req, port)
        codes.append(resp.status if resp else None)
        if resp is None or resp.status != 407 or password is None:
            return codes
        auth = sip.authorization(resp.get("proxy-authenticate") or "", user, password, "INVITE", ruri)
        req = self._request("INVITE", ruri, f"sip:{user}@{host(self.local_ip)}", ruri, call_id,
                            [*extra, ("proxy-authorization", auth)])
        req.body = body
        resp = self.transact(req, port)
        codes.append(resp.status if resp else None)
        return codes


def offer(ip: str) -> str:
    """A minimal audio offer (PCMU) from ``ip``: enough for sofia to take the INVITE as a call."""
    fam = "IP6" if ":" in ip else "IP4"
    return (f"v=0\r\no=drill 1 1 IN {fam} {ip}\r\ns=drill\r\nc=IN {fam} {ip}\r\nt=0 0\r\n"
            f"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
