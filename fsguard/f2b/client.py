"""Talking to the running fail2ban-server.

Through fail2ban's own socket protocol (``fail2ban.client.csocket``, in Debian's dist-packages)
when importable, so a sync costs no fork; otherwise (an interpreter without Debian's
dist-packages, e.g. a development venv) through the system interpreter that fail2ban itself runs
on, which answers with the same structured value as JSON (argument lists, never a shell; parsing
``fail2ban-client``'s tree-drawn text would be guesswork). Either way a command is
``["set", jail, "addignoreip", ip, ...]`` etc.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = "/var/run/fail2ban/fail2ban.sock"
SYSTEM_PYTHON = "/usr/bin/python3"
# Run by the system interpreter: one command over fail2ban's socket, the answer as JSON.
_RELAY = """
import json, sys
from fail2ban.client.csocket import CSocket
try:
    sock = CSocket(sys.argv[1], timeout=float(sys.argv[2]))
except Exception as exc:
    print(json.dumps({"unreachable": str(exc)})); sys.exit(0)
try:
    ret = sock.send(json.loads(sys.argv[3]))
except Exception as exc:
    print(json.dumps({"error": str(exc)})); sys.exit(0)
code, value = ret if isinstance(ret, (list, tuple)) and len(ret) == 2 else (1, ret)
print(json.dumps({"code": code, "value": value}, default=str))
"""


class Fail2banError(Exception):
    """fail2ban-server is not reachable or refused a command."""


class Client:
    def __init__(self, socket_path: str | Path = DEFAULT_SOCKET, *, timeout: float = 10.0) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def send(self, cmd: list[str]) -> Any:
        try:
            from fail2ban.client.csocket import CSocket
        except ImportError:
            return self._send_cli(cmd)
        try:
            sock = CSocket(self.socket_path, timeout=self.timeout)
        except Exception as exc:
            raise Fail2banError(f"fail2ban-server not reachable at {self.socket_path}: {exc}") from None
        try:
            ret = sock.send(cmd)
        except Exception as exc:
            raise Fail2banError(f"fail2ban {cmd[:3]}: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # closing a broken socket: nothing more to do
                sock.close()
        code, value = ret if isinstance(ret, (list, tuple)) and len(ret) == 2 else (1, ret)
        if code != 0:
            raise Fail2banError(f"fail2ban {cmd[:3]}: {value}")
        return value

    def _send_cli(self, cmd: list[str]) -> Any:
        try:
            proc = subprocess.run([SYSTEM_PYTHON, "-I", "-c", _RELAY, self.socket_path, str(self.timeout),
                                   json.dumps(cmd)], capture_output=True, text=True, timeout=self.timeout * 3)
            answer = json.loads(proc.stdout)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise Fail2banError(f"fail2ban {cmd[:3]}: no answer through {SYSTEM_PYTHON}: {exc}") from None
        if "unreachable" in answer:
            raise Fail2banError(f"fail2ban-server not reachable at {self.socket_path}: {answer['unreachable']}")
        if "error" in answer:
            raise Fail2banError(f"fail2ban {cmd[:3]}: {answer['error']}")
        if answer.get("code") != 0:
            raise Fail2banError(f"fail2ban {cmd[:3]}: {answer.get('value')}")
        return answer.get("value")

    # -- helpers -----------------------------------------------------------------------------
    def jails(self) -> list[str]:
        value = self.send(["status"])
        if isinstance(value, list):
            for key, val in value:
                if key == "Jail list":
                    return [j.strip() for j in str(val).split(",") if j.strip()]
        return []

    def ignore_list(self, jail: str) -> list[str]:
        value = self.send(["get", jail, "ignoreip"])
        return [str(v) for v in value] if isinstance(value, list) else []

    def banned(self, jail: str) -> list[str]:
        value = self.send(["get", jail, "banned"])
        return [str(v) for v in value] if isinstance(value, list) else []

    def is_banned(self, jail: str, ip: str) -> bool:
        value = self.send(["get", jail, "banned", ip])
        return bool(value) and value not in (0, "0")

    def add_ignore(self, jail: str, ips: list[str]) -> None:
        for i in range(0, len(ips), 500):
            self.send(["set", jail, "addignoreip", *ips[i:i + 500]])

    def del_ignore(self, jail: str, ips: list[str]) -> None:
        # fail2ban 1.0.2 reads only the first address of a delignoreip command: one per command
        # (no fork either way over the socket)
        for ip in ips:
            self.send(["set", jail, "delignoreip", ip])

    def unban(self, jail: str, ip: str) -> bool:
        value = self.send(["set", jail, "unbanip", ip])
        return bool(value) and value not in (0, "0")

    def log_paths(self, jail: str) -> list[str]:
        value = self.send(["get", jail, "logpath"])
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_log_path(self, jail: str, path: str) -> None:
        # "tail": a log FreeSWITCH just created is read from its end, like fail2ban's own start
        self.send(["set", jail, "addlogpath", path, "tail"])
