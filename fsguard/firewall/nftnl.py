"""Minimal nf_tables netlink client for single set elements (the dynamic-ban fast path).

Why not ``nft add element``: nftables 1.0.6 fills its cache with the elements of every interval
set in the ruleset before any ``add element``; with a 200k-element country or feed set that is
~3 s per ban (measured, see ARCHITECTURE.md). The kernel itself adds an element in microseconds,
so bans talk to it directly: one NEWSETELEM/DELSETELEM batch or one GETSETELEM request over a
NETLINK_NETFILTER socket. Only what bans need is implemented; anything unexpected raises
:class:`NetlinkError` and the caller falls back to the ``nft`` command.

Network namespaces: a netlink socket belongs to the namespace it was created in, so the socket
is created by a short-lived thread that first joins ``/run/netns/NAME`` with setns(2) (a
per-thread operation; the rest of the process is unaffected).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import itertools
import os
import socket
import struct
import threading
from collections.abc import Iterator

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWSETELEM, NFT_MSG_GETSETELEM, NFT_MSG_DELSETELEM = 12, 13, 14
NFPROTO_INET = 1
NLA_F_NESTED = 0x8000
# attribute numbers from linux/netfilter/nf_tables.h
LIST_TABLE, LIST_SET, LIST_ELEMENTS = 1, 2, 3
LIST_ELEM = 1
ELEM_KEY, ELEM_TIMEOUT = 1, 4
DATA_VALUE = 1
CLONE_NEWNET = 0x40000000

_seq = itertools.count(int.from_bytes(os.urandom(2), "big"))


class NetlinkError(OSError):
    """The kernel refused the request (``errno`` set) or the socket could not be used."""


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _nested(kind: int, *parts: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(parts))


def _msg(msg_type: int, flags: int, family: int, res_id: int, payload: bytes) -> tuple[int, bytes]:
    seq = next(_seq) & 0xFFFFFFFF
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + payload
    return seq, struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0) + body


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    # find_library runs ldconfig in a subprocess: look it up once, and try the usual name first
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL("libc.so.6", use_errno=True))
        except OSError:
            _LIBC.append(ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True))
    return _LIBC[0]


def _open(netns: str | None) -> socket.socket:
    if netns is None:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    box: dict[str, object] = {}

    def inside() -> None:
        try:
            libc = _libc()
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise NetlinkError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        except OSError as exc:  # includes NetlinkError
            box["err"] = exc

    t = threading.Thread(target=inside, name="fsguard-setns", daemon=True)
    t.start()
    t.join()
    if "err" in box:
        err = box["err"]
        raise NetlinkError(getattr(err, "errno", None) or errno.EIO, str(err))
    sock = box["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def _elements_payload(table: str, set_name: str, key: bytes, timeout_ms: int | None) -> bytes:
    elem = [_nested(ELEM_KEY, _attr(DATA_VALUE, key))]
    if timeout_ms:
        elem.append(_attr(ELEM_TIMEOUT, struct.pack(">Q", timeout_ms)))
    return (
        _attr(LIST_TABLE, table.encode() + b"\0")
        + _attr(LIST_SET, set_name.encode() + b"\0")
        + _nested(LIST_ELEMENTS, _nested(LIST_ELEM, *elem))
    )


def _replies(data: bytes) -> Iterator[tuple[int, int, int | None]]:
    """The netlink messages in one recv(): (type, sequence, error code or None)."""
    off = 0
    while off + 16 <= len(data):
        length, mtype, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            raise NetlinkError(errno.EPROTO, "malformed netlink reply")
        code = struct.unpack_from("=i", data, off + 16)[0] if mtype == NLMSG_ERROR else None
        yield mtype, seq, code
        off += (length + 3) & ~3


def _acks(sock: socket.socket, seqs: set[int]) -> None:
    """Read until every sequence number got its ACK; raise on the first error."""
    pending = set(seqs)
    while pending:
        for _mtype, seq, code in _replies(sock.recv(65536)):
            if code is not None:
                pending.discard(seq)
                if code != 0:
                    raise NetlinkError(-code, os.strerror(-code))


def setelem(
    op: str, table: str, set_name: str, key: bytes, *, timeout_ms: int | None = None, netns: str | None = None
) -> None:
    """``op``: "add" (fails with EEXIST if present), "replace" (delete + add), "delete"."""
    payload_add = _elements_payload(table, set_name, key, timeout_ms)
    payload_del = _elements_payload(table, set_name, key, None)
    sub = NFNL_SUBSYS_NFTABLES << 8
    msgs = [_msg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES, b"")]
    if op in ("delete", "replace"):
        msgs.append(_msg(sub | NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, NFPROTO_INET, 0, payload_del))
    if op in ("add", "replace"):
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        msgs.append(_msg(sub | NFT_MSG_NEWSETELEM, flags, NFPROTO_INET, 0, payload_add))
    msgs.append(_msg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES, b""))
    sock = _open(netns)
    try:
        sock.settimeout(5)
        sock.sendall(b"".join(m for _, m in msgs))
        _acks(sock, {s for s, _ in msgs[1:-1]})
    except TimeoutError:
        raise NetlinkError(errno.ETIMEDOUT, "no answer from nf_tables") from None
    finally:
        sock.close()


def has_element(table: str, set_name: str, key: bytes, *, netns: str | None = None) -> bool:
    payload = _elements_payload(table, set_name, key, None)
    seq, msg = _msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_ACK, NFPROTO_INET, 0,
                    payload)
    sock = _open(netns)
    try:
        sock.settimeout(5)
        sock.sendall(msg)
        found = False
        while True:
            for mtype, rseq, code in _replies(sock.recv(65536)):
                if rseq != seq:
                    continue
                if code is not None:
                    if code == 0:
                        return found
                    if -code == errno.ENOENT:
                        return False
                    raise NetlinkError(-code, os.strerror(-code))
                if mtype == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM):
                    found = True
    except TimeoutError:
        raise NetlinkError(errno.ETIMEDOUT, "no answer from nf_tables") from None
    finally:
        sock.close()
