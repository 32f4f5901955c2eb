"""The drill's world: config, namespaces, the PBX side (stand-in or real), fail2ban, firewall.

:class:`SimEnv` (``--simulate``) builds everything in a work dir and two namespaces of its own:
the stand-in PBX (fs_python's real handlers behind it, through the stand-in ``freeswitch``
module), a private fail2ban-server with fsguard's rendered configuration, fsguard's real ruleset
applied in the PBX namespace, and the embedded SQLite store. Nothing outside the work dir and the
namespaces is touched.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs_python import config as config_mod
from fsguard.drill import deps
from fsguard.drill.f2bproc import PrivateFail2ban, base_env
from fsguard.drill.fslog import FsLog
from fsguard.drill.ledger import Ledger
from fsguard.drill.netns import Topology
from fsguard.drill.pbx import Directory, Hooks, StandInPBX, random_password
from fsguard.drill.report import Check, setup_part

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

DOMAIN = "pbx.example.net"  # the directory domain the stand-in serves (RFC 2606 name)
LABEL = "fsguard-drill"
# Countries: the stand-in registry file gives the drill's range two made-up holders, so the test
# depends on no real registry data: "allowed" covers 198.18.0.0/16, "foreign" 198.19.0.0/16.
ALLOWED_CC = "ZZ"
FOREIGN_CC = "ZY"


@dataclass
class Users:
    customer: str = "1000"
    customer_password: str = field(default_factory=random_password)
    others: tuple[str, ...] = ("1001", "1002")
    other_password: str = field(default_factory=random_password)


def registry_fixture() -> str:
    """A delegation file in the regional registries' real format (host counts for IPv4)."""
    today = time.strftime("%Y%m%d")
    return (
        f"2|drill|{today}|2|19700101|{today}|+0000\n"
        f"drill|*|ipv4|*|2|summary\n"
        f"drill|{ALLOWED_CC}|ipv4|198.18.0.0|65536|{today}|allocated\n"
        f"drill|{FOREIGN_CC}|ipv4|198.19.0.0|65536|{today}|allocated\n"
    )


