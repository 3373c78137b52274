"""The MoCA protocol for camouflaged moving objects (``docs/method.md`` §7; reference: the study's
``MoCA_eval.py`` after motiongrouping): a predicted mask becomes one box, scored by box IoU
against the annotated box.

Per annotated frame:

1. **Border inversion**: if more than 50 % of the mask's border pixels exceed 127.5, the mask
   marks the background; it is inverted (``255 - mask``).
2. **Threshold**: pixels above ``thresh * 255`` are foreground (0.2 in the paper, 0.1 in
   motiongrouping).
3. **Box**: among the external contours (OpenCV ``RETR_EXTERNAL``), the bounding rectangle whose
   region holds the most foreground pixels; rescaled from the mask's size to the original frame size.
4. **Box IoU** with the ground-truth box; 0 when the mask has no foreground.

Then mIoU = the mean over videos of each video's mean IoU; SR@τ = the fraction of all annotated
frames, pooled over videos, with IoU **> τ** (strict), τ in 0.5, 0.6, 0.7, 0.8, 0.9; mSR = the mean
of the five.

Boxes are ``(x0, y0, x1, y1)`` in pixels with exclusive ends (``cv2.boundingRect``'s ``x + w``), so
a box's area is ``(x1 - x0) * (y1 - y0)``. ``pixel_inclusive=True`` counts the end pixels too
(``+ 1`` on each side, the usual ``bb_intersection_over_union`` form); which of the two the
reference uses is open (method.md §7), and the two differ little for boxes of more than a few pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "SR_THRESHOLDS",
    "Box",
    "invert_if_background",
    "predicted_box",
    "box_iou",
    "frame_iou",
    "MoCAResult",
    "moca_scores",
    "evaluate_moca",
]

#: The success-rate thresholds of the MoCA tables (method.md §7).
SR_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)

Box = tuple[float, float, float, float]


def _as_uint8_mask(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[-1] in (1, 3):
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"a predicted mask must be (H, W) (or (H, W, 1|3)), got shape {m.shape}")
    if m.dtype == bool:
        return m.astype(np.uint8) * 255
    if np.issubdtype(m.dtype, np.floating):
        if m.size and (m.min() < 0 or m.max() > 1):
            raise ValueError("a float mask must hold probabilities in [0, 1] (or give uint8 0..255)")
        return np.round(m * 255.0).astype(np.uint8)
    return np.clip(m, 0, 255).astype(np.uint8)


def _border(m: np.ndarray) -> np.ndarray:
    if m.shape[0] < 2 or m.shape[1] < 2:
        return m.ravel()
    return np.concatenate([m[0], m[-1], m[1:-1, 0], m[1:-1, -1]])


def invert_if_background(mask: np.ndarray) -> np.ndarray:
    """The mask as uint8 0..255, inverted when more than half of its border pixels exceed 127.5.

    Args:
        mask: (H, W) uint8 0..255, bool, or float probabilities in [0, 1].

    Returns:
        uint8 (H, W).

    Examples:
        >>> m = np.full((4, 4), 255, np.uint8); m[1:3, 1:3] = 0     # a dark object on a bright background
        >>> invert_if_background(m)[1:3, 1:3].tolist()
        [[255, 255], [255, 255]]
    """
    m = _as_uint8_mask(mask)
    return (255 - m) if (_border(m) > 127.5).mean() > 0.5 else m


def predicted_box(
    mask: np.ndarray, thresh: float = 0.2, original_size: Sequence[int] | None = None, invert: bool = True
) -> Box | None:
    """The box MoCA scores for one predicted mask, or ``None`` if it has no foreground.

    Args:
        mask: (H, W) uint8 0..255, bool, or float probabilities.
        thresh: foreground is ``mask > thresh * 255``.
        original_size: (height, width) of the original frame; the box is rescaled from the mask's
            size to it (``None``: no rescaling).
        invert: apply the border-inversion check first.

    Returns:
        ``(x0, y0, x1, y1)`` with exclusive ends, or ``None``.

    Examples:
        >>> m = np.zeros((10, 10), np.uint8); m[2:5, 3:7] = 255
        >>> predicted_box(m)
        (3.0, 2.0, 7.0, 5.0)
    """
    import cv2

    if not 0 <= thresh < 1:
        raise ValueError(f"thresh must be in [0, 1), got {thresh!r}")
    m = invert_if_background(mask) if invert else _as_uint8_mask(mask)
    fg = (m > thresh * 255.0).astype(np.uint8)
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best, best_sum = None, -1
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        total = int(fg[y : y + h, x : x + w].sum())
        if total > best_sum:
            best, best_sum = (x, y, x + w, y + h), total
    if best is None or best_sum <= 0:
        return None
    x0, y0, x1, y1 = (float(v) for v in best)
    if original_size is not None:
        sy, sx = float(original_size[0]) / m.shape[0], float(original_size[1]) / m.shape[1]
        x0, x1, y0, y1 = x0 * sx, x1 * sx, y0 * sy, y1 * sy
    return (x0, y0, x1, y1)


def box_iou(a: Sequence[float], b: Sequence[float], pixel_inclusive: bool = False) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes.

    Args:
        a, b: the boxes (exclusive ends; see the module docstring).
        pixel_inclusive: count the end pixels (``+ 1`` on each side).

    Examples:
        >>> box_iou((0, 0, 2, 2), (1, 0, 3, 2))       # overlap 2, union 6
        0.3333333333333333
    """
    extra = 1.0 if pixel_inclusive else 0.0
    for box in (a, b):
        if len(box) != 4 or box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"a box is (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0, got {tuple(box)}")
    iw = min(a[2], b[2]) - max(a[0], b[0]) + extra
    ih = min(a[3], b[3]) - max(a[1], b[1]) + extra
    inter = max(0.0, iw) * max(0.0, ih)

    def area(r: Any) -> Any:
        return (r[2] - r[0] + extra) * (r[3] - r[1] + extra)

    union = area(a) + area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def frame_iou(
    mask: np.ndarray,
    gt_box: Sequence[float],
    thresh: float = 0.2,
    original_size: Sequence[int] | None = None,
    pixel_inclusive: bool = False,
) -> float:
    """One annotated frame's MoCA score: box IoU of :func:`predicted_box` with ``gt_box`` (0 if empty)."""
    box = predicted_box(mask, thresh, original_size)
    return 0.0 if box is None else box_iou(box, gt_box, pixel_inclusive)


