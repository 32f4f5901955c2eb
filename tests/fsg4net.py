"""Network-namespace helpers for the perimeter/firewall tests (namespaces prefixed ``fsg4-``).

A "pbx" namespace runs fsguard's ruleset; "client" namespaces sit on a bridge inside the pbx
namespace, each with addresses from the documentation/benchmark ranges. Everything created here
is deleted again by :meth:`Lab.close` (the fixtures call it even when a test fails).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid

PBX4 = "198.18.0.1"
PBX6 = "2001:db8:f5::1"


def sh(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


def can_run() -> str | None:
    """Why the namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft", "ipset", "iptables", "ip6tables"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


class Lab:
    """One pbx namespace and named clients on a bridge; clients get extra addresses on request."""

    def __init__(self, tag: str = "") -> None:
        self.id = (tag or "") + uuid.uuid4().hex[:5]
        self.pbx = f"fsg4-p{self.id}"
        self.namespaces: list[str] = []
        self._n = 0
        sh("ip", "netns", "add", self.pbx)
        self.namespaces.append(self.pbx)
        self.exec_pbx("ip", "link", "set", "lo", "up")
        self.exec_pbx("ip", "link", "add", "br0", "type", "bridge")
        self.exec_pbx("ip", "link", "set", "br0", "up")
        self.exec_pbx("ip", "addr", "add", PBX4 + "/15", "dev", "br0")
        self.exec_pbx("ip", "-6", "addr", "add", PBX6 + "/48", "dev", "br0", "nodad")
        # other ranges reach the pbx through the same bridge
        for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"):
            self.exec_pbx("ip", "route", "add", net, "dev", "br0")
        self.exec_pbx("ip", "-6", "route", "add", "2001:db8::/32", "dev", "br0")

    def exec_pbx(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.pbx, *argv, check=check)

    def client(self, *addrs: str) -> str:
        """A client namespace holding ``addrs`` (IPv4 and/or IPv6), routed to the pbx."""
        self._n += 1
        name = f"fsg4-c{self.id}{self._n}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        veth_p, veth_c = f"v{self.id}{self._n}p", f"v{self.id}{self._n}c"
        sh("ip", "link", "add", veth_p, "netns", self.pbx, "type", "veth", "peer", "name", veth_c, "netns", name)
        self.exec_pbx("ip", "link", "set", veth_p, "master", "br0", "up")
        ex = ["ip", "netns", "exec", name]
        sh(*ex, "ip", "link", "set", "lo", "up")
        sh(*ex, "ip", "link", "set", veth_c, "up")
        for a in addrs:
            if ":" in a:
                sh(*ex, "ip", "-6", "addr", "add", a + "/128", "dev", veth_c, "nodad")
            else:
                sh(*ex, "ip", "addr", "add", a + "/32", "dev", veth_c)
        sh(*ex, "ip", "route", "add", PBX4 + "/32", "dev", veth_c, "src", next(a for a in addrs if ":" not in a))
        v6 = [a for a in addrs if ":" in a]
        if v6:
            sh(*ex, "ip", "-6", "route", "add", PBX6 + "/128", "dev", veth_c, "src", v6[0])
        # the pbx answers (TCP SYN-ACK) through the bridge: tell it where each address lives
        for a in addrs:
            fam = "-6" if ":" in a else "-4"
            self.exec_pbx("ip", fam, "route", "replace", a, "dev", "br0")
        return name

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()


class Listener:
    """UDP + TCP listeners inside the pbx namespace on the given ports; records what arrives."""

    def __init__(self, lab: Lab, ports: tuple[int, ...] = (5060, 5061, 5080, 5081, 22)) -> None:
        self.lab = lab
        script = (
            "import socket,select,sys\n"
            "socks=[]\n"
            f"for p in {list(ports)!r}:\n"
            "  for fam,host in ((socket.AF_INET,'0.0.0.0'),(socket.AF_INET6,'::')):\n"
            "    u=socket.socket(fam,socket.SOCK_DGRAM)\n"
            "    if fam==socket.AF_INET6: u.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\n"
            "    u.bind((host,p)); socks.append(('udp',p,u))\n"
            "    t=socket.socket(fam,socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "    if fam==socket.AF_INET6: t.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\n"
            "    t.bind((host,p)); t.listen(50); socks.append(('tcp',p,t))\n"
            "print('ready',flush=True)\n"
            "while True:\n"
            "  r,_,_=select.select([s for _,_,s in socks],[],[])\n"
            "  for kind,p,s in socks:\n"
            "    if s in r:\n"
            "      if kind=='udp':\n"
            "        d,a=s.recvfrom(2048); print(kind,p,a[0],flush=True)\n"
            "      else:\n"
            "        c,a=s.accept(); print(kind,p,a[0],flush=True); c.close()\n"
        )
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.pbx, "python3", "-u", "-c", script],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.seen: list[tuple[str, int, str]] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, port, addr = line.split()
            if addr.startswith("::ffff:"):
                addr = addr[7:]
            self.seen.append((kind, int(port), addr))

    def got(self, kind: str, port: int, addr: str, wait: float = 1.0) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if (kind, port, addr) in self.seen:
                return True
            time.sleep(0.02)
        return (kind, port, addr) in self.seen

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def send_udp(ns: str, src: str, port: int, dst: str | None = None, payload: str = "OPTIONS") -> None:
    dst = dst or (PBX6 if ":" in src else PBX4)
    fam = "AF_INET6" if ":" in src else "AF_INET"
    code = (f"import socket;s=socket.socket(socket.{fam},socket.SOCK_DGRAM);s.bind(({src!r},0));"
            f"[s.sendto({payload!r}.encode(),({dst!r},{port})) for _ in range(3)]")
    sh("ip", "netns", "exec", ns, "python3", "-c", code)


def tcp_connect(ns: str, src: str, port: int, dst: str | None = None, timeout: float = 1.0) -> bool:
    dst = dst or (PBX6 if ":" in src else PBX4)
    fam = "AF_INET6" if ":" in src else "AF_INET"
    code = (f"import socket,sys;s=socket.socket(socket.{fam},socket.SOCK_STREAM);s.settimeout({timeout});"
            f"s.bind(({src!r},0))\ntry:\n s.connect(({dst!r},{port}));print('ok')\nexcept OSError:\n print('no')")
    return sh("ip", "netns", "exec", ns, "python3", "-c", code).stdout.strip() == "ok"


_ = socket  # (imported for type users of this module)
