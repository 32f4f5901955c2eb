"""The drill's one doorway to the other areas' code (fail2ban, perimeter, firewall, store).

Each adapter calls the area's real entry point (operator actions go through :mod:`fsguard.ops`,
exactly as the CLI and the GUI queue do). Imports are plain: a broken module fails the drill
loudly. Keeping these in one module means an interface change touches one file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fsguard import settings
from fsguard.drill.report import StepAbort

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.store import Store

T = TypeVar("T")


# -- firewall (perimeter area) ------------------------------------------------------------------
def firewall_apply(cfg: Config, netns: str | None) -> Any:
    from fsguard.ops import perimeter

    return perimeter.firewall_apply(cfg, netns=netns)


def is_banned(cfg: Config, ip: str, netns: str | None) -> bool:
    from fsguard.firewall import bans

    return bool(bans.is_banned(cfg, ip, netns=netns))


def del_ban(cfg: Config, ip: str, netns: str | None) -> None:
    from fsguard.firewall import bans

    bans.del_ban(cfg, ip, netns=netns)


# -- fail2ban area --------------------------------------------------------------------------------
def render_fail2ban(cfg: Config, out_dir: Path, logpath: Path) -> list[Path]:
    from fsguard.f2b import render

    return list(render.render_config(cfg, out_dir, logpath=logpath, private=True))


# -- store (shared schema) ------------------------------------------------------------------------
def _query(cfg: Config, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from fsguard.store import open_store

    store = open_store(cfg)
    try:
        return store.query(sql, params)
    finally:
        store.close()


def ban_rows(cfg: Config, ip: str) -> list[dict[str, Any]]:
    return _query(cfg, "select * from v_fsguard_bans where ip_address = :ip order by ban_start", {"ip": ip})


def offender_users(cfg: Config, ip: str) -> set[str]:
    rows = _query(cfg, "select user_identity from v_fsguard_offenders where ip_address = :ip", {"ip": ip})
    return {str(r["user_identity"]) for r in rows if r.get("user_identity")}


def json_list(value: Any) -> list[Any]:
    import json

    if not value:
        return []
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return [value]
    return list(data) if isinstance(data, list) else [data]


# -- whitelist (fs_python area) -------------------------------------------------------------------
def whitelisted(cfg: Config, ip: str) -> tuple[bool, list[str]]:
    from fs_python import whitelist

    v = whitelist.check(ip, state_dir=cfg.state_dir)
    return bool(v.whitelisted), list(v.reasons)


# -- perimeter area -------------------------------------------------------------------------------
def countries_refresh(cfg: Config) -> str:
    from fsguard.perimeter import countries

    data = countries.refresh(cfg, force=True)
    if not data.available:
        raise StepAbort(f"country data not built: {'; '.join(data.errors) or 'no ranges'}")
    return f"countries {','.join(data.countries)}: {len(data.ranges[4])} IPv4 ranges"


def feed_update(cfg: Config, name: str) -> Any:
    """One feed through the real pipeline (fetch, validate, merge, cache), without the CLI's own
    firewall apply: the drill applies inside its namespace, never on the host."""
    from fsguard.perimeter import update

    results = update.update_all(cfg, None, only=name)
    if not results:
        raise StepAbort(f"feed {name!r} is not configured")
    return results[0]


def list_add(env: Any, list_name: str, cidr: str, label: str, ttl: float = 900.0) -> None:
    """A temporary, labelled list entry (it expires by itself even if every cleanup failed)."""
    import time

    from fsguard.ops import lists
    from fsguard.store import open_store

    store = open_store(env.cfg)
    try:
        if store.query_one("select 1 as x from v_fsguard_list_entries where list_name = :l and cidr = :c",
                           {"l": list_name, "c": cidr}):
            return  # there before the drill: neither changed nor removed by it
        item = env.ledger.record("list-entry", list=list_name, cidr=cidr, ip=cidr.split("/")[0],
                                 config=str(env.cfg.path))
        # apply=False: the drill loads the ruleset itself, inside its namespace
        try:
            lists.change(env.cfg, store, list_name, "add", cidr, label=label, expires=time.time() + ttl,
                         apply=False, by="fsguard drill")
        except Exception:
            env.ledger.forget(item)  # refused before anything was written: nothing to undo
            raise
    finally:
        store.close()


def carrier_rule(cfg: Config) -> tuple[bool, str]:
    """(is "5080 only from carriers" in force, why): ``[firewall] carrier_rule`` and the carriers
    known from the config and, on FusionPBX, its providers ACL."""
    from fsguard import settings
    from fsguard.perimeter import carriers
    from fsguard.store import open_store

    mode = settings.FIREWALL_CARRIER_RULE.get(cfg) or "auto"
    if mode == "off":
        return False, "[firewall] carrier_rule = off"
    store = open_store(cfg)
    try:
        known, _errors = carriers.carriers(cfg, store)
    finally:
        store.close()
    if mode == "auto" and not known:
        return False, ("no carrier is known ([carriers] cidrs, or FusionPBX's providers ACL), so with "
                       "[firewall] carrier_rule = auto the carrier ports answer every address")
    return True, f"{len(known)} carrier(s) known, carrier_rule = {mode}"


def with_carrier(cfg: Config, cidr: str) -> Config:
    """The same config with one more carrier: the drill's temporary carrier entry. Never written to
    the operator's file; the ruleset built from it is replaced by the real one right after."""
    import configparser

    from fs_python import config as config_mod

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict({s: dict(cfg.parser.items(s)) for s in cfg.parser.sections()})
    if not parser.has_section("carriers"):
        parser.add_section("carriers")
    parser.set("carriers", "cidrs", (parser.get("carriers", "cidrs", fallback="") + " " + cidr).strip())
    return config_mod.Config(cfg.path, parser)


