"""A hand-built network whose units are static, dynamic, joint or residual *by construction*, and
synthetic videos to run it on: the ground truth the estimator must recover.

Videos: a flat-coloured rectangle moving at a constant integer velocity over a flat background
(the "scene"), above a strip of per-frame random noise. The paired restyler is
``LevelPermutation`` (a random permutation of intensity levels per channel and style): injective,
so the object's mask, size and trajectory are exactly kept while its colours become unrelated.

Units, each computed from the raw 0..255 input:

* **static** — time-averaged mean colour (and mean squared colour) of the scene: invariant to frame
  order, changed by a restyle;
* **dynamic** — signed displacement of the object's centroid between two fixed time positions,
  from a colour-invariant mask (pixel differs from the scene's corner pixel): invariant to restyle;
  under a shuffle its sign is random, so it decorrelates;
* **joint** — mean object area: invariant to both, yet varies across videos;
* **residual** — mean of the noise strip in the first input frame: changes under both.

A third layer, ``motion_energy``, needs no flat background, so its truth also holds on clips with no
appearance at all (the random-dot kinematograms of the ``appearance_free`` sampler, issue #13 item 5):

* **dynamic** — where things move: the centroid of frame-difference energy |x[t+1] - x[t]| (summed
  over channels), its signed displacement from the first to the second half of the clip. On the
  planted clips every changed pixel changes between the same two colours, so the energy is uniform
  over the changed pixels and any injective restyle keeps the centroid exactly; on a kinematogram
  the moving dots carry it. A shuffle makes its sign random, so it decorrelates;
* **static** — the scene's time-averaged mean colour, as in the other layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.interfaces import Sample

__all__ = ["PlantedNet", "make_planted_clips", "PLANTED_TRUTH", "NOISE_ROWS"]

NOISE_ROWS = 4

#: Expected category of every unit of each layer of :class:`PlantedNet`, in channel order.
PLANTED_TRUTH: dict[str, list[str]] = {
    "static_heavy": ["static"] * 6 + ["dynamic", "joint", "residual"],
    "dynamic_heavy": ["dynamic"] * 6 + ["static", "joint", "residual"],
    "motion_energy": ["dynamic"] * 2 + ["static"] * 3,
}


def make_planted_clips(n: int, num_frames: int = 8, size: int = 32, seed: int = 0) -> list[Sample]:
    """``n`` synthetic clips of ``num_frames`` frames, (size + NOISE_ROWS) x size pixels.

    Integer velocities in [-2, 2] per axis, object sides in [4, 10], colours drawn so the object
    differs from the background in every channel; the object never touches the scene's border, so
    the scene's top-left pixel is always background.
    """
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(4, 11, size=2))
        vy, vx = (int(v) for v in rng.integers(-2, 3, size=2))
        # small frames: slow down so the trajectory stays inside the scene (with a 1-pixel margin)
        vmax_y, vmax_x = ((size - 2 - s) // max(num_frames - 1, 1) for s in (h, w))
        if min(vmax_y, vmax_x) < 0:
            raise ValueError(f"frames of {size} pixels are too small for objects of up to 10 pixels")
        vy, vx = int(np.clip(vy, -vmax_y, vmax_y)), int(np.clip(vx, -vmax_x, vmax_x))
        span_y, span_x = abs(vy) * (num_frames - 1), abs(vx) * (num_frames - 1)
        y0 = int(rng.integers(1, size - 1 - h - span_y + 1)) + (span_y if vy < 0 else 0)
        x0 = int(rng.integers(1, size - 1 - w - span_x + 1)) + (span_x if vx < 0 else 0)
        bg = rng.integers(0, 256, size=3)
        obj = (bg + rng.integers(32, 224, size=3)) % 256
        frames = np.empty((num_frames, size + NOISE_ROWS, size, 3), dtype=np.uint8)
        frames[:, :NOISE_ROWS] = rng.integers(0, 256, size=(num_frames, NOISE_ROWS, size, 3), dtype=np.uint8)
        frames[:, NOISE_ROWS:] = bg.astype(np.uint8)
        for t in range(num_frames):
            y, x = NOISE_ROWS + y0 + vy * t, x0 + vx * t
            frames[t, y : y + h, x : x + w] = obj.astype(np.uint8)
        clips.append(Sample(frames=frames, video_id=f"planted{i:04d}", meta={"velocity": (vy, vx), "size": (h, w)}))
    return clips


class PlantedNet(nn.Module):
    """The planted-truth network. Input: raw (B, 3, T, H, W) floats in 0..255 (no normalisation).

    Layers (``nn.Identity`` taps, categories in :data:`PLANTED_TRUTH`): ``static_heavy`` and
    ``dynamic_heavy`` (9 units each) and ``motion_energy`` (5 units, its truth also holds under
    ``appearance_free`` pairs). Also ``scene_mask`` (B, 1, T, H, W) for inspection.

    Examples:
        >>> net = PlantedNet()
        >>> clips = make_planted_clips(2, seed=0)
        >>> x = torch.stack([torch.from_numpy(c.frames).permute(3, 0, 1, 2).float() for c in clips])
        >>> tuple(net(x).shape), net.layer_names()
        ((2, 9), ['static_heavy', 'dynamic_heavy', 'motion_energy'])
    """

    def __init__(self) -> None:
        super().__init__()
        self.scene_mask = nn.Identity()
        self.static_heavy = nn.Identity()
        self.dynamic_heavy = nn.Identity()
        self.motion_energy = nn.Identity()

    @staticmethod
    def adapter_options() -> dict[str, Any]:
        """Options for :class:`~sdinterp.adapters.generic.GenericVideoAdapter` (raw 0..255 input)."""
        return {"mean": None, "std": None, "scale": 1.0}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, _, w = x.shape
        scene = x[:, :, :, NOISE_ROWS:, :]
        noise = x[:, :, :, :NOISE_ROWS, :]
        # Colour-invariant object mask: 1 where a pixel differs (in any channel) from the scene's
        # top-left pixel, which is always background; any injective per-channel remap keeps it.
        ref = scene[:, :, :, :1, :1]
        mask = self.scene_mask((scene - ref).abs().sum(dim=1, keepdim=True).clamp(max=1.0))
        area = mask.sum(dim=(1, 3, 4))  # (B, T)
        ys = torch.arange(scene.shape[3], dtype=x.dtype, device=x.device).view(1, 1, 1, -1, 1)
        xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, 1, -1)
        cy = (mask * ys).sum(dim=(1, 3, 4)) / area.clamp(min=1.0)
        cx = (mask * xs).sum(dim=(1, 3, 4)) / area.clamp(min=1.0)
        mid = t // 2
        # Scales bring every unit to a spread of order 1, so no unit dominates the layer scores.
        dyn = (
            0.7
            / max(t - 1, 1)
            * torch.stack(
                [
                    cx[:, -1] - cx[:, 0],
                    cy[:, -1] - cy[:, 0],
                    2 * (cx[:, mid] - cx[:, 0]),
                    2 * (cy[:, mid] - cy[:, 0]),
                    2 * (cx[:, -1] - cx[:, mid]),
                    2 * (cy[:, -1] - cy[:, mid]),
                ],
                dim=1,
            )
        )
        colour = scene.mean(dim=(2, 3, 4)) / 255.0 * 3.5  # (B, 3)
        colour_sq = (scene / 255.0).pow(2).mean(dim=(2, 3, 4)) * 3.5
        static = torch.cat([colour, colour_sq], dim=1)
        joint = area.mean(dim=1, keepdim=True) / 100.0 * 3.0
        residual = (noise[:, :, 0].mean(dim=(2, 3)) / 255.0 * 50.0)[:, :1]
        self.static_heavy(torch.cat([static, dyn[:, :1], joint, residual], dim=1))
        out = self.dynamic_heavy(torch.cat([dyn, static[:, :1], joint, residual], dim=1))
        self.motion_energy(torch.cat([self._motion_energy_shift(scene), colour], dim=1))
        return out

    @staticmethod
    def _motion_energy_shift(scene: torch.Tensor) -> torch.Tensor:
        """(B, 2): x and y displacement of the frame-difference energy's centroid, second half of
        the clip minus first half, scaled to a spread of order 1 on the planted clips."""
        b, t = scene.shape[0], scene.shape[2]
        if t < 3:  # fewer than two frame differences: no halves to compare
            return scene.new_zeros(b, 2)
        energy = (scene[:, :, 1:] - scene[:, :, :-1]).abs().sum(dim=1)  # (B, T-1, H, W)
        # no motion at all (a still clip): centroid 0 rather than 0/0
        total = energy.sum(dim=(2, 3)).clamp(min=1e-6)
        ys = torch.arange(energy.shape[2], dtype=scene.dtype, device=scene.device).view(1, 1, -1, 1)
        xs = torch.arange(energy.shape[3], dtype=scene.dtype, device=scene.device).view(1, 1, 1, -1)
        cy, cx = (energy * ys).sum(dim=(2, 3)) / total, (energy * xs).sum(dim=(2, 3)) / total
        h = (t - 1) // 2
        # a velocity v moves the half-means apart by about v·(t-1)/2 pixels
        scale = 0.7 / max(t - 1, 1) * 2
        return scale * torch.stack(
            [cx[:, h:].mean(1) - cx[:, :h].mean(1), cy[:, h:].mean(1) - cy[:, :h].mean(1)], dim=1
        )

    def layer_names(self) -> Sequence[str]:
        return list(PLANTED_TRUTH)
