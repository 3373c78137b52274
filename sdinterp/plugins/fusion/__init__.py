"""Fusion and cross-connection modules of two-stream video object segmentation (paper Sec. 5.3,
Eq. 5–8; ``docs/method.md`` §6), registered by name as kinds ``fusion`` and ``cross``
(:mod:`.plugin`; ``docs/twostream.md`` says how a third party adds one)."""

from sdinterp.plugins.fusion.concat import ConcatFusion
from sdinterp.plugins.fusion.convex import ConvexGatedFusion
from sdinterp.plugins.fusion.cross import CoAttentionCross, co_attention
from sdinterp.plugins.fusion.gated import GatedFusion
from sdinterp.plugins.fusion.plugin import CROSS_KIND, FUSION_KIND, build_cross, build_fusion, component_names

__all__ = [
    "GatedFusion",
    "ConvexGatedFusion",
    "ConcatFusion",
    "CoAttentionCross",
    "co_attention",
    "build_fusion",
    "build_cross",
    "component_names",
    "FUSION_KIND",
    "CROSS_KIND",
]
