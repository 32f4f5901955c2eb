"""fsguard's one configuration file and its one state directory.

``/etc/fsguard/fsguard.conf`` (INI; ``FSGUARD_CONFIG`` points elsewhere, which the tests and the
drill use). Each area reads its own section through :meth:`Config.get` and friends and keeps its
own defaults next to its code, so this module stays small.

Loaded inside FreeSWITCH too: standard library only, no network, no database.
"""

from __future__ import annotations

import configparser
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path("/etc/fsguard/fsguard.conf")
DEFAULT_STATE_DIR = Path("/var/lib/fsguard")
ENV_PATH = "FSGUARD_CONFIG"


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
        return Path(self.get("fsguard", "state_dir", str(DEFAULT_STATE_DIR)))

    @property
    def event_token(self) -> str:
        """The secret in every event line (see eventline). Empty means "not installed yet"."""
        return self.get("fsguard", "event_token", "")

    @property
    def store_kind(self) -> str:
        kind = self.get("store", "kind", "sqlite")
        if kind not in ("sqlite", "pgsql"):
            raise ConfigError(f"[store] kind: must be sqlite or pgsql, not {kind!r}")
        return kind


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
    return secrets.token_hex(12)
