"""``fsguard install`` / ``uninstall`` / ``render``: plan, show, apply as one unit, undo exactly.

Order of one install (a failure anywhere before the commit undoes everything):
preflight -> plan files and rows -> refuse on conflicts -> [dry run stops here] ->
open the DB transaction -> create tables, write rows -> write files (journalled) ->
``fail2ban-client -t`` on the result -> write the manifest -> commit. Only then reload/rescan.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fs_python import config as fsconfig
from fsguard import safefs
from fsguard.install import f2bhost, fusion, live, rows, sources, sqlgen, trust
from fsguard.install.files import (
    Desired,
    FileJournal,
    FileOp,
    Manifest,
    ManifestRefused,
    plan_install,
    plan_uninstall,
    remove_dirs,
    sha256,
)
from fsguard.install.result import InstallError, Result, UserEdited
from fsguard.install.rows import RowOp
from fsguard.install.target import (
    FS_LAYOUTS,
    Misconfigured,
    NotInstalled,
    PreflightError,
    Target,
    check_fusion_db,
    detect,
)
from fsguard.store import Store, StoreError

STATE_DIR = "/var/lib/fsguard"
# fsguard's own files that its running parts create (never tracked by hash: they change all the time)
RUNTIME_FILES = ("/etc/fail2ban/jail.d/fsguard.whitelist.local",)
CONFIG = "/etc/fsguard/fsguard.conf"


@contextlib.contextmanager
def _locked(t: Target) -> Iterator[None]:
    """One install/uninstall at a time per target: an exclusive flock on the FreeSWITCH conf dir
    itself (no lock file to leave behind in the tree)."""
    fd = os.open(t.r(t.conf_dir), os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InstallError(f"another fsguard install or uninstall is running on {t.r(t.conf_dir)}") from None
        with _signals_raise():
            yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM/SIGHUP (a closed ssh session, systemd stopping a unit) become an exception, so the
    unit rolls back like any other failure instead of stopping half-way. (SIGKILL cannot be caught:
    PostgreSQL then drops the open transaction; files written so far are reported as conflicts by the
    next run, never silently overwritten.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise InstallError(f"interrupted by signal {signal.Signals(signum).name}")

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _need_root(t: Target, dry_run: bool) -> None:
    if t.live and not dry_run and os.geteuid() != 0:
        raise Misconfigured("installing onto this host writes /etc and FusionPBX's database: run as root "
                            "(or use --dry-run / --root DIR)")


def _open_store(t: Target) -> Store | None:
    if t.kind != "fusionpbx":
        return None
    try:
        store = Store.pgsql(**{k: v for k, v in t.db.items() if v})
    except StoreError as exc:
        raise Misconfigured(f"FusionPBX database ({t.fusion_config}): {exc}") from None
    check_fusion_db(store)
    return store


def _desired(t: Target) -> tuple[list[Desired], list[str], fsconfig.Config]:
    cfg_real = t.r(CONFIG)
    try:
        existing = fsconfig.load(cfg_real) if cfg_real.exists() else None
    except fsconfig.ConfigError as exc:
        raise Misconfigured(f"{CONFIG}: {exc}") from None
    token = existing.event_token if existing is not None else ""
    if existing is not None and not re.fullmatch(r"[A-Za-z0-9]{8,64}", token):
        # The file is the operator's (install never rewrites it): say what to add.
        raise Misconfigured(f"{CONFIG} exists but its [fsguard] event_token is missing or not 8-64 letters/digits: "
                            f"add `event_token = {fsconfig.new_token()}` to it, or remove the file")
    token = token or fsconfig.new_token()
    files: list[Desired] = []
    notes: list[str] = []
    conf_files, n = sources.config_file(t, token, STATE_DIR)
    files += conf_files
    notes += n
    # The config as it will be after install, for renderers that need it (fail2ban: the token).
    cfg = existing if existing is not None else _config_from(conf_files[0].content, cfg_real)
    cfg.path = Path(CONFIG)  # as the host sees it: fail2ban's action reads it from there
    if not cfg.parser.has_section("fail2ban"):
        cfg.parser.add_section("fail2ban")
    if not cfg.get("fail2ban", "pythonpath"):
        cfg.parser.set("fail2ban", "pythonpath", sources.LIB_DIR)
    trust.check_pythonpath(t, cfg.get("fail2ban", "pythonpath"))
    for producer in (sources.package, sources.fusion_app, sources.cli_wrapper, sources.freeswitch_conf,
                     sources.systemd_units):
        got, n = producer(t)
        files += got
        notes += n
    got, n = sources.fail2ban(t, cfg)
    return files + got, notes + n, cfg


def _config_from(text: bytes, path: Path) -> fsconfig.Config:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text.decode())
    return fsconfig.Config(path, parser)


def _files_summary(ops: list[FileOp]) -> list[dict[str, str]]:
    return [{"path": o.path, "action": o.action, "reason": o.reason} for o in ops]


def _diff(file_ops: list[FileOp], row_ops: list[RowOp], tables: list[str], drop: bool = False) -> str:
    # The host's own files first (what an operator reviews), fsguard's package and app last.
    ordered = sorted((o for o in file_ops if o.action != "unchanged"),
                     key=lambda o: (o.source in ("package", "app"), o.path))
    parts = [o.diff() for o in ordered]
    parts += [f"{'- drop' if drop else '+ create'} table {name}\n" for name in tables]
    parts += [o.describe() for o in row_ops]
    return "".join(parts)


def _masked(text: str, t: Target, cfg: fsconfig.Config) -> str:
    """The diff without secrets: the event token (a dry run's would not even be the one the real
    install makes: a token is generated per run) and any ``password = ...`` value (FusionPBX's
    database password, copied into fsguard.conf)."""
    if len(cfg.event_token) >= 8:  # random letters/digits: nowhere else in the diff
        text = text.replace(cfg.event_token, "<event token>")
    return re.sub(r"(?m)^([-+ ]?\s*password\s*=\s*)\S.*$", r"\1<database password, as in FusionPBX's config.conf>",
                  text)


def _host(t: Target, real: Path) -> str:
    return "/" + real.relative_to(t.root).as_posix()


def install(root: str | Path = "/", *, dry_run: bool = False, force: bool = False) -> Result:
    t = detect(root)
    _need_root(t, dry_run)
    with _locked(t):
        return _install(t, dry_run=dry_run, force=force)


def _manifest(t: Target) -> Manifest:
    """The manifest, only if it is root's own and names only what fsguard ships."""
    try:
        manifest = Manifest.load(t.r(STATE_DIR))
        trust.check_manifest(t, manifest)
    except ManifestRefused as exc:
        raise Misconfigured(str(exc)) from None
    return manifest


