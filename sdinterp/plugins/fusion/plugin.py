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

# The kinds and the builders live in the core (any model code builds registered components);
# re-exported here for the plugin's own callers.
from sdinterp.components import CROSS_KIND, FUSION_KIND, build_cross, build_fusion, component_names
from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.fusion.concat import ConcatFusion
from sdinterp.plugins.fusion.convex import ConvexGatedFusion
from sdinterp.plugins.fusion.cross import CoAttentionCross
from sdinterp.plugins.fusion.gated import GatedFusion

__all__ = ["build_fusion", "build_cross", "component_names", "FUSION_KIND", "CROSS_KIND"]


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


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add(FUSION_KIND, "gated", GatedFusion)
    registry.add(FUSION_KIND, "convex_gated", ConvexGatedFusion)
    registry.add(FUSION_KIND, "convex_gated_cat", convex_gated_cat)
    registry.add(FUSION_KIND, "concat", ConcatFusion)
    for factory in (unidirectional, bidirectional, unidirectional_gated, bidirectional_gated):
        registry.add(CROSS_KIND, factory.__name__, factory)
