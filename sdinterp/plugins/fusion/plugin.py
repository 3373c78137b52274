"""Registration of the fusion and cross-connection modules, and lookup by name.

Kinds and names (``docs/twostream.md``):

* ``fusion``: ``gated`` (MATNet, 2c out), ``convex_gated`` (RTNet, summing form, c out),
  ``convex_gated_cat`` (concatenating form, 2c out), ``concat`` (plain, c out; FusionSeg);
* ``cross``: ``unidirectional``, ``bidirectional``, ``unidirectional_gated``, ``bidirectional_gated``.

Users write them as ``fusion:gated`` or ``cross:bidirectional`` (the kind prefix is optional when
the kind is known). A factory is called as ``factory(channels, **options)``; a fusion module has
``out_channels`` and ``forward(u_a, u_m) -> tensor``, a cross connection
``forward(x_a, x_m) -> (x_a, x_m)`` with shapes unchanged. A third party adds one with
``registry.add("fusion", "my_fusion", MyFusion)`` in its ``sdinterp_register`` hook; it is then
usable everywhere a built-in one is, the model spec ``twostream:my_fusion-bidirectional`` included.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.fusion.concat import ConcatFusion
from sdinterp.plugins.fusion.convex import ConvexGatedFusion
from sdinterp.plugins.fusion.cross import CoAttentionCross
from sdinterp.plugins.fusion.gated import GatedFusion

__all__ = ["build_fusion", "build_cross", "component_names", "FUSION_KIND", "CROSS_KIND"]

FUSION_KIND = "fusion"
CROSS_KIND = "cross"


def convex_gated_cat(channels: int, **options: Any) -> ConvexGatedFusion:
    """The concatenating convex-combination fusion (Eq. 7): 2c output channels."""
    return ConvexGatedFusion(channels, form="cat", **options)


def unidirectional(channels: int, **options: Any) -> CoAttentionCross:
    """Motion → appearance co-attention (MATNet ``coatt``)."""
    return CoAttentionCross(channels, "unidirectional", gated=False, **options)


def bidirectional(channels: int, **options: Any) -> CoAttentionCross:
    """Co-attention in both directions (``coatt_recip``)."""
    return CoAttentionCross(channels, "bidirectional", gated=False, **options)


def unidirectional_gated(channels: int, **options: Any) -> CoAttentionCross:
    """Unidirectional co-attention with the gating term (``coatt_gated``)."""
    return CoAttentionCross(channels, "unidirectional", gated=True, **options)


def bidirectional_gated(channels: int, **options: Any) -> CoAttentionCross:
    """Bidirectional co-attention with the gating term (``coatt_gated_recip``; the paper's best
    MoCA model with gated fusion)."""
    return CoAttentionCross(channels, "bidirectional", gated=True, **options)


def _bare(kind: str, name: str) -> str:
    prefix = f"{kind}:"
    return name[len(prefix):] if name.startswith(prefix) else name


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
        raise TypeError(f"fusion {name!r} built a {type(module).__name__} without out_channels; fusion modules must declare it")
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


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add(FUSION_KIND, "gated", GatedFusion)
    registry.add(FUSION_KIND, "convex_gated", ConvexGatedFusion)
    registry.add(FUSION_KIND, "convex_gated_cat", convex_gated_cat)
    registry.add(FUSION_KIND, "concat", ConcatFusion)
    for factory in (unidirectional, bidirectional, unidirectional_gated, bidirectional_gated):
        registry.add(CROSS_KIND, factory.__name__, factory)