def list_del(cfg: Config, list_name: str, cidr: str) -> None:
    from fsguard.ops import lists

    _with_store(cfg, lambda store: lists.change(cfg, store, list_name, "del", cidr, apply=False))


# -- operator actions: the operations layer the CLI and the GUI queue use -------------------------
def _with_store(cfg: Config, body: Callable[[Store], T]) -> T:
    from fsguard.store import open_store

    store = open_store(cfg)
    try:
        return body(store)
    finally:
        store.close()


def unban(cfg: Config, ip: str) -> tuple[bool, str]:
    """``fsguard unban ip`` as an operator runs it: (lifted from somewhere, the message shown)."""
    from fsguard.ops import bans

    res = _with_store(cfg, lambda store: bans.unban(cfg, store, ip, reason="fsguard unban (operator)"))
    return res.found and res.ok, res.message()


def why(cfg: Config, ip: str) -> tuple[dict[str, Any], str]:
    """(``fsguard --json why ip`` result, ``fsguard why ip`` text)."""
    from fsguard.cli.fail2ban import why_text
    from fsguard.ops import bans

    res = _with_store(cfg, lambda store: bans.why(cfg, store, ip))
    return res.to_json(), why_text(res)


def drop_packets(cfg: Config, netns: str | None) -> int:
    """Packets dropped so far by fsguard's own rules (their counters), in ``netns``."""
    import json
    import subprocess

    prefix = ["ip", "netns", "exec", netns] if netns else []
    backend = settings.FIREWALL_BACKEND.get(cfg)
    if backend == "nftables":
        proc = subprocess.run(prefix + ["nft", "-j", "list", "table", "inet", "fsguard"], capture_output=True,
                              text=True, timeout=30, check=False)
        if proc.returncode != 0:
            raise StepAbort(f"nft list table inet fsguard: {proc.stderr.strip()}")
        total = 0
        for obj in json.loads(proc.stdout).get("nftables", []):
            exprs = (obj.get("rule") or {}).get("expr") or []
            if any("drop" in e for e in exprs if isinstance(e, dict)):
                total += sum(int(e["counter"].get("packets", 0)) for e in exprs
                             if isinstance(e, dict) and isinstance(e.get("counter"), dict))
        return total
    total = 0
    for tool in ("iptables-save", "ip6tables-save"):
        proc = subprocess.run(prefix + [tool, "-c"], capture_output=True, text=True, timeout=30, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("[") and " -A FSGUARD" in line and line.rstrip().endswith("-j DROP"):
                total += int(line[1:line.index(":")])
    return total


def undo_host_item(item: dict[str, Any]) -> None:
    """Undo a ledger item that lives in fsguard's store or firewall (not in a namespace).

    The item names the config it was made under: when that file is gone, so is the simulated
    drill's work dir with its store and namespaces, and there is nothing left to undo."""
    from fs_python import config as config_mod

    path = Path(str(item.get("config") or ""))
    if not path.is_absolute() or not path.exists():
        return
    cfg = config_mod.load(path)
    kind = item.get("kind")
    if kind == "list-entry":
        list_del(cfg, str(item["list"]), str(item["cidr"]))
    elif kind == "reapply":
        firewall_apply(cfg, None)
    elif kind == "ban":
        unban(cfg, str(item["ip"]))
    elif kind == "rows":
        delete_rows(cfg, [str(i) for i in item.get("ips", [])], float(item.get("since") or 0))
    else:
        raise StepAbort(f"unknown drill item {kind!r}")


def delete_rows(cfg: Config, ips: list[str], since: float) -> None:
    """The evidence the drill's own addresses left in a real store during the drill."""
    from fsguard.drill.ledger import in_drill_range
    from fsguard.store import open_store

    ips = [i for i in ips if in_drill_range(i)]
    store = open_store(cfg)
    try:
        with store.transaction():
            for ip in ips:
                p = {"ip": ip, "since": since}
                store.execute("delete from v_fsguard_bans where ip_address = :ip and ban_start >= :since", p)
                store.execute("delete from v_fsguard_offenders where ip_address = :ip and first_seen >= :since", p)
                store.execute("delete from v_fsguard_events where ip_address = :ip and event_time >= :since", p)
    finally:
        store.close()
