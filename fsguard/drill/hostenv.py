"""Real-host mode (``fsguard drill --host``): the same steps against the FreeSWITCH running here.

No FreeSWITCH can run on the development machines: its logic is tested against the stand-in
(tests/test_drill_host.py); it has met a real 1.10.12 once (issue 12). What it does:

* preflight with distinct reasons: fsguard's config and event token, a running FreeSWITCH with
  ``fs_cli``, fail2ban answering with fsguard's jails, fsguard's ruleset loaded;
* a client namespace ``fsgd-<run>-net`` joined to the host by a veth pair whose host end
  (``fd<run>p``, 198.18.0.1/15) is the only thing added to the host's namespace (in the ledger);
  the drill's SIP goes to FreeSWITCH's own address (``global_getvar local_ip_v4``, or
  ``[drill] target``) through the host's real ruleset, the real fail2ban and fsguard service;
* the store's list entries it adds are temporary, labelled ``fsguard-drill <run>``, expire by
  themselves, and are deleted (and the ruleset re-applied) at cleanup; bans of the drill's own
  addresses are lifted with ``fsguard unban`` and their evidence rows removed.

Refused targets (with the reason and the fix, ``[drill] target``): loopback (probes would never
leave the drill's own namespace), the drill's own range, an address that is not this host's.
Where FreeSWITCH serves its own IP as its domain (vanilla), the IP-literal REGISTER is normal and
no ip-literal-domain line is expected. The carrier check uses a temporary carrier entry (a copy of
the config with the drill's carrier added, applied, then the real ruleset re-applied at once and
again at cleanup), only where the carrier rule is already in force (turning it on would refuse
every real sender on 5080): otherwise it is skipped with the reason, which fails the drill.

Known limits: passwords of real users are unknown, so the customer of step 2 is a temporary admin
whitelist entry instead of a registration; with an allowed-countries rule in force the drill range
(owned by no country) is refused on 5060 before FreeSWITCH sees it, so step 1 then reports the
scanner as unreachable; when 5080 is already carriers-only, the scanner sends no unknown-number
INVITEs (the auth jail alone must catch it, and only 5060 is checked for drops).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs_python import config as config_mod
from fsguard import settings
from fsguard.drill import deps
from fsguard.drill.f2bproc import PrivateFail2ban, base_env
from fsguard.drill.ledger import Ledger
from fsguard.drill.netns import Topology
from fsguard.drill.report import Check, setup_part

if TYPE_CHECKING:
    from fs_python.config import Config


def local_addresses() -> set[str]:
    """The IPv4 addresses of this host's own interfaces (``ip -j -4 addr``)."""
    proc = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=10, check=False)
    try:
        data = json.loads(proc.stdout or "[]")
    except ValueError:
        return set()
    return {str(a.get("local")) for link in data for a in link.get("addr_info", []) if a.get("local")}


def check_target(ip: str, local: set[str]) -> None:
    """Refuse a target the drill's packets cannot meet as an outside attacker's would."""
    from fsguard.drill.ledger import in_drill_range

    if ipaddress.ip_address(ip).is_loopback:
        raise RuntimeError(
            f"FreeSWITCH's address is {ip} (loopback): packets to it would never leave the drill's own "
            "namespace, so nothing of the host (ruleset, fail2ban, FreeSWITCH) would be tested; set "
            "[drill] target in fsguard.conf to an address FreeSWITCH listens on (the host's own address)")
    if in_drill_range(ip):
        raise RuntimeError(f"FreeSWITCH's address {ip} lies in the drill's own range 198.18.0.0/15: "
                           "set [drill] target to the host's own address")
    if local and ip not in local:
        raise RuntimeError(f"{ip} is not an address of this host ({', '.join(sorted(local))}): the drill "
                           "tests the FreeSWITCH running here; set [drill] target to one of these")


def fs_cli(*args: str) -> str:
    proc = subprocess.run(["fs_cli", "-x", " ".join(args)], capture_output=True, text=True, timeout=15, check=False)
    if proc.returncode != 0:  # fs_cli exits 0 whatever the answer, 255 when it cannot connect
        raise RuntimeError(f"fs_cli cannot reach FreeSWITCH (exit {proc.returncode})")
    return proc.stdout.strip()


