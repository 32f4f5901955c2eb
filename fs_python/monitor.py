"""Background monitor: ``runtime(args)``, started by a python.conf.xml ``startup-script``.

Turns sofia's events into fsguard event lines and keeps the registration set exact:

- ``sofia::register_failure`` (a 403 was sent, REGISTER or INVITE) -> ``auth-failure``, or
  ``registered-failure`` when that identity (user@domain) registered from the same address now or
  within ``registry.RECENT`` (a customer's own phone: an offence, never counted by a jail);
- ``sofia::pre_register`` whose registration host is an IP literal that is not a served domain
  (the scanner signature) -> ``ip-literal-domain``, but only once the outcome is known: sofia
  fires it before every challenge, so the candidate waits up to ``PENDING_SECONDS``; a successful
  REGISTER from that address for that user withdraws it (a phone set up with the PBX's IP is no
  scanner), a 403 names the real method (``registration-type``), and without an outcome the method
  is inferred from the headers (a REGISTER's To and From name the same user, an INVITE's do not:
  its headers carry the dialled user and the request host);
- ``sofia::pre_register`` on a carrier-only profile (``[fs_python] carrier_profiles``, default
  ``external``: FusionPBX's has auth-calls + apply-inbound-acl=providers, so a carrier is never
  challenged there and a 401/407 means "not a carrier"; shared/reference/fusionpbx.md, "Observed on
  a real FusionPBX 5.5") from an address that is no carrier, customer or whitelist entry ->
  ``challenge``; elsewhere a challenged request whose User-Agent is a known scanner's ->
  ``scanner-ua`` (one scan line per challenged request, never two);
- ``CHANNEL_HANGUP`` with cause ``MANDATORY_IE_MISSING``: an INVITE without SDP, refused with 480
  before any dialplan runs (freeswitch.md section 7: sofia.c:8033) -> ``no-sdp``, the address from
  the channel's ``sip_network_ip`` (the socket's, like ``network-ip``);
- ``sofia::register`` / ``unregister`` / ``expire`` -> :data:`fs_python.registry.REGISTRY`,
  seeded from ``show registrations as json``, snapshot written as it changes. A seed that fails
  (mod_python3 loaded before mod_commands: no ``show`` yet) starts from the last snapshot instead
  and is retried; it never writes an empty snapshot over a good one.

Shutdown on 1.10.12 sends no SystemExit and runs no ``finally``: the loop pops with a bounded
timeout and checks ``freeswitch.running()`` every turn, so it ends within ~0.5 s; the snapshot is
written as registrations change, never only at exit. One bad event costs one event, never the loop.

Served domains (an IP-literal host that is one of them is not a scanner): ``[fs_python]
served_domains`` from the config, every realm seen in a successful registration, and FreeSWITCH's
``domain`` global variable (vanilla FreeSWITCH serves its own IP address as its domain).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fs_python import config, eventline, fslog, whitelist
from fs_python.registry import MAX_SHIELD, REGISTRY, Registration, from_show_json, read_snapshot

SUBCLASSES = ("sofia::register_failure", "sofia::pre_register", "sofia::register", "sofia::unregister",
              "sofia::expire")
BINDINGS = (("CHANNEL_HANGUP", ""),)  # no-sdp: the only trace an SDP-less INVITE leaves
# User-Agent substrings of SIP scanners (lower case). Kept in step with the strings FusionPBX's
# installer drops in iptables (fusionpbx.md) plus the common tools' defaults; extend with
# [fs_python] scanner_agents (added to these).
SCANNER_AGENTS = ("friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan", "vaxsipuseragent",
                  "pplsip", "iwar", "sundayddr", "sivus", "smap", "sipptk", "sip-ping", "voip-scan",
                  "eyebeam-scan", "cisco-sipgateway-scan", "nmap", "masscan", "zgrab", "l9explore")
NO_SDP_CAUSE = "MANDATORY_IE_MISSING"
QUEUE_LEN = config.EVENT_QUEUE_LEN.default  # events buffered while the loop is busy; a 20,000/s burst never fills it
POP_TIMEOUT_MS = 500  # bounded, so shutdown is noticed within half a second
TICK_SECONDS = 1.0
SEED_RETRY = (1.0, 30.0)  # first and longest wait between seed attempts
# a challenged REGISTER is answered within milliseconds; a scanner never answers
PENDING_SECONDS = config.LITERAL_WAIT.default
MAX_PENDING = 20_000


class Monitor:
    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.cfg = fslog.settings()
        self.served: set[str] = set()
        self.carrier_profiles: set[str] = {"external"}
        self.agents: tuple[str, ...] = SCANNER_AGENTS
        self.last_tick = 0.0
        self.seeded = False
        self.seed_wait = SEED_RETRY[0]
        self.next_seed = 0.0
        # (ip, user) -> (deadline, method guess, fields): ip-literal candidates waiting for an outcome
        self.pending: dict[tuple[str, str], tuple[float, str, dict[str, str | None]]] = {}
        self.refresh_served()

    def refresh_served(self) -> None:
        self.cfg = fslog.settings() or self.cfg  # picks up config edits (cached, re-read on change)
        try:
            wait = config.LITERAL_WAIT.get(self.cfg) if self.cfg else PENDING_SECONDS
        except config.ConfigError:  # never raises into FreeSWITCH: a bad value keeps the default
            wait = PENDING_SECONDS
        self.literal_wait = max(0.0, min(wait, 30.0))
        served = {d.lower() for d in (config.SERVED_DOMAINS.get(self.cfg) if self.cfg else ())}
        try:
            dom = self.fs.getGlobalVariable("domain")
        except Exception:
            dom = None
        if isinstance(dom, str) and dom:
            served.add(dom.lower())
        self.served = served
        if self.cfg is not None:
            self.carrier_profiles = {p.lower() for p in config.CARRIER_PROFILES.get(self.cfg)}
            self.agents = SCANNER_AGENTS + tuple(a.lower() for a in config.SCANNER_AGENTS.get(self.cfg) if len(a) >= 3)

    def seed(self) -> bool:
        """Seed from ``show registrations as json``; on failure, from the last snapshot (never
        empty because of a failure), retried by :meth:`tick` with a growing wait."""
        try:
            text = self.fs.API().executeString("show registrations as json")
            rows = from_show_json(text if isinstance(text, str) else "")
        except Exception as exc:
            if not REGISTRY.live:
                self.seed_from_snapshot()
            self.next_seed = time.monotonic() + self.seed_wait
            fslog.log_once("seed", "ERR", "fsguard monitor: cannot read show registrations (%s); kept the last"
                           " snapshot, retrying" % type(exc).__name__)
            self.seed_wait = min(self.seed_wait * 2, SEED_RETRY[1])
            return False
        limit = time.time() + MAX_SHIELD  # a ten-year registration shields a day at a time
        for r in rows:
            r.expires = min(r.expires, limit)
        REGISTRY.seed(rows)
        self.seeded = True
        self.write(force=True)
        return True

    def seed_from_snapshot(self) -> None:
        if self.cfg is None:
            return
        try:
            rows, recent = read_snapshot(self.cfg.fs_dir)
        except (OSError, ValueError) as exc:
            fslog.log_once("snapshot-read", "ERR", "fsguard monitor: last snapshot unreadable (%s)"
                           % type(exc).__name__)
            return
        REGISTRY.restore_recent(recent)
        with REGISTRY.lock:
            known = list(REGISTRY.entries.values())  # events seen since start are kept too
        REGISTRY.seed(rows + known, live=False)

    def write(self, force: bool = False) -> None:
        if self.cfg is None:
            return
        if REGISTRY.maybe_write(self.cfg.fs_dir, 0.0 if force else TICK_SECONDS):
            return
        if REGISTRY.write_errors:
            fslog.log_once("snapshot", "ERR", "fsguard monitor: cannot write %s/registrations.json"
                           % self.cfg.fs_dir)

    def tick(self) -> None:
        now = time.monotonic()
        if not self.seeded and now >= self.next_seed:
            self.seed()
        if self.pending:
            self.flush_pending(now)
        if now - self.last_tick >= TICK_SECONDS:
            self.last_tick = now
            self.write()

    # -- one event ----------------------------------------------------------------------------------
    def handle(self, ev: Any) -> None:
        h = ev.getHeader
        sub = h("Event-Subclass")
        if sub == "sofia::register_failure":
            ip = eventline.normalize_ip(h("network-ip"))
            method = h("registration-type")
            self.resolve(ip, h("to-user"), method)
            own = REGISTRY.owns(_t(h("to-user") or ""), _t(h("to-host") or ""), ip)
            fslog.event("registered-failure" if own else "auth-failure", ip, {
                "profile": h("profile-name"), "method": method, "user": h("to-user"),
                "domain": h("to-host"), "ua": h("user-agent")})
        elif sub == "sofia::pre_register":
            self.pre_register(h)
        elif h("Event-Name") == "CHANNEL_HANGUP":
            self.hangup(h)
        elif sub == "sofia::register":
            ip = eventline.normalize_ip(h("network-ip"))
            user, realm = h("username") or h("from-user"), h("realm") or h("from-host")
            if ip is None or not user or not realm:
                return
            try:
                expires = time.time() + max(0.0, min(float(h("expires") or 3600), float(MAX_SHIELD)))
            except ValueError:
                expires = time.time() + 3600
            proto = (h("network-proto") or _transport(h("contact")) or "udp").lower()
            # the identity a failure event names is the From-URI's (to-user/to-host): remember it too
            REGISTRY.remember(_t(h("to-user") or ""), _t(h("to-host") or ""), ip, expires)
            REGISTRY.remember(_t(h("from-user") or ""), _t(h("from-host") or ""), ip, expires)
            self.withdraw(ip, (h("from-user"), h("to-user"), user))
            REGISTRY.add(Registration(ip, _t(user), _t(realm), expires, _t(h("network-port") or "", 8),
                                      _t(proto, 8), _t(h("profile-name") or "", 64)))
        elif sub == "sofia::unregister":
            user, realm = h("username") or h("from-user"), h("realm") or h("from-host")
            if user and realm:
                REGISTRY.remove(_t(user), _t(realm), eventline.normalize_ip(h("network-ip")), h("network-port"))
        elif sub == "sofia::expire":
            user, realm = h("user"), h("host")
            if user and realm:
                try:
                    at = float(h("expires") or 0) or time.time()
                except ValueError:
                    at = time.time()
                REGISTRY.expire(_t(user), _t(realm), eventline.normalize_ip(h("network-ip")), h("network-port"), at)

    def pre_register(self, h: Any) -> None:
        ip = eventline.normalize_ip(h("network-ip"))
        to_user, from_user = h("from-user"), h("to-user")
        # a REGISTER's To and From name the same user; an INVITE's To is the dialled number
        guess = "REGISTER" if (to_user or "").lower() == (from_user or "").lower() else "INVITE"
        # from-host is the registration host (sofia's naming swap); to-host the From-URI's
        for host in (h("from-host"), h("to-host")):
            literal = _ip_literal(host)
            if literal is None:
                continue
            if literal.lower() in self.served or (host or "").lower() in self.served or REGISTRY.serves(literal):
                break  # served: no IP-literal scanner, but maybe a carrier-only challenge below
            fields: dict[str, str | None] = {
                "profile": h("profile-name"), "user": to_user, "domain": host, "from": from_user,
                "ua": h("user-agent")}
            key = (ip or "-", (to_user or "").lower())
            if len(self.pending) >= MAX_PENDING:
                self.emit_literal(ip, guess, fields)  # bounded: under a flood, count at once
            elif key not in self.pending:
                self.pending[key] = (time.monotonic() + self.literal_wait, guess, fields)
            return
        if ip is None:
            return
        ua = h("user-agent")
        carrier_only = (h("profile-name") or "").lower() in self.carrier_profiles
        kind = "challenge" if carrier_only else "scanner-ua" if self.is_scanner(ua) else None
        if kind is None or self.trusted(ip):
            return
        fslog.event(kind, ip, {"profile": h("profile-name"), "method": guess, "user": to_user,
                               "domain": h("from-host"), "from": from_user, "ua": ua})

    def hangup(self, h: Any) -> None:
        """An INVITE refused for lack of SDP (480 before any dialplan, cause MANDATORY_IE_MISSING)."""
        if h("Hangup-Cause") != NO_SDP_CAUSE or h("Call-Direction") == "outbound":
            return
        ip = eventline.normalize_ip(h("variable_sip_network_ip") or h("Caller-Network-Addr"))
        if ip is None or self.trusted(ip):
            return
        fslog.event("no-sdp", ip, {
            "profile": h("variable_sofia_profile_name"), "method": "INVITE",
            "domain": h("variable_sip_to_host"), "number": h("Caller-Destination-Number"),
            "from": h("variable_sip_from_user"), "to": h("variable_sip_to_user"), "ua": h("variable_sip_user_agent")})

    def is_scanner(self, ua: str | None) -> bool:
        low = (ua or "").lower()
        return bool(low) and any(a in low for a in self.agents)

    def trusted(self, ip: str) -> bool:
        """A carrier, a registered customer or an admin whitelist entry: never scan evidence."""
        if self.cfg is None:
            return True  # without the config the whitelist is unknown: count nothing
        try:
            return whitelist.check(ip, state_dir=self.cfg.state_dir, registrations=REGISTRY.rows_for(ip)).whitelisted
        except ValueError:
            return True

    def emit_literal(self, ip: str | None, method: str, fields: dict[str, str | None]) -> None:
        fslog.event("ip-literal-domain", ip, {"profile": fields["profile"], "method": method, "user": fields["user"],
                                              "domain": fields["domain"], "from": fields["from"], "ua": fields["ua"]})

    def withdraw(self, ip: str | None, users: tuple[str | None, ...]) -> None:
        """A successful REGISTER: the challenge before it was a customer's, never scan evidence."""
        for u in users:
            self.pending.pop((ip or "-", (u or "").lower()), None)

    def resolve(self, ip: str | None, user: str | None, method: str | None) -> None:
        """A 403: the candidate is counted now, under the method sofia names."""
        item = self.pending.pop((ip or "-", (user or "").lower()), None)
        if item is not None:
            self.emit_literal(ip, method if method in ("REGISTER", "INVITE") else item[1], item[2])

    def flush_pending(self, now: float) -> None:
        for key in [k for k, v in self.pending.items() if v[0] <= now]:
            _, guess, fields = self.pending.pop(key)
            self.emit_literal(None if key[0] == "-" else key[0], guess, fields)

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> None:
        fs = self.fs
        size = config.EVENT_QUEUE_LEN.get(self.cfg) if self.cfg else QUEUE_LEN
        con = fs.EventConsumer(None, "", max(1000, size))
        for sub in SUBCLASSES:
            con.bind("CUSTOM", sub)
        for name, sub in BINDINGS:
            con.bind(name, sub)
        self.seed()
        fslog.log("NOTICE", "fsguard monitor started (%d registrations%s)" % (
            len(REGISTRY.rows()), "" if self.seeded else ", from the last snapshot"))
        last_served = time.monotonic()
        while fs.running():
            try:
                ev = con.pop(1, POP_TIMEOUT_MS)
            except Exception as exc:  # never seen; if pop ever fails, back off instead of spinning
                fslog.log_once("pop", "ERR", "fsguard monitor: EventConsumer.pop failed (%s)" % type(exc).__name__)
                time.sleep(0.2)  # releases the GIL
                continue
            if ev is not None:
                try:
                    self.handle(ev)
                    REGISTRY.handled += 1
                except Exception as exc:  # one malformed event must not end the monitor
                    REGISTRY.bad_events += 1
                    if REGISTRY.bad_events <= 10 or REGISTRY.bad_events % 10_000 == 0:
                        fslog.log("ERR", "fsguard monitor: bad event skipped (%s), %d so far"
                                  % (type(exc).__name__, REGISTRY.bad_events))
            self.tick()  # a clock read per event; writes at most once a second
            if time.monotonic() - last_served > 60:
                last_served = time.monotonic()
                self.refresh_served()
        self.flush_pending(float("inf"))
        self.write(force=True)