def _install(t: Target, *, dry_run: bool, force: bool) -> Result:
    desired, notes, cfg = _desired(t)
    f2bhost.check_backend(cfg)
    manifest = _manifest(t)
    backups = t.r(STATE_DIR) / "install-backups"
    file_ops = plan_install(desired, manifest, t.r, backups, force=force)
    store = _open_store(t)
    row_ops: list[RowOp] = []
    tables: list[str] = []
    if store is not None:
        row_ops, tables, more = fusion.plan(store)
        notes += more
    res = Result("install", t.kind, str(t.root), dry_run=dry_run, files=_files_summary(file_ops),
                 rows=[o.describe().rstrip("\n") for o in row_ops], tables=tables, notes=t.warnings + notes)
    res.diff = _masked(_diff(file_ops, row_ops, tables), t, cfg)
    if any(o.action == "conflict" for o in file_ops) and not dry_run:
        raise UserEdited(res)
    changing = [o for o in file_ops if o.changes]
    if not dry_run and t.r(STATE_DIR).is_dir() and not (changing or row_ops or tables):
        res.notes += _state_dir(t, FileJournal(t.r))  # an older install's group-writable dir is fixed anyway
    if dry_run or not (changing or row_ops or tables):
        if store is not None:
            store.close()
        return res
    if not manifest.exists and t.live:
        # what FreeSWITCH runs before fsguard changes anything: uninstall checks it is back
        manifest.data["auth_logging_before"] = live.auth_logging_now(t)[0]
    journal = FileJournal(t.r)
    try:
        with store.transaction() if store is not None else contextlib.nullcontext():
            if store is not None:
                for _version, _name, sql in sqlgen.migrations("pgsql") or [(1, "initial", sqlgen.initial("pgsql"))]:
                    for stmt in sqlgen.statements(sql):
                        store.execute(stmt)
                for rop in row_ops:
                    rows.apply(store, rop)
            # first: root's part of the state dir must be root's only before anything goes in it
            res.notes += _state_dir(t, journal)
            for fop in changing:
                journal.apply(fop)
                _record(manifest, fop, journal, backups, t)
            if any(o.path.startswith("/etc/fail2ban/") for o in changing):
                step = f2bhost.config_test(t)
                res.steps.append(vars(step))
                if step.status == "failed":
                    raise InstallError(f"fail2ban-client -t failed, nothing installed:\n{step.detail}")
            if backups.is_dir():
                safefs.set_dir(backups, 0o700, create=False)
            if t.kind == "freeswitch":
                _sqlite_store(t, journal, res)
            manifest.data["kind"] = t.kind
            manifest.data["rows"] = rows.merge_journal(manifest.data["rows"], row_ops)
            manifest.data["tables_created"] = sorted(set(manifest.data["tables_created"]) | set(tables))
            journal._mkdirs(manifest.path.parent)
            manifest.data["dirs"] = sorted(set(manifest.data["dirs"]) | {_host(t, d) for d in journal.made_dirs})
            journal.write(manifest.path, manifest.dump(), 0o600)
    except BaseException:
        journal.rollback()
        raise
    finally:
        if store is not None:
            store.close()
    res.changed = True
    _after(t, res, changing, bool(row_ops), cfg, want_auth_logging=True)
    return res


