"""Registered two-stream components built by name: fusion modules and cross connections.

The fusion plugin registers the paper's modules (``gated``, ``convex_gated``, ``bidirectional``…)
and a third party may add more; any model code (the two-stream family, a user's own) builds them
through these functions, so it depends on the registry, not on the plugin that filled it.
"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["FUSION_KIND", "CROSS_KIND", "build_fusion", "build_cross", "component_names"]

#: Registry kind of fusion modules: ``factory(channels, **options)`` -> module with ``out_channels``.
FUSION_KIND = "fusion"
#: Registry kind of cross connections: ``factory(channels, **options)`` -> module.
CROSS_KIND = "cross"


def _bare(kind: str, name: str) -> str:
    prefix = f"{kind}:"
    return name[len(prefix) :] if name.startswith(prefix) else name


def build_fusion(name: str, channels: int, **options: Any) -> nn.Module:
    """A registered fusion module by name (``"gated"`` or ``"fusion:gated"``).

    Args:
        name: the registered name, optionally prefixed ``fusion:``.
        channels: c of each stream.
        **options: passed to the factory (e.g. ``reduction``).

    Raises:
        UnknownComponentError: listing the registered fusion names.

    Examples:
        >>> build_fusion("fusion:gated", 8).out_channels
        16
    """
    from sdinterp.plugin_manager import get_registry

    module = get_registry().create(FUSION_KIND, _bare(FUSION_KIND, name), channels=channels, **options)
    if not hasattr(module, "out_channels"):
        raise TypeError(
            f"fusion {name!r} built a {type(module).__name__} without out_channels; fusion modules must declare it"
        )
    return module


def build_cross(name: str, channels: int, **options: Any) -> nn.Module:
    """A registered cross connection by name (``"bidirectional"`` or ``"cross:bidirectional"``).

    Examples:
        >>> type(build_cross("cross:unidirectional_gated", 16)).__name__
        'CoAttentionCross'
    """
    from sdinterp.plugin_manager import get_registry

    return get_registry().create(CROSS_KIND, _bare(CROSS_KIND, name), channels=channels, **options)


def component_names(kind: str) -> list[str]:
    """The registered names of ``"fusion"`` or ``"cross"`` modules (plugins included)."""
    from sdinterp.plugin_manager import get_registry

    return get_registry().names(kind)
