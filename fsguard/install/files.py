"""Files fsguard installs, tracked by hash (certbot's way): never overwrite an operator's edit.

Two kinds of file:
- ``owned``: the whole file is fsguard's (its own names only); uninstall deletes it.
- ``edit``: a file fsguard does not own but must change (python.conf.xml when it exists); the
  original bytes are kept in the state dir and uninstall puts them back byte-identical. The new
  content is always computed from the *original*, so a second run computes the same bytes.

The manifest (``<state_dir>/install-manifest.json``) records each file's sha256 as written.
A file whose current hash differs from the manifest was edited by the operator: install and
uninstall refuse to touch it unless forced.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsguard import safefs

MANIFEST_NAME = "install-manifest.json"


# What fsguard's reversible edits insert: whole elements ending in this marker (sources.MARK).
_MARKED = re.compile(rb"\n[ \t]*<settings><!-- fsguard -->\n[^\n]*<!-- fsguard -->\n[ \t]*</settings>"
                     rb"|\n[ \t]*<[^\n<>]*/><!-- fsguard -->")


def strip_marks(data: bytes) -> bytes:
    return _MARKED.sub(b"", data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Desired:
    """A file fsguard wants at ``path`` (host path). ``edit`` computes new bytes from the original."""

    path: str
    content: bytes = b""
    kind: str = "owned"  # owned | edit
    mode: int = 0o644
    edit: Callable[[bytes], bytes] | None = None
    source: str = ""
    group_of: str = ""  # host path whose group the file gets (config readable by FreeSWITCH's user)


@dataclass
class FileOp:
    path: str
    action: str  # create | update | edit | delete | restore | unchanged | conflict
    old: bytes | None
    new: bytes | None
    kind: str = "owned"
    mode: int = 0o644
    reason: str = ""
    original: bytes | None = None  # for edits: the bytes before fsguard touched the file
    group_of: str = ""
    source: str = ""

    @property
    def changes(self) -> bool:
        return self.action not in ("unchanged", "conflict")

    def diff(self) -> str:
        if self.action == "conflict":
            return f"! {self.path}: {self.reason}\n"
        if self.action == "adopt":
            return f"= {self.path}: already fsguard's content, tracked from now on\n"
        old = (self.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (self.new or b"").decode("utf-8", "replace").splitlines(keepends=True)
        a = "/dev/null" if self.old is None else f"a{self.path}"
        b = "/dev/null" if self.new is None else f"b{self.path}"
        text = "".join(difflib.unified_diff(old, new, a, b))
        return text if text.endswith("\n") or not text else text + "\n\\ No newline at end of file\n"


class ManifestRefused(OSError):
    """The manifest or a backup is not root's own, or names something fsguard does not ship."""


BACKUP_NAME = re.compile(r"[0-9a-f]{64}\.orig")


def read_backup(backups: Path, name: object) -> bytes:
    """An edit's original bytes: root's own file, named by (and matching) its sha256."""
    if not isinstance(name, str) or not BACKUP_NAME.fullmatch(name):
        raise ManifestRefused(f"install manifest names a backup {str(name)[:80]!r}: not one fsguard writes")
    data = safefs.read_file(backups / name, MAX_FILE, owner_root=os.geteuid() == 0)
    if sha256(data) + ".orig" != name:
        raise ManifestRefused(f"{backups / name}: content does not match its hash: refused")
    return data


@dataclass
class Manifest:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> Manifest:
        p = state_dir / MANIFEST_NAME
        try:
            # root's own file only: an older install kept it in a directory www-data could write
            data = json.loads(safefs.read_file(p, MAX_FILE, owner_root=os.geteuid() == 0))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise ManifestRefused(f"{p}: install manifest refused: {exc}. If fsguard was installed here, check "
                                  "what changed, then remove the file and run `fsguard install` again") from None
        if not isinstance(data, dict):
            raise ManifestRefused(f"{p}: install manifest refused: not a JSON object")
        data.setdefault("version", 1)
        data.setdefault("files", {})
        data.setdefault("dirs", [])
        data.setdefault("rows", [])
        data.setdefault("tables_created", [])
        return cls(p, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]  # type: ignore[no-any-return]

    def dump(self) -> bytes:
        return (json.dumps(self.data, indent=1, sort_keys=True) + "\n").encode()