def fs_group(t: Target) -> int | None:
    """FreeSWITCH's group (www-data on FusionPBX, freeswitch on Debian packages)."""
    for d in (str(Path(t.log_file).parent), t.conf_dir):
        if t.r(d).is_dir():
            return t.r(d).stat().st_gid
    return None


def _state_dir(t: Target, journal: FileJournal) -> list[str]:
    """Root's state dir (0755 root:root) with FreeSWITCH's one writable place in it: ``fs/``,
    owned by FreeSWITCH's user, where its monitor writes registrations.json. An older install's
    group-writable dir is fixed here, and what another user left in it is removed."""
    made: list[str] = []
    try:
        return trust.secure_state_dir(t.r(STATE_DIR), t.r(STATE_DIR) / "fs", trust.fs_owner(t), made)
    finally:
        journal.made_dirs += [Path(m) for m in made]


def _sqlite_store(t: Target, journal: FileJournal, res: Result) -> None:
    """Plain FreeSWITCH: the SQLite store with fsguard's tables, made now so a broken state dir shows
    at install time, not at the service's first tick. Part of the unit: a rollback deletes it."""
    path = t.r(STATE_DIR) / "fsguard.db"
    if path.exists():
        return
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        journal.undo.append((p, None, None))
    store = Store.sqlite(path)
    try:
        with store.transaction():
            for _version, _name, sql in sqlgen.migrations("sqlite") or [(1, "initial", sqlgen.initial("sqlite"))]:
                for stmt in sqlgen.statements(sql):
                    store.execute(stmt)
    finally:
        store.close()
    os.chmod(path, 0o640)
    res.notes.append(f"created the SQLite store {STATE_DIR}/fsguard.db")


