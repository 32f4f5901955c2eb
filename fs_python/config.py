"""fsguard's one configuration file and its one state directory.

``/etc/fsguard/fsguard.conf`` (INI; ``FSGUARD_CONFIG`` points elsewhere, which the tests and the
drill use). Every setting is declared once as a :class:`Setting` (section, key, type, default,
one-line doc) and read through its typed ``get(cfg)``. The few keys code inside FreeSWITCH reads
are declared here; the product's are in ``fsguard/settings.py``, which uses the same mechanism
(this module must not import fsguard). ``fsguard config show|test`` walk :data:`SETTINGS`.

Loaded inside FreeSWITCH too: standard library only, no network, no database.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TYPE_CHECKING = False  # not from typing: see Generic below

DEFAULT_PATH = Path("/etc/fsguard/fsguard.conf")
DEFAULT_STATE_DIR = Path("/var/lib/fsguard")
ENV_PATH = "FSGUARD_CONFIG"
FS_SUBDIR = "fs"


class ConfigError(Exception):
    """The configuration file is unreadable or a value is invalid."""


@dataclass
class Config:
    path: Path
    parser: configparser.ConfigParser

    def get(self, section: str, key: str, fallback: str = "") -> str:
        return self.parser.get(section, key, fallback=fallback).strip()

    def get_bool(self, section: str, key: str, fallback: bool = False) -> bool:
        raw = self.get(section, key, "")
        if raw == "":
            return fallback
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"[{section}] {key}: not a boolean: {raw!r}")

    def get_int(self, section: str, key: str, fallback: int) -> int:
        raw = self.get(section, key, "")
        if raw == "":
            return fallback
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"[{section}] {key}: not a whole number: {raw!r}") from None

    def get_list(self, section: str, key: str, fallback: tuple[str, ...] = ()) -> list[str]:
        raw = self.get(section, key, "")
        if raw == "":
            return list(fallback)
        return [p for p in raw.replace(",", " ").split() if p]

    @property
    def state_dir(self) -> Path:
        return Path(STATE_DIR.get(self))

    @property
    def fs_dir(self) -> Path:
        """FreeSWITCH's one writable place inside the state dir (its registrations snapshot):
        the state dir itself is root's only."""
        return self.state_dir / FS_SUBDIR

    @property
    def event_token(self) -> str:
        """The secret in every event line (see eventline). Empty means "not installed yet"."""
        return EVENT_TOKEN.get(self)

    def event_tokens(self, now: float) -> tuple[str, ...]:
        """Tokens whose lines count: the current one, plus the previous one until
        ``event_token_previous_until`` (``fsguard token rotate``: lines FreeSWITCH wrote before it
        re-read this file still count, for a bounded grace period only)."""
        cur = self.event_token
        prev = EVENT_TOKEN_PREVIOUS.get(self)
        try:
            until = EVENT_TOKEN_PREVIOUS_UNTIL.get(self)
        except ConfigError:
            until = 0.0
        tokens = (cur,) if cur else ()
        return tokens + (prev,) if prev and prev != cur and now < until else tokens

    @property
    def store_kind(self) -> str:
        return STORE_KIND.get(self)


if TYPE_CHECKING:
    from typing import Any, Generic, TypeVar

    T = TypeVar("T")
else:  # typing costs ~1/4 of an interpreter start, and `fsguard ignore-check` runs per failure

    class Generic:
        def __class_getitem__(cls, item: object) -> type:
            return cls

    T = None


class Setting(Generic[T]):
    """One declared setting: ``[section] key``, its type (the parser), default and one-line doc.

    ``get(cfg)`` returns the typed value: the default when the key is absent or empty, else the
    parsed text; a bad value raises :class:`ConfigError` naming the section and key. With
    ``empty_off`` a key written empty (``key =``) means "none" (``""``), not the default: for paths
    whose default is a host path, so ``jail_dir =`` really writes nothing."""

    def __init__(self, section: str, key: str, default: T, doc: str, parse: Callable[[str], T], kind: str,
                 *, secret: bool = False, choices: tuple[str, ...] = (), empty_off: bool = False) -> None:
        self.section, self.key, self.default, self.doc = section, key, default, doc
        self.parse, self.kind, self.secret, self.choices = parse, kind, secret, choices
        self.empty_off = empty_off
        SETTINGS[(section, key)] = self

    @property
    def name(self) -> str:
        return f"[{self.section}] {self.key}"

    def get(self, cfg: Config) -> T:
        raw = cfg.get(self.section, self.key, "")
        if raw == "":
            if self.empty_off and cfg.parser.has_option(self.section, self.key):
                return self.parse(raw)
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None