MAX_FILE = 64 << 20  # no file fsguard installs or edits comes near this


def _read(p: Path) -> bytes | None:
    """Current bytes at ``p`` (never through a symlink another user planted), None when absent."""
    try:
        return safefs.read_file(p, MAX_FILE)
    except FileNotFoundError:
        return None


def plan_install(desired: list[Desired], manifest: Manifest, real: Callable[[str], Path],
                 backups: Path, *, force: bool = False) -> list[FileOp]:
    ops: list[FileOp] = []
    wanted = {d.path for d in desired}
    for d in desired:
        cur = _read(real(d.path))
        rec = manifest.files.get(d.path)
        edited = rec is not None and cur is not None and sha256(cur) != rec["sha256"]
        if d.kind == "edit" and d.content and (rec.get("kind") == "owned" if rec else cur in (None, d.content)):
            # An edit target that did not exist: fsguard creates (and later removes) the whole file.
            d = Desired(d.path, d.content, "owned", d.mode, source=d.source, group_of=d.group_of)
        if d.kind == "edit":
            assert d.edit is not None
            original: bytes | None
            if rec is not None and rec.get("original_backup"):
                original = read_backup(backups, rec["original_backup"])
            else:
                # Not in the manifest: an interrupted earlier run may have left fsguard's marked
                # lines in it; the original is the file without them.
                original = strip_marks(cur) if rec is None and cur is not None else None
            if original is None:
                new = d.edit(b"")
            else:
                new = d.edit(original)
            mode = real(d.path).stat().st_mode & 0o7777 if cur is not None else d.mode
            if edited and cur is not None and d.edit(cur) == cur:
                # The operator changed the file since, but fsguard's change is still in it: fine.
                ops.append(FileOp(d.path, "unchanged", cur, cur, "edit", mode, original=original))
            elif edited and not force:
                ops.append(FileOp(d.path, "conflict", cur, new, "edit", mode,
                                  "changed since fsguard edited it; not touched (use --force)", original))
            elif cur == new and rec is None and original is not None and original != cur:
                # fsguard's marked change is already in it but untracked (a killed run): adopt it
                # with the original recovered, so uninstall restores that.
                ops.append(FileOp(d.path, "adopt", cur, new, "edit", mode, original=original))
            elif cur == new:
                ops.append(FileOp(d.path, "unchanged", cur, new, "edit", mode, original=original))
            else:
                ops.append(FileOp(d.path, "edit", cur, new, "edit", mode, original=original))
            continue
        if d.kind == "seed":
            # Written once (the config file): the operator owns its contents from then on.
            action = "create" if cur is None else "adopt" if rec is None and cur == d.content else "unchanged"
            ops.append(FileOp(d.path, action, cur, d.content if cur is None else cur, "seed", d.mode,
                              group_of=d.group_of))
            continue
        if cur == d.content:
            # Identical but untracked (a run killed before it wrote the manifest): adopt it, so
            # uninstall removes it too.
            ops.append(FileOp(d.path, "unchanged" if rec is not None else "adopt", cur, d.content, "owned", d.mode))
        elif cur is None:
            ops.append(FileOp(d.path, "create", None, d.content, "owned", d.mode, group_of=d.group_of))
        elif rec is None and not force:
            ops.append(FileOp(d.path, "conflict", cur, d.content, "owned", d.mode,
                              "exists and was not written by fsguard; not overwritten (use --force)"))
        elif edited and not force:
            ops.append(FileOp(d.path, "conflict", cur, d.content, "owned", d.mode,
                              "edited by the operator since fsguard wrote it; not overwritten (use --force)"))
        else:
            ops.append(FileOp(d.path, "update", cur, d.content, "owned", d.mode))
    by_path = {d.path: d.source for d in desired}
    for op in ops:
        op.source = by_path.get(op.path, "")
    # Files an earlier version installed that this one no longer ships.
    for path, rec in sorted(manifest.files.items()):
        if path in wanted:
            continue
        ops.append(_removal(path, rec, real, backups, force))
    return ops


