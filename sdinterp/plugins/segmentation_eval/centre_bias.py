"""The dataset centre-bias map (``docs/method.md`` §7; reference: the study's
``misc/estimate_dataset_centerbias.py``): every ground-truth mask binarised (> 0), resized
nearest-neighbour to a common size (480 x 854), summed over the dataset, min-max normalised to
[0, 1] — where in the frame a dataset's objects tend to be."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["centre_bias_map", "save_centre_bias_figure"]


def centre_bias_map(
    masks: Iterable[np.ndarray], size: Sequence[int] = (480, 854), normalise: bool = True
) -> np.ndarray:
    """Sum of binarised, resized masks.

    Args:
        masks: ground-truth masks (H, W) (or (H, W, C): the first channel, as the reference reads
            ``cv2.imread(...)[:, :, 0]``), any sizes.
        size: (height, width) of the common grid.
        normalise: min-max normalise to [0, 1] (a constant map becomes all zeros); ``False`` gives the
            raw counts (how many masks cover each pixel).

    Returns:
        float64 (height, width).

    Examples:
        >>> m = np.zeros((2, 2), np.uint8); m[0, 0] = 7
        >>> centre_bias_map([m, m], size=(2, 2), normalise=False).tolist()
        [[2.0, 0.0], [0.0, 0.0]]
    """
    import cv2

    h, w = int(size[0]), int(size[1])
    total = np.zeros((h, w), dtype=np.float64)
    count = 0
    for mask in masks:
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m[..., 0]
        if m.ndim != 2:
            raise ValueError(f"a mask must be (H, W) or (H, W, C), got shape {m.shape}")
        binary = (m > 0).astype(np.uint8)
        total += cv2.resize(binary, (w, h), interpolation=cv2.INTER_NEAREST)
        count += 1
    if count == 0:
        raise ValueError("no masks given")
    if not normalise:
        return total
    lo, hi = total.min(), total.max()
    return (total - lo) / (hi - lo) if hi > lo else np.zeros_like(total)


def save_centre_bias_figure(bias: np.ndarray, path: str | Path, title: str | None = None) -> Path:
    """Draw a centre-bias map (grey scale, no axes, as the reference) and save it.

    Args:
        bias: the map (:func:`centre_bias_map`).
        path: the image file to write (format from the suffix, e.g. ``.png``).
        title: optional title above the map.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(bias.shape[1] / 100, bias.shape[0] / 100), dpi=100)
    try:
        ax.imshow(bias, cmap="gray", vmin=0.0, vmax=float(bias.max()) if bias.max() > 0 else 1.0)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
        fig.savefig(path, bbox_inches="tight", pad_inches=0)
    finally:
        plt.close(fig)
    return path
