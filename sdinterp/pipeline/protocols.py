"""Looking up a pair protocol by name (``docs/method.md`` §2). The built-in protocols are plugins
(``sdinterp.plugins.protocols``), registered exactly as a third party's would be."""

from __future__ import annotations

from sdinterp.interfaces import PairProtocol
from sdinterp.plugin_manager import get_registry

__all__ = ["get_protocol", "protocol_names"]


def get_protocol(protocol: str | PairProtocol) -> PairProtocol:
    """A protocol object from a registered name or a PairProtocol instance."""
    return get_registry().instance("protocol", protocol, PairProtocol)


def protocol_names() -> list[str]:
    """The names of every registered protocol."""
    return get_registry().names("protocol")