def _removal(path: str, rec: dict[str, Any], real: Callable[[str], Path], backups: Path, force: bool) -> FileOp:
    cur = _read(real(path))
    if cur is not None and sha256(cur) != rec["sha256"] and not force:
        return FileOp(path, "conflict", cur, cur, rec.get("kind", "owned"), reason=(
            "edited by the operator since fsguard wrote it; left as it is (use --force)"))
    if rec.get("kind") == "edit" and rec.get("original_backup"):
        orig = read_backup(backups, rec["original_backup"])
        # never a set-id or executable bit back from the manifest: edits are config files
        return FileOp(path, "restore", cur, orig, "edit", int(rec.get("original_mode", 0o644)) & 0o666)
    if cur is None:
        return FileOp(path, "unchanged", None, None, rec.get("kind", "owned"))
    return FileOp(path, "delete", cur, None, rec.get("kind", "owned"))


def plan_uninstall(manifest: Manifest, real: Callable[[str], Path], backups: Path, *,
                   force: bool = False) -> list[FileOp]:
    return [_removal(p, r, real, backups, force) for p, r in sorted(manifest.files.items())]


class FileJournal:
    """Applies file ops and remembers how to undo every one of them (the files half of the unit)."""

    def __init__(self, real: Callable[[str], Path]) -> None:
        self.real = real
        self.undo: list[tuple[Path, bytes | None, int | None]] = []
        self.made_dirs: list[Path] = []
        self.owners: dict[Path, tuple[int, int]] = {}  # rollback gives a replaced file its owner back

    def _mkdirs(self, d: Path) -> None:
        made: list[str] = []
        with safefs.dir_fd(d, create=True, made=made):
            pass
        self.made_dirs += [Path(m) for m in made]

    def write(self, path: Path, data: bytes, mode: int, gid: int | None = None) -> None:
        # Through safefs: the directories here may belong to www-data (the scripts dir, FreeSWITCH's
        # conf dir), so no fixed temp name, no symlink followed, mode and owner set on the fd.
        old = _read(path)
        st = os.lstat(path) if old is not None else None
        old_mode = st.st_mode & 0o7777 if st is not None else None
        self._mkdirs(path.parent)
        self.undo.append((path, old, old_mode))
        if st is not None:  # a replaced file keeps its owner; a new one may get FreeSWITCH's group
            self.owners.setdefault(path, (st.st_uid, st.st_gid))
            safefs.write_file(path, data, mode, uid=st.st_uid, gid=st.st_gid)
        else:
            safefs.write_file(path, data, mode, uid=0, gid=gid if gid is not None else 0)

    def remove(self, path: Path) -> None:
        old = _read(path)
        if old is None:
            return
        st = os.lstat(path)
        self.undo.append((path, old, st.st_mode & 0o7777))
        self.owners.setdefault(path, (st.st_uid, st.st_gid))
        safefs.unlink(path)

    def apply(self, op: FileOp) -> None:
        p = self.real(op.path)
        if op.action in ("create", "update", "edit", "restore"):
            assert op.new is not None
            gid = None
            if op.group_of and self.real(op.group_of).exists():
                gid = self.real(op.group_of).stat().st_gid
            self.write(p, op.new, op.mode, gid)
        elif op.action == "delete":
            self.remove(p)

    def rollback(self) -> None:
        for path, old, mode in reversed(self.undo):
            if old is None:
                safefs.unlink(path)
            else:
                uid, gid = self.owners.get(path, (0, 0))
                safefs.write_file(path, old, mode if mode is not None else 0o644, uid=uid, gid=gid)
        for d in reversed(self.made_dirs):
            shutil.rmtree(d / "__pycache__", ignore_errors=True)
            try:
                d.rmdir()
            except OSError:
                pass
        self.undo.clear()
        self.made_dirs.clear()


def remove_dirs(dirs: list[str], real: Callable[[str], Path]) -> None:
    """Remove directories fsguard created, deepest first, when nothing but caches are left in them."""
    for d in sorted(dirs, key=lambda s: s.count("/"), reverse=True):
        p = real(d)
        shutil.rmtree(p / "__pycache__", ignore_errors=True)
        try:
            p.rmdir()
        except OSError:
            pass