SETTINGS: dict[tuple[str, str], Setting[Any]] = {}  # every declared setting, in declaration order


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean (yes/no): {raw[:40]!r}")


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"not a whole number: {raw[:40]!r}") from None


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"not a number: {raw[:40]!r}") from None


def _words(raw: str) -> tuple[str, ...]:
    return tuple(p for p in raw.replace(",", " ").split() if p)


def text(section: str, key: str, default: str, doc: str, *, secret: bool = False,
         choices: tuple[str, ...] = (), empty_off: bool = False) -> Setting[str]:
    def parse(raw: str) -> str:
        if choices and raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {raw[:40]!r}")
        return raw

    return Setting(section, key, default, doc, parse, "choice" if choices else "text", secret=secret, choices=choices,
                   empty_off=empty_off)


def integer(section: str, key: str, default: int, doc: str) -> Setting[int]:
    return Setting(section, key, default, doc, _int, "int")


def number(section: str, key: str, default: float, doc: str) -> Setting[float]:
    return Setting(section, key, default, doc, _float, "float")


def boolean(section: str, key: str, default: bool, doc: str) -> Setting[bool]:
    return Setting(section, key, default, doc, _bool, "bool")


def words(section: str, key: str, default: tuple[str, ...], doc: str) -> Setting[tuple[str, ...]]:
    return Setting(section, key, default, doc, _words, "list")


# -- the keys code inside FreeSWITCH reads (and the store kind, which Config.store_kind checks) ----
STATE_DIR = text("fsguard", "state_dir", str(DEFAULT_STATE_DIR), "fsguard's state directory (snapshots, caches)")
EVENT_TOKEN = text("fsguard", "event_token", "", "secret in every event line; empty = not installed yet",
                   secret=True)
EVENT_TOKEN_PREVIOUS = text("fsguard", "event_token_previous", "", "the token before `fsguard token rotate`",
                            secret=True)
EVENT_TOKEN_PREVIOUS_UNTIL = number("fsguard", "event_token_previous_until", 0.0,
                                    "until when (epoch) lines with the previous token still count")
STORE_KIND = text("store", "kind", "sqlite", "where evidence and lists live", choices=("sqlite", "pgsql"))
SERVED_DOMAINS = words("fs_python", "served_domains", (), "SIP domains this PBX serves (others are scans)")
EVENT_QUEUE_LEN = integer("fs_python", "event_queue_len", 100_000, "events the monitor buffers while busy")
LITERAL_WAIT = number("fs_python", "literal_wait", 4.0, "seconds a challenged REGISTER may take to answer "
                      "before its address counts as a scanner (0-30)")
CARRIER_PROFILES = words("fs_python", "carrier_profiles", ("external",),
                         "sofia profiles where only carriers may call (FusionPBX's external: auth-calls + "
                         "apply-inbound-acl=providers): a challenge there from an untrusted address is a scan")
SCANNER_AGENTS = words("fs_python", "scanner_agents", (),
                       "User-Agent substrings counted as scanners, added to fsguard's own list")
FUSIONPBX_404_LINE = boolean("fs_python", "fusionpbx_404_line", False,
                             "log a not-found line for FusionPBX's own 404 dialplan too")


def config_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH)


def load(path: Path | str | None = None) -> Config:
    """Read the config file; a missing file gives an all-defaults config."""
    p = Path(path) if path is not None else config_path()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(p, encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"{p}: {exc}") from None
    return Config(p, parser)


def new_token() -> str:
    import secrets  # only the installer needs it: kept out of every config load

    return secrets.token_hex(12)
