"""The drill's network: two namespaces of its own joined by a veth pair.

::

    fsgd-<run>-net                               fsgd-<run>-pbx  (simulate)  | host (real mode)
    scanner 198.18.1.10, customer 198.18.2.20,   198.18.0.1/15: stand-in PBX,
    blacklisted 198.18.3.30, foreign 198.19.4.40, fail2ban-server, fsguard's ruleset
    non-carrier 198.18.5.50, carrier 198.18.6.60,
    clean 198.18.7.70, feedlisted 198.18.8.80,
    sprayer 198.18.9.90                           ── veth ──

Everything lives in 198.18.0.0/15 (RFC 2544, never routed on the Internet). Both veth ends are
created directly inside namespaces, so deleting the namespaces deletes every interface; in real
mode one end sits in the host namespace and is deleted explicitly (it is in the ledger).

Sockets for the drill's clients are opened *inside* the client namespace from a short-lived
thread that enters it with setns(2): a socket keeps the namespace it was created in, so the drill
talks from many source addresses without starting a process per packet.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from fsguard.drill.ledger import Ledger

CLONE_NEWNET = 0x40000000

PBX_IP = "198.18.0.1"
PREFIX = 15
PBX_IP6 = "2001:db8:18::1"  # documentation range (RFC 3849); the PBX side of the veth
PREFIX6 = 64
ROLES6: dict[str, str] = {"scanner6": "2001:db8:18::10", "clean6": "2001:db8:18::70"}
ROLES: dict[str, str] = {
    "scanner": "198.18.1.10",
    "customer": "198.18.2.20",
    "blacklisted": "198.18.3.30",
    "foreign": "198.19.4.40",
    "noncarrier": "198.18.5.50",
    "carrier": "198.18.6.60",
    "clean": "198.18.7.70",
    "feedlisted": "198.18.8.80",
    "sprayer": "198.18.9.90",  # registers, then sprays identities (step 2: its shield is suspended)
}


class NetnsError(Exception):
    """A namespace or interface could not be created."""


def ip_cmd(argv: Sequence[str], *, netns: str | None = None, check: bool = True,
           timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    cmd = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv[:3])}: {exc}") from None
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd[:6])}: {(proc.stderr or proc.stdout).strip()}")
    return proc


_libc: ctypes.CDLL | None = None


def _setns(path: str) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def socket_in(netns: str | None, family: int, kind: int, bind: tuple[str, int] | None = None) -> socket.socket:
    """A socket created inside ``netns`` (None: this process's own namespace), optionally bound."""
    if netns is None:
        s = socket.socket(family, kind)
        if bind:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(bind)
        return s
    box: dict[str, object] = {}

    def work() -> None:  # a fresh OS thread: entering the namespace affects only this thread
        try:
            _setns(f"/run/netns/{netns}")
            s = socket.socket(family, kind)
            if bind:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(bind)
            box["sock"] = s
        except OSError as exc:
            box["err"] = exc

    t = threading.Thread(target=work, name=f"setns-{netns}", daemon=True)
    t.start()
    t.join()
    if "err" in box:
        raise NetnsError(str(box["err"]))
    sock = box["sock"]
    assert isinstance(sock, socket.socket)
    return sock


@dataclass
class Topology:
    run_id: str
    host_mode: bool = False  # real mode: the PBX side is the host's own namespace
    pbx_ip: str = PBX_IP  # where the drill's SIP goes (real mode: FreeSWITCH's own address)
    gateway_ip: str = PBX_IP  # the PBX-side veth address
    roles: dict[str, str] = field(default_factory=lambda: dict(ROLES))
    roles6: dict[str, str] = field(default_factory=lambda: dict(ROLES6))
    pbx_ip6: str | None = PBX_IP6  # None: no IPv6 (real-host mode, or a kernel without it)
    ipv6_error: str = ""

    @property
    def net_ns(self) -> str:
        return f"fsgd-{self.run_id}-net"

    @property
    def pbx_ns(self) -> str | None:
        return None if self.host_mode else f"fsgd-{self.run_id}-pbx"

    @property
    def veth_pbx(self) -> str:
        return f"fd{self.run_id}p"

    @property
    def veth_net(self) -> str:
        return f"fd{self.run_id}n"

    def create(self, ledger: Ledger) -> None:
        """Namespaces, veth pair, addresses, loopback up. Each piece is in the ledger first."""
        ledger.record("netns", name=self.net_ns)
        ip_cmd(["ip", "netns", "add", self.net_ns])
        if self.pbx_ns:
            ledger.record("netns", name=self.pbx_ns)
            ip_cmd(["ip", "netns", "add", self.pbx_ns])
            ip_cmd(["ip", "link", "add", self.veth_pbx, "netns", self.pbx_ns, "type", "veth",
                    "peer", "name", self.veth_net, "netns", self.net_ns])
        else:
            ledger.record("link", name=self.veth_pbx)
            ip_cmd(["ip", "link", "add", self.veth_pbx, "type", "veth",
                    "peer", "name", self.veth_net, "netns", self.net_ns])
        for ns in (self.pbx_ns, self.net_ns):
            if ns:
                ip_cmd(["ip", "link", "set", "lo", "up"], netns=ns)
        ip_cmd(["ip", "addr", "add", f"{self.gateway_ip}/{PREFIX}", "dev", self.veth_pbx], netns=self.pbx_ns)
        ip_cmd(["ip", "link", "set", self.veth_pbx, "up"], netns=self.pbx_ns)
        for addr in self.roles.values():
            ip_cmd(["ip", "addr", "add", f"{addr}/{PREFIX}", "dev", self.veth_net], netns=self.net_ns)
        if self.pbx_ip6 and not self.host_mode:
            try:
                # nodad: usable at once (duplicate address detection would delay it by a second or two)
                ip_cmd(["ip", "-6", "addr", "add", f"{self.pbx_ip6}/{PREFIX6}", "dev", self.veth_pbx, "nodad"],
                       netns=self.pbx_ns)
                for addr in self.roles6.values():
                    ip_cmd(["ip", "-6", "addr", "add", f"{addr}/{PREFIX6}", "dev", self.veth_net, "nodad"],
                           netns=self.net_ns)
            except NetnsError as exc:  # a kernel without IPv6: the drill goes on over IPv4
                self.pbx_ip6, self.ipv6_error = None, str(exc)
        ip_cmd(["ip", "link", "set", self.veth_net, "up"], netns=self.net_ns)
        if self.host_mode:  # FreeSWITCH listens on the host's own address: route there via the veth
            ip_cmd(["ip", "route", "add", "default", "via", self.gateway_ip], netns=self.net_ns)

    def exec_argv(self, where: str, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside the client (``net``) or PBX (``pbx``) side."""
        ns = self.net_ns if where == "net" else self.pbx_ns
        return (["ip", "netns", "exec", ns] if ns else []) + list(argv)

    def udp(self, role: str, port: int = 0) -> socket.socket:
        if role in self.roles6:
            return socket_in(self.net_ns, socket.AF_INET6, socket.SOCK_DGRAM, (self.roles6[role], port))
        return socket_in(self.net_ns, socket.AF_INET, socket.SOCK_DGRAM, (self.roles[role], port))
