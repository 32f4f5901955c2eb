"""The one place a firewall backend is chosen: ``[firewall] backend`` -> its class.

Adding a backend = one module with a :class:`fsguard.firewall.backend.Backend` subclass + one line
here. Classes are imported on first use, so choosing a backend loads only that backend's module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fsguard.firewall import FirewallError

if TYPE_CHECKING:
    from fs_python.config import Config
    from fsguard.firewall.backend import Backend

DEFAULT = "nftables"
BACKENDS: dict[str, str] = {
    "nftables": "fsguard.firewall.nft:NftBackend",
    "iptables": "fsguard.firewall.ipt:IptBackend",
    "dry-run": "fsguard.firewall.dryrun:DryRunBackend",
}


def backend_name(cfg: Config) -> str:
    from fs_python.config import ConfigError
    from fsguard import settings  # here: settings takes the backend choices from this module

    try:
        return settings.FIREWALL_BACKEND.get(cfg)
    except ConfigError as exc:
        raise FirewallError(str(exc)) from None


def create(name: str, cfg: Config) -> Backend:
    """The backend called ``name`` (one of :data:`BACKENDS`), configured by ``cfg``."""
    if name not in BACKENDS:
        raise FirewallError(f"unknown firewall backend {name!r}: one of {', '.join(BACKENDS)}")
    module, _, cls = BACKENDS[name].partition(":")
    backend: Backend = getattr(importlib.import_module(module), cls)(cfg)
    return backend


def get(cfg: Config) -> Backend:
    """The configured backend (``[firewall] backend``)."""
    return create(backend_name(cfg), cfg)