def _record(manifest: Manifest, op: FileOp, journal: FileJournal, backups: Path, t: Target) -> None:
    rec: dict[str, Any] = manifest.files.get(op.path, {})
    if op.action in ("delete", "restore"):
        manifest.files.pop(op.path, None)
        return
    assert op.new is not None
    if op.kind == "edit" and not rec.get("original_backup") and op.original is not None:
        name = sha256(op.original) + ".orig"
        journal.write(backups / name, op.original, 0o600)
        real = t.r(op.path)
        rec["original_backup"] = name
        rec["original_mode"] = real.stat().st_mode & 0o7777 if real.exists() else 0o644
    rec.update({"kind": op.kind, "sha256": sha256(op.new)})
    manifest.files[op.path] = rec
    if op.action == "adopt" and op.kind in ("owned", "seed"):
        # the directories a killed run made for it: fsguard's own ones only
        for parent in Path(op.path).parents:
            if {"fsguard", "fs_python"} & set(parent.parts):
                manifest.data["dirs"] = sorted(set(manifest.data["dirs"]) | {str(parent)})


def _after(t: Target, res: Result, changing: list[FileOp], rows_changed: bool,
           cfg: fsconfig.Config | None = None, want_auth_logging: bool | None = None) -> None:
    paths = [o.path for o in changing]
    rescanned = False
    if t.kind == "fusionpbx" and rows_changed:
        res.steps.append(vars(live.clear_fusion_cache(t)))
        res.steps.append(vars(live.fs_cli(t, "sofia profile internal rescan")))
        rescanned = True
    if t.kind == "freeswitch" and any("/sip_profiles/" in p or "/dialplan/" in p for p in paths):
        res.steps.append(vars(live.fs_cli(t, "reloadxml")))
        res.steps.append(vars(live.fs_cli(t, "sofia profile internal rescan")))
        rescanned = True
    if rescanned:  # the setting is only known to hold once FreeSWITCH itself shows it
        res.steps.append(vars(live.auth_logging(t, want_auth_logging)))
    if any(p.startswith("/etc/fail2ban/") for p in paths):
        res.steps += [vars(s) for s in f2bhost.reload(t, cfg)]
    units = [Path(p).name for p in paths if p.startswith("/etc/systemd/system/")]
    if units and res.action == "install":
        res.steps += [vars(s) for s in live.systemd(t, units, enable=True)]
    if any(p.endswith("python.conf.xml") or p.endswith("modules.conf.xml") for p in paths):
        # `reload mod_python3` answers "-ERR unloading module [Module is not unloadable]" (freeswitch.md 7)
        res.notes.append("mod_python3 reads python.conf.xml only when FreeSWITCH starts (it cannot be reloaded): "
                         "restart FreeSWITCH (`systemctl restart freeswitch`) to start or stop the monitor")


def uninstall(root: str | Path = "/", *, dry_run: bool = False, force: bool = False,
              keep_data: bool = False) -> Result:
    t = detect(root)
    _need_root(t, dry_run)
    with _locked(t):
        return _uninstall(t, dry_run=dry_run, force=force, keep_data=keep_data)


