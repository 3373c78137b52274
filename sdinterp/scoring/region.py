"""Region similarity of binary masks (Jaccard index, the J of DAVIS; ``docs/method.md`` §7)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["jaccard", "mean_jaccard"]


def jaccard(pred: np.ndarray, gt: np.ndarray, threshold: float | None = None) -> float:
    """|P ∩ G| / |P ∪ G| of two masks of the same shape; 1 when both are empty (method.md §7).

    Args:
        pred, gt: masks; bool, or numbers where ``> threshold`` is foreground (default: non-zero; for a
            float probability map pass e.g. ``threshold=0.5``).
        threshold: foreground threshold for non-bool masks.

    Examples:
        >>> a = np.zeros((4, 4), bool); a[:2] = True
        >>> b = np.zeros((4, 4), bool); b[1:3] = True
        >>> jaccard(a, b)                                      # 4 shared of 12 pixels
        0.3333333333333333
    """
    p, g = _binary(pred, threshold), _binary(gt, threshold)
    if p.shape != g.shape:
        raise ValueError(f"masks differ in shape: {p.shape} vs {g.shape}")
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum() / union)


def mean_jaccard(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], threshold: float | None = None) -> float:
    """Mean :func:`jaccard` over frames."""
    if len(preds) != len(gts) or not preds:
        raise ValueError(f"need as many predictions as ground truths (at least one), got {len(preds)} and {len(gts)}")
    return float(np.mean([jaccard(p, g, threshold) for p, g in zip(preds, gts)]))


def _binary(mask: np.ndarray, threshold: float | None) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[-1] in (1, 3):
        m = m[..., 0]
    if m.dtype == bool:
        return m
    return m > (0 if threshold is None else threshold)
