"""Segmentation evaluation (``docs/method.md`` §7, ``docs/segmentation.md``): the MoCA box protocol
(:mod:`.moca`), region IoU (:mod:`.region`) and the dataset centre-bias map (:mod:`.centre_bias`).

Registered under the kind ``"segmentation_metric"`` (``moca``, ``region_iou``, ``centre_bias``) so a
third party can add its own the same way.
"""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.segmentation_eval.centre_bias import centre_bias_map, save_centre_bias_figure
from sdinterp.plugins.segmentation_eval.moca import (
    SR_THRESHOLDS,
    MoCAResult,
    box_iou,
    evaluate_moca,
    frame_iou,
    invert_if_background,
    moca_scores,
    predicted_box,
)
from sdinterp.scoring.region import jaccard, mean_jaccard  # region IoU lives in the core (tiny nets use it too)

__all__ = [
    "SR_THRESHOLDS",
    "MoCAResult",
    "box_iou",
    "centre_bias_map",
    "evaluate_moca",
    "frame_iou",
    "invert_if_background",
    "jaccard",
    "mean_jaccard",
    "moca_scores",
    "predicted_box",
    "save_centre_bias_figure",
]


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add("segmentation_metric", "moca", evaluate_moca)
    registry.add("segmentation_metric", "region_iou", mean_jaccard)
    registry.add("segmentation_metric", "centre_bias", centre_bias_map)