class HostEnv:
    mode = "host"

    def __init__(self, ledger: Ledger, *, backend: str = "") -> None:
        self.ledger = ledger
        self.cfg: Config = config_mod.load()
        self.token = self.cfg.event_token
        self.topo = Topology(ledger.run_id, host_mode=True)
        self.scan_user = f"drill{ledger.run_id}"  # no such user: 401 then 403, like any guess
        self.domain = ""
        self.serves_ip = False
        self.logpath = Path(settings.F2B_LOGPATH.get(self.cfg))
        self.log_start = 0
        self.f2b: PrivateFail2ban | None = None
        self.setup: list[Check] = []
        self.users: Any = None
        self.started = time.time()

    def _part(self, name: str, fn: Any) -> bool:
        return setup_part(self.setup, name, fn)

    def up(self) -> None:
        ok = self._part("fsguard config", self._config)
        ok = self._part("FreeSWITCH", self._freeswitch) and ok
        ok = self._part("fail2ban", self._fail2ban) and ok
        ok = self._part("firewall ruleset", self._ruleset) and ok
        if ok:
            self._part("namespaces", lambda: self.topo.create(self.ledger))
            self.ledger.record("rows", ips=sorted(self.topo.roles.values()), since=self.started,
                               config=str(self.cfg.path), ip=self.topo.roles["scanner"])

    def _config(self) -> str:
        if not self.cfg.path.exists():
            raise RuntimeError(f"{self.cfg.path} missing: install fsguard first (fsguard install)")
        if not self.token:
            raise RuntimeError("[fsguard] event_token not set: no evidence lines are written")
        try:
            self.log_start = self.logpath.stat().st_size
        except OSError as exc:
            raise RuntimeError(f"FreeSWITCH log {self.logpath}: {exc}") from None
        return str(self.cfg.path)

    def _freeswitch(self) -> str:
        if shutil.which("fs_cli") is None:
            raise RuntimeError("fs_cli not found")
        target = settings.DRILL_TARGET.get(self.cfg) or fs_cli("global_getvar", "local_ip_v4")
        from fs_python.eventline import normalize_ip

        ip = normalize_ip(target)
        if ip is None or ":" in ip:
            raise RuntimeError(f"FreeSWITCH's address {target[:40]!r} is not an IPv4 address ([drill] target)")
        check_target(ip, local_addresses())
        self.topo.pbx_ip = ip
        self.domain = settings.DRILL_DOMAIN.get(self.cfg) or fs_cli("global_getvar", "domain") or ip
        # vanilla FreeSWITCH serves its own IP as its domain: a REGISTER to it is no scanner signature
        # there (freeswitch.md section 7), so no ip-literal-domain line is expected then
        served = {d.lower() for d in config_mod.SERVED_DOMAINS.get(self.cfg)} | {self.domain.lower()}
        self.serves_ip = ip in served
        return f"SIP at {ip}, domain {self.domain}" + (" (its IP is a served domain)" if self.serves_ip else "")

    def _fail2ban(self) -> str:
        sock = Path(settings.F2B_SOCKET.get(self.cfg))
        self.f2b = PrivateFail2ban(Path("/etc/fail2ban"), sock.parent, netns=None,
                                   env=base_env(self.cfg.path), sock=sock)
        jails = [j for j in self.f2b.jails() if j.startswith("fsguard")]
        if not {"fsguard-auth", "fsguard-scan"} <= set(jails):
            raise RuntimeError(f"fail2ban runs without fsguard-auth/fsguard-scan (jails: {jails or 'none'})")
        return "jails: " + ", ".join(jails)

    def _ruleset(self) -> str:
        # Only checked, never changed here: the drill re-applies the operator's own config later.
        backend = settings.FIREWALL_BACKEND.get(self.cfg)
        deps.drop_packets(self.cfg, None)  # raises when fsguard's table/chains are not there
        return f"{backend}: fsguard's rules loaded"

    def fs_api(self, command: str) -> str:
        return fs_cli("python", command)

    def service_tick_wait(self, ticks: int = 2) -> None:
        time.sleep(5.0 * ticks + 0.5)  # the installed `fsguard service` ticks every 5 s

    def down(self) -> list[str]:
        return []