class SimEnv:
    """Everything the simulated drill runs against. :meth:`up` records each part in the ledger."""

    mode = "simulate"
    scan_user = "1000"  # the scanner guesses passwords of a user that exists
    domain = DOMAIN
    serves_ip = False  # the stand-in serves a name: a REGISTER to its IP literal is a scanner's
    log_start = 0  # events are read from here on (the stand-in's log starts empty)

    def __init__(self, ledger: Ledger, *, backend: str = "nftables") -> None:
        self.ledger = ledger
        self.backend = backend
        self.topo = Topology(ledger.run_id)
        self.users = Users()
        self.token = config_mod.new_token().replace("-", "")[:24]
        # Named from the run id so it is in the ledger *before* it exists (0700: the config in it
        # holds the drill's event token).
        self.work = Path(tempfile.gettempdir()) / f"fsguard-drill-{ledger.run_id}"
        ledger.record("dir", path=str(self.work))
        self.work.mkdir(mode=0o700)
        self.state_dir = self.work / "state"
        self.state_dir.mkdir()
        self.logpath = self.work / "freeswitch.log"
        self.logpath.touch()
        self.config_path = self.work / "fsguard.conf"
        self.cfg: Config = config_mod.load(self.config_path)  # defaults until write_config()
        self.fslog: FsLog | None = None
        self.pbx: StandInPBX | None = None
        self.hooks: Hooks = Hooks()
        self.f2b: PrivateFail2ban | None = None
        self.setup: list[Check] = []
        self.service: Any = None
        self._service_stop: Any = None
        self._service_thread: Any = None
        self._old_env: str | None = None

    # -- config ------------------------------------------------------------------------------
    def write_config(self, carriers: bool = True) -> None:
        countries = self.work / "country-source"
        countries.mkdir(exist_ok=True)
        (countries / "delegated-drill-extended-latest").write_text(registry_fixture(), encoding="ascii")
        roles = self.topo.roles
        (self.work / "drill-feed.txt").write_text(
            f"# a block-list feed as VoIP Blacklist publishes one (one address or CIDR per line)\n"
            f"{roles['feedlisted']}\n", encoding="ascii")
        text = f"""# fsguard drill {self.ledger.run_id}: temporary, removed with the drill
[fsguard]
state_dir = {self.state_dir}
event_token = {self.token}

[store]
kind = sqlite
path = {self.state_dir / 'fsguard.db'}

[firewall]
backend = {self.backend}

[countries]
allow = {ALLOWED_CC}
sources = {countries / 'delegated-drill-extended-latest'}

[carriers]
cidrs = {roles['carrier'] if carriers else ''}

[feeds]
voipbl = false
extra = drill={self.work / 'drill-feed.txt'}
# the drill's addresses live in the benchmarking range, which real feeds and lists refuse
accept_test_ranges = true

[fail2ban]
# the private fail2ban-server of this drill, and where its bans land (the PBX namespace)
socket = {self.work / 'f2b.sock'}
netns = {self.topo.pbx_ns or ''}
logpath = {self.logpath}
jail_dir = {self.work / 'fail2ban' / 'jail.d'}

[fs_python]
# the directory domain the stand-in serves: an IP literal is not one of them
served_domains = {DOMAIN}
"""
        self.config_path.write_text(text, encoding="utf-8")
        self.cfg = config_mod.load(self.config_path)

    # -- bring up ----------------------------------------------------------------------------
    def _part(self, name: str, fn: Any) -> bool:
        return setup_part(self.setup, name, fn)

    def up(self) -> None:
        self._old_env = os.environ.get(config_mod.ENV_PATH)
        self.write_config(carriers=False)
        os.environ[config_mod.ENV_PATH] = str(self.config_path)
        self._part("namespaces", lambda: self.topo.create(self.ledger))
        self._part("stand-in PBX", self._start_pbx)
        self._part("country data", lambda: deps.countries_refresh(self.cfg))
        self._part("firewall ruleset", lambda: deps.firewall_apply(self.cfg, self.topo.pbx_ns) and "applied")
        self._part("fail2ban-server", self._start_f2b)
        self._part("fsguard service", self._start_service)

    def _start_pbx(self) -> str:
        self.fslog = FsLog(self.logpath)
        from fsguard.drill import bridge

        self.hooks = bridge.connect(self)
        directory = Directory({DOMAIN: {self.users.customer: self.users.customer_password,
                                        **{u: self.users.other_password for u in self.users.others}}})
        self.pbx = StandInPBX(self.fslog, directory, bind_ip=self.topo.pbx_ip, netns=self.topo.pbx_ns,
                              hooks=self.hooks, bind_ip6=self.topo.pbx_ip6)
        self.pbx.start()
        time.sleep(0.2)  # a monitor that failed to import or start has ended by now
        monitor = getattr(self.hooks, "monitor_alive", lambda: False)()
        if not monitor:
            raise RuntimeError("fs_python.monitor did not start (see the stand-in's freeswitch.log)")
        return f"sofia internal:5060 external:5080 on {self.topo.pbx_ip}; fs_python.monitor running"

    def _start_f2b(self) -> str:
        conf = self.work / "fail2ban"
        deps.render_fail2ban(self.cfg, conf, self.logpath)
        self.f2b = PrivateFail2ban(conf, self.work, netns=self.topo.pbx_ns, env=base_env(self.config_path))
        self.f2b.start(self.ledger)
        return "jails: " + ", ".join(self.f2b.jails())

    def _start_service(self) -> str:
        """`fsguard service` as it runs next to fail2ban: ignore-list sync, offenders, queue."""
        import threading

        from fsguard.service import Service
        from fsguard.store import open_store

        store = open_store(self.cfg)
        self.service = Service(self.cfg, store)
        self.service.tick()  # first tick: the log position starts here, the ignore list is synced
        self._service_stop = threading.Event()
        self._service_thread = threading.Thread(target=self._service_loop, args=(store,), name="fsguard-service",
                                                daemon=True)
        self._service_thread.start()
        return "ticking every 0.5 s"

    def _service_loop(self, store: Store) -> None:
        try:
            self.service.run(interval=0.5, stop=self._service_stop)
        finally:
            store.close()

    def fs_api(self, command: str) -> str:
        """``fs_cli -x "python <command>"`` as an operator types it (here: into the stand-in)."""
        api = getattr(self.hooks, "api", None)
        if api is None:
            raise RuntimeError("the stand-in PBX has no mod_python3 (fakefs) behind it")
        return str(api(command))

    def service_tick_wait(self, ticks: int = 2) -> None:
        """Let the service loop run ``ticks`` more ticks (it ticks every 0.5 s)."""
        time.sleep(0.5 * ticks + 0.1)

    def _stop_service(self) -> None:
        self._service_stop.set()
        self._service_thread.join(timeout=5)

    # -- tear down ---------------------------------------------------------------------------
    def down(self) -> list[str]:
        problems: list[str] = []
        for name, fn in (("fsguard service", self._stop_service if self._service_thread else None),
                         ("fail2ban", self.f2b.stop if self.f2b else None),
                         ("monitor", getattr(self.hooks, "close", None)),
                         ("stand-in PBX", self.pbx.stop if self.pbx else None),
                         ("log", self.fslog.close if self.fslog else None)):
            if fn is None:
                continue
            try:
                fn()
            except Exception as exc:
                problems.append(f"{name}: {exc}")
        if self._old_env is None:
            os.environ.pop(config_mod.ENV_PATH, None)
        else:
            os.environ[config_mod.ENV_PATH] = self._old_env
        return problems
