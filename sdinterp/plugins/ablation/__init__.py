"""Neuron removal (paper Sec. 5.1; ``docs/method.md`` §4; ``docs/controlling_bias.md``).

* :class:`ZeroUnits` and :func:`intervene` — zero chosen units of a layer during a forward.
* Selection rules registered as kind ``ablation_selection``: ``top_dynamic``, ``top_static``,
  ``random``, ``segmentation_baseline`` (:mod:`.selection`).
* :func:`removal_sweep` — a metric against the removal percentage, one curve per rule, with the
  random baseline's spread over seeds.
* :func:`removal_attribution` — per-clip output drops through Captum's ``LayerFeatureAblation``.
* The ``sdinterp ablate`` command.
"""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.ablation.intervention import ZeroUnits, intervene, unit_axis
from sdinterp.plugins.ablation.selection import (
    KIND,
    RandomUnits,
    SegmentationBaseline,
    TopDynamic,
    TopFactor,
    TopStatic,
    UnitSelection,
    dominant_factor,
    get_selection,
    units_for_percent,
)
from sdinterp.plugins.ablation.sweep import RemovalCurves, removal_sweep

__all__ = [
    "ZeroUnits",
    "intervene",
    "unit_axis",
    "UnitSelection",
    "TopFactor",
    "TopDynamic",
    "TopStatic",
    "RandomUnits",
    "SegmentationBaseline",
    "units_for_percent",
    "dominant_factor",
    "get_selection",
    "RemovalCurves",
    "removal_sweep",
    "removal_attribution",
]


def removal_attribution(*args: Any, **kwargs: Any) -> Any:
    """:func:`sdinterp.plugins.ablation.captum_removal.removal_attribution` (imports Captum on use)."""
    from sdinterp.plugins.ablation.captum_removal import removal_attribution as impl

    return impl(*args, **kwargs)


def _register_ablate(sub: Any) -> None:
    from sdinterp.plugins.ablation.cli import register

    register(sub)


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add(KIND, "top_dynamic", TopDynamic)
    registry.add(KIND, "top_static", TopStatic)
    registry.add(KIND, RandomUnits.name, RandomUnits)
    registry.add(KIND, SegmentationBaseline.name, SegmentationBaseline)
    registry.add_command("ablate", _register_ablate)
