"""Probe controls: model-free "units" computed from the very inputs of a run's pairs.

A sampler that makes what it claims passes its controls whatever the model: a static pair (same
frames, another order) keeps every single-frame statistic and breaks the order of motion; a dynamic
pair (same motion, another appearance) keeps the motion and changes colour and texture. So each
control has a category it must come out as when scored by the run's own estimator over the run's
own pairs (:func:`sdinterp.validity.verdict.score_controls`; the rules are in
:mod:`sdinterp.validity.verdict`). Each control is contrast-free where it measures motion, so a
restyle that rescales or inverts the luma does not break it:

* ``mean_colour`` (3 units, R, G, B): the clip's mean colour — must come out **static**.
* ``texture`` (1 unit): mean spatial gradient magnitude of each frame, averaged over frames — a
  single-frame texture energy — must come out **static**.
* ``motion_extent`` (1 unit): how far the frame-difference energy |I(t+1) - I(t)| moves: the
  distance between its centroid over the first and over the second half of the clip (in frame
  widths) — must come out **dynamic**. A centroid, not the energy itself: the energy scales with
  contrast, texture and sensor noise, all of which a restyle may change (on the generator's
  re-renderings the energy over the texture energy scores 0.20 for dynamic pairs, the centroid's
  move 0.86; docs/validity.md).
* ``direction`` (2 units, x and y): the same move, signed — so a "dynamic" partner that plays the
  clip backwards flips it and fails — must come out **dynamic** (the unit along which the clips
  move carries it; a control passes a factor it must survive when its best unit does).

Controls are computed on the view with the most frames (the fast pathway of a two-rate model), in
grey levels of [0, 1], on frames strided down to at most :data:`MAX_SIDE` pixels.

Examples:
    >>> import numpy as np
    >>> from sdinterp.interfaces import Sample
    >>> frames = np.zeros((4, 8, 8, 3), np.uint8); frames[:, 2:5, :, 0] = 200
    >>> control_features([Sample(frames=frames)]).shape
    torch.Size([1, 7])
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from sdinterp.interfaces import Sample

__all__ = ["CONTROLS", "CONTROL_PREFIX", "MAX_SIDE", "control_features", "control_layers"]

#: Pseudo-layer names of the controls start with this (the executor's ``validity:`` prefix).
CONTROL_PREFIX = "validity:control:"

#: control -> (units, the category it must come out as).
CONTROLS: dict[str, tuple[int, str]] = {
    "mean_colour": (3, "static"),
    "texture": (1, "static"),
    "motion_extent": (1, "dynamic"),
    "direction": (2, "dynamic"),
}

#: Frames are strided down to at most this many pixels a side (controls of a 224-pixel clip cost
#: about what a 64-pixel one does; the statistics are global means, so striding changes them little).
MAX_SIDE = 64

_EPS = 1e-9


def _grey(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, H, W, 3) uint8 -> grey levels (T, H', W') and RGB (T, H', W', 3) in [0, 1], strided to MAX_SIDE."""
    step = max(1, -(-max(frames.shape[1:3]) // MAX_SIDE))
    small = frames[:, ::step, ::step].to(torch.float64) / 255.0
    return small @ _luma(frames.device), small


@functools.lru_cache(maxsize=8)
def _luma(device: torch.device) -> torch.Tensor:
    # BT.601 weights, made once per device: a control then copies nothing from the host.
    return torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).to(device)


def _centroid(energy: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Energy-weighted centroid (x, y) in frame widths; the frame's centre where nothing changes.
    Chosen with ``where``, not ``if``: on a GPU nothing is read back to the host."""
    w = energy.sum()
    xy = torch.stack([(energy * xs).sum(), (energy * ys).sum()]) / w.clamp_min(_EPS)
    return torch.where(w > _EPS, xy, torch.full_like(xy, 0.5))


def _one(sample: Sample) -> torch.Tensor:
    """The 7 controls of one sample, on its frames' device (a numpy clip: the CPU)."""
    view = max(range(len(sample.view_indices())), key=lambda k: len(sample.view_indices()[k]))
    frames = sample.view_frames(view)
    clip = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    if clip.device.type == "mps":  # no float64 there: these clips' controls are computed on the host
        clip = clip.cpu()
    grey, rgb = _grey(clip)
    colour = rgb.mean(dim=(0, 1, 2))
    if min(grey.shape[1:]) > 1:
        gy, gx = torch.gradient(grey, dim=(1, 2))
        texture = torch.sqrt(gx * gx + gy * gy).mean()
    else:
        texture = grey.new_zeros(())
    if grey.shape[0] < 3:  # fewer than two frame differences: no motion to locate
        return torch.cat([colour, texture[None], grey.new_zeros(3)])
    energy = (grey[1:] - grey[:-1]).abs()
    side = float(max(grey.shape[1:]))
    ys = torch.arange(grey.shape[1], dtype=torch.float64, device=grey.device)[:, None] / side
    xs = torch.arange(grey.shape[2], dtype=torch.float64, device=grey.device)[None, :] / side
    half = energy.shape[0] // 2
    move = _centroid(energy[half:].sum(0), xs, ys) - _centroid(energy[:half].sum(0), xs, ys)
    return torch.cat([colour, texture[None], torch.linalg.vector_norm(move)[None], move])


def control_features(samples: Sequence[Sample]) -> torch.Tensor:
    """Every control of every sample, in the column order of :data:`CONTROLS`.

    Args:
        samples: the inputs of a batch (:attr:`BatchResult.inputs`), with their views.

    Returns:
        (len(samples), 7) float64 tensor, on the samples' device (numpy frames: the CPU).
    """
    # On the frames' device, as pooled features: the executor reads them back with the layers'.
    return torch.stack([_one(s) for s in samples]) if samples else torch.zeros((0, 7), dtype=torch.float64)


def control_layers(samples: Sequence[Sample]) -> Mapping[str, torch.Tensor]:
    """The controls of a batch as pseudo-layers, ``"validity:control:<name>"`` -> (N, units).

    Args:
        samples: the inputs of a batch.

    Returns:
        One float64 tensor per control of :data:`CONTROLS`.
    """
    feats = control_features(samples)
    out, start = {}, 0
    for name, (units, _) in CONTROLS.items():
        out[CONTROL_PREFIX + name] = feats[:, start : start + units]
        start += units
    return out