@dataclasses.dataclass(frozen=True)
class MoCAResult:
    """MoCA scores (fractions in [0, 1]; :meth:`percent` for the tables' percentages).

    Attributes:
        miou: mean over videos of the per-video mean IoU.
        success: ``{τ: fraction of all frames with IoU > τ}``.
        msr: mean of the success rates.
        per_video: each video's mean IoU.
        n_frames: annotated frames scored.
    """

    miou: float
    success: dict[float, float]
    msr: float
    per_video: dict[str, float]
    n_frames: int

    def percent(self) -> dict[str, float]:
        """``{"mIoU": ..., "SR0.5": ..., ..., "mSR": ...}`` in percent, as the tables of method.md §7."""
        out = {"mIoU": 100.0 * self.miou}
        out.update({f"SR{t:g}": 100.0 * v for t, v in self.success.items()})
        out["mSR"] = 100.0 * self.msr
        return out


def moca_scores(ious: Mapping[str, Sequence[float]], thresholds: Sequence[float] = SR_THRESHOLDS) -> MoCAResult:
    """mIoU, SR@τ and mSR from per-frame IoUs grouped by video.

    Examples:
        >>> r = moca_scores({"a": [1.0, 0.5], "b": [0.0]})
        >>> round(r.miou, 3), r.success[0.5]                  # (0.75 + 0) / 2; only 1.0 > 0.5 of 3 frames
        (0.375, 0.3333333333333333)
    """
    per_video = {v: float(np.mean(x)) for v, x in ious.items() if len(x)}
    if not per_video:
        raise ValueError("no annotated frames to score")
    pooled = np.concatenate([np.asarray(x, dtype=np.float64) for x in ious.values() if len(x)])
    success = {float(t): float((pooled > t).mean()) for t in thresholds}
    return MoCAResult(
        float(np.mean(list(per_video.values()))),
        success,
        float(np.mean(list(success.values()))),
        per_video,
        int(pooled.size),
    )


def evaluate_moca(
    predictions: Mapping[str, Sequence[np.ndarray]],
    gt_boxes: Mapping[str, Sequence[Sequence[float]]],
    thresh: float = 0.2,
    original_size: Mapping[str, Sequence[int]] | Sequence[int] | None = None,
    pixel_inclusive: bool = False,
) -> MoCAResult:
    """The MoCA protocol over a dataset.

    Args:
        predictions: video -> predicted masks of its annotated frames, in order.
        gt_boxes: video -> the ground-truth boxes of the same frames.
        thresh: binarisation threshold (0.2, as the paper).
        original_size: (H, W) of the original frames, one for all videos or per video (``None``:
            the boxes are in the masks' resolution).
        pixel_inclusive: box-area convention (module docstring).

    Raises:
        ValueError: a video lacks boxes, or its masks and boxes differ in number.
    """
    ious: dict[str, list[float]] = {}
    for video, masks in predictions.items():
        if video not in gt_boxes:
            raise ValueError(f"video {video!r} has predictions but no ground-truth boxes")
        boxes = gt_boxes[video]
        if len(boxes) != len(masks):
            raise ValueError(f"video {video!r}: {len(masks)} predicted masks but {len(boxes)} ground-truth boxes")
        size = original_size.get(video) if isinstance(original_size, Mapping) else original_size
        ious[video] = [frame_iou(m, b, thresh, size, pixel_inclusive) for m, b in zip(masks, boxes)]
    return moca_scores(ious)


def describe_protocol(thresh: float = 0.2) -> dict[str, Any]:
    """The settings a MoCA result depends on, for reports."""
    return {
        "protocol": "moca",
        "thresh": thresh,
        "sr_thresholds": list(SR_THRESHOLDS),
        "box": "largest external contour",
    }