def _uninstall(t: Target, *, dry_run: bool, force: bool, keep_data: bool) -> Result:
    manifest = _manifest(t)
    if not manifest.exists:
        raise NotInstalled(f"fsguard is not installed here (no {STATE_DIR}/{manifest.path.name})")
    # what was installed is what gets undone: the record's kind, not what detection says today
    kind = manifest.data.get("kind") or t.kind
    if kind == "fusionpbx" and not t.db:
        raise Misconfigured("fsguard was installed onto FusionPBX but FusionPBX's config.conf is gone: its "
                            "database rows cannot be restored; put the config back, then uninstall")
    t.kind = kind
    backups = t.r(STATE_DIR) / "install-backups"
    file_ops = plan_uninstall(manifest, t.r, backups, force=force)
    store = _open_store(t) if manifest.data.get("kind") == "fusionpbx" else None
    row_ops: list[RowOp] = []
    notes: list[str] = []
    tables = [] if keep_data else list(manifest.data["tables_created"])
    if store is not None:
        row_ops, notes = rows.reverse(store, manifest.data["rows"])
        row_ops = fusion.app_rows(store, manifest.data["rows"]) + row_ops
    res = Result("uninstall", t.kind, str(t.root), dry_run=dry_run, files=_files_summary(file_ops),
                 rows=[o.describe().rstrip("\n") for o in row_ops], tables=tables, notes=notes)
    res.notes += [f"kept {o.path}: {o.reason}" for o in file_ops if o.action == "conflict"]
    res.diff = _diff(file_ops, row_ops, tables, drop=True)
    if dry_run:
        if store is not None:
            store.close()
        return res
    changing = [o for o in file_ops if o.changes]
    units = [Path(o.path).name for o in changing if o.path.startswith("/etc/systemd/system/") and o.action == "delete"]
    if units:  # stop fsguard's services before their files go
        res.steps += [vars(s) for s in live.systemd(t, units, enable=False)]
    if any(o.path.startswith("/etc/fail2ban/") for o in changing):
        # fail2ban's jails still write to fsguard's tables (unbans): release them before those go
        res.steps += [vars(s) for s in f2bhost.release(t)]
    journal = FileJournal(t.r)
    try:
        with store.transaction() if store is not None else contextlib.nullcontext():
            if store is not None:
                for rop in row_ops:
                    rows.apply(store, rop)
                for name in tables:
                    store.execute(f"drop table if exists {rows._ident(name)}")
            for fop in changing:
                journal.apply(fop)
    except BaseException:
        journal.rollback()
        raise
    finally:
        if store is not None:
            store.close()
    # Committed: files fsguard's service wrote at run time (its own names only), the bookkeeping
    # (backups, manifest) and the directories fsguard made.
    for runtime in RUNTIME_FILES:
        p = t.r(runtime)
        if p.is_file():
            p.unlink()
            res.notes.append(f"removed {runtime} (written by the fsguard service)")
    # fail2ban imports action.d/fsguard_action.py, and Python caches it next to it as root
    pycache = t.r("/etc/fail2ban/action.d/__pycache__")
    for pyc in sorted(pycache.glob("fsguard*.pyc")) if pycache.is_dir() else []:
        pyc.unlink(missing_ok=True)
        res.notes.append(f"removed /etc/fail2ban/action.d/__pycache__/{pyc.name} (fail2ban's compiled copy)")
    with contextlib.suppress(OSError):  # only when nothing else is cached there
        pycache.rmdir()
    state = t.r(STATE_DIR)
    if STATE_DIR in manifest.data["dirs"] and not keep_data:
        shutil.rmtree(state, ignore_errors=True)
    else:
        shutil.rmtree(backups, ignore_errors=True)
        manifest.path.unlink(missing_ok=True)
    remove_dirs(manifest.data["dirs"], t.r)
    res.changed = True
    _after(t, res, changing, bool(row_ops), want_auth_logging=manifest.data.get("auth_logging_before"))
    return res


def render(root: str | Path, *, kind: str = "") -> Result:
    """Write every file install would write into ``root``: detected there, else for this host, else
    for a default Debian layout of ``kind`` (FusionPBX or plain FreeSWITCH). No manifest, no rows."""
    dest = Path(root)
    try:
        t = detect(dest)
    except PreflightError:
        try:
            t = detect("/")
        except PreflightError:
            t = default_target(kind or "freeswitch")
        t.root = dest
    desired, notes, _cfg = _desired(t)
    res = Result("render", t.kind, str(dest), notes=notes)
    for d in desired:
        real = t.r(d.path)
        if d.kind == "edit" and d.edit is not None and real.exists():
            data = d.edit(real.read_bytes())
        else:
            data = d.content
        safefs.write_file(real, data, d.mode, create_dirs=True)  # no symlink followed, mode on the fd
        res.files.append({"path": d.path, "action": "rendered", "reason": ""})
    res.changed = True
    return res


def default_target(kind: str) -> Target:
    conf, scripts, logs, mods = FS_LAYOUTS[0]
    t = Target(Path("/"), kind, conf, scripts, logs + "/freeswitch.log", mods)
    if kind == "fusionpbx":
        t.fusion_config, t.web_root = "/etc/fusionpbx/config.conf", "/var/www/fusionpbx"
        t.db = {"host": "127.0.0.1", "port": "5432", "dbname": "fusionpbx", "user": "fusionpbx", "password": ""}
    return t
