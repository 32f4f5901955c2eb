"""File handling as root in a world where FreeSWITCH and www-data own directories we write into.

Every operation walks the path one component at a time from ``/`` with ``O_NOFOLLOW`` and then
acts on file descriptors: a symlink or a swapped directory planted by another user can never
redirect a create, chmod or chown. New files are written to a random ``O_EXCL`` temp name in the
final directory, ``fchmod``/``fchown``-ed on the fd and renamed over the target (``rename`` never
follows a symlink at the target name). A symlink *component* is followed only when it sits in a
directory only root can write (``/var/run -> /run``, usrmerge's ``/lib``): nobody else could have
planted it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class UnsafePath(OSError):
    """A path component is a symlink or a non-directory where another user could have put it."""


def others_can_write(st: os.stat_result) -> bool:
    """True when someone other than root can create or replace entries (or content) here."""
    return st.st_uid != 0 or bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _open_component(parent: int, name: str, create: bool, mode: int, made: list[str], here: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, mode, dir_fd=parent)
            made.append(here)
        except FileExistsError:
            pass
        return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode) and st.st_uid == 0 and not others_can_write(os.fstat(parent)):
            return os.open(name, _DIR_FLAGS, dir_fd=parent)  # root's own symlink in root's own dir
        raise UnsafePath(errno.ELOOP, f"{here}: a symlink or not a directory, refused (another user may have "
                                      "planted it)") from None


def open_dir(path: str | Path, *, create: bool = False, mode: int = 0o755,
             made: list[str] | None = None) -> int:
    """An fd for directory ``path`` (absolute), reached without following planted symlinks.
    ``create`` makes missing components (``mode``), listed in ``made``."""
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    made = made if made is not None else []
    fd = os.open("/", _DIR_FLAGS)
    here = ""
    try:
        for part in p.parts[1:]:
            if part in ("", "."):
                continue
            if part == "..":
                raise UnsafePath(errno.EINVAL, f"{p}: '..' in a path root acts on")
            here += "/" + part
            nxt = _open_component(fd, part, create, mode, made, here)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def dir_fd(path: str | Path, *, create: bool = False, mode: int = 0o755,
           made: list[str] | None = None) -> Iterator[int]:
    fd = open_dir(path, create=create, mode=mode, made=made)
    try:
        yield fd
    finally:
        os.close(fd)


def write_file(path: str | Path, data: bytes, mode: int = 0o644, *, uid: int | None = None,
               gid: int | None = None, create_dirs: bool = False, made: list[str] | None = None) -> None:
    """Atomically replace ``path`` with ``data``: O_EXCL temp file, fchmod/fchown, rename."""
    p = Path(path)
    with dir_fd(p.parent, create=create_dirs, made=made) as d:
        tmp = f".{p.name[:100]}.{secrets.token_hex(6)}.fsguard-tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=d)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchmod(fd, mode)
                if os.geteuid() == 0 and (uid is not None or gid is not None):
                    os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, p.name, src_dir_fd=d, dst_dir_fd=d)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=d)
            raise


def write_text(path: str | Path, text: str, mode: int = 0o644, **kw: object) -> None:
    write_file(path, text.encode("utf-8"), mode, **kw)  # type: ignore[arg-type]


def read_file(path: str | Path, limit: int, *, owner_root: bool = False) -> bytes:
    """The bytes of a regular file, opened without following a symlink, at most ``limit``
    (larger: ValueError). ``owner_root``: refuse a file another user owns or can write."""
    p = Path(path)
    with dir_fd(p.parent) as d:
        try:
            fd = os.open(p.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=d)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(errno.ELOOP, f"{p}: a symlink, refused") from None
            raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{p}: not a regular file, refused")
        if owner_root and others_can_write(st):
            raise UnsafePath(errno.EPERM, f"{p}: owned or writable by uid {st.st_uid} (mode "
                                          f"{st.st_mode & 0o7777:o}), not root's only: refused")
        if st.st_size > limit:
            raise ValueError(f"{p}: {st.st_size} bytes, more than the {limit} allowed, refused")
        chunks = []
        left = limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        data = b"".join(chunks)
        if len(data) > limit:
            raise ValueError(f"{p}: more than the {limit} bytes allowed, refused")
        return data
    finally:
        os.close(fd)


def unlink(path: str | Path, *, missing_ok: bool = True) -> bool:
    p = Path(path)
    try:
        with dir_fd(p.parent) as d:
            os.unlink(p.name, dir_fd=d)
        return True
    except FileNotFoundError:
        if not missing_ok:
            raise
        return False


def set_dir(path: str | Path, mode: int, uid: int = 0, gid: int = 0, *, create: bool = True,
            made: list[str] | None = None) -> None:
    """Make ``path`` a directory with exactly this owner and mode, through its fd."""
    with dir_fd(path, create=create, mode=0o755, made=made) as d:  # parents 0755, this one as asked
        if os.geteuid() == 0:
            os.fchown(d, uid, gid)
        os.fchmod(d, mode)


def exists(path: str | Path) -> bool:
    """lstat-based: True for anything at ``path`` (a dangling symlink too)."""
    try:
        os.lstat(path)
        return True
    except OSError:
        return False


def untrusted_parent(path: str | Path) -> str | None:
    """The first directory on the way to ``path`` (itself included, when it exists) that someone
    other than root can write, as "<dir> (uid N, mode M)"; None when root alone controls the chain.
    A sticky world-writable directory (/tmp) counts as writable by others."""
    p = Path(path)
    chain = [*reversed(p.parents), p]
    for d in chain:
        try:
            st = os.stat(d)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"{d} ({exc.strerror})"
        if others_can_write(st):
            return f"{d} (uid {st.st_uid}, mode {st.st_mode & 0o7777:o})"
    return None