def _t(value: object, limit: int = 128) -> str:
    s = fslog.safe_text(value, limit)
    return "".join(ch if ch.isprintable() else "?" for ch in s)


def _transport(contact: str | None) -> str | None:
    if not contact:
        return None
    low = contact.lower()
    i = low.find("transport=")
    if i < 0:
        return None
    value = low[i + 10 : i + 14].split(";")[0].split(">")[0]
    return value if value in ("udp", "tcp", "tls", "ws", "wss") else None


def _ip_literal(host: str | None) -> str | None:
    """The IP if ``host`` (maybe with a port, maybe [v6]) is an IP literal."""
    if not host or len(host) > 64:
        return None
    h = host.strip()
    if h.startswith("["):
        h = h[1 : h.find("]")] if "]" in h else h
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    return eventline.normalize_ip(h)


def runtime(args: str) -> None:
    """mod_python3's runtime entry point (a detached thread). Never raises into FreeSWITCH."""
    try:
        import freeswitch

        with REGISTRY.lock:  # the registry outlives this module's reloads; its lock does too
            other = REGISTRY.monitor
            if other is not None and other.is_alive() and other is not threading.current_thread():
                fslog.log("NOTICE", "fsguard monitor already running; not starting another")
                return
            REGISTRY.monitor = threading.current_thread()
        Monitor(freeswitch).run()
        fslog.log("NOTICE", "fsguard monitor stopped")
    except BaseException as exc:  # noqa: BLE001 - the thread must end quietly, never take FS down
        fslog.log("ERR", "fsguard monitor ended: %s" % type(exc).__name__)
