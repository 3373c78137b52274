"""Lookup-table restylers: a fixed tone curve per channel after channel mixing (``color_remap``) and a
random permutation of intensity levels (``level_permutation``). The same map for every clip;
registered by :mod:`sdinterp.plugins.restylers`, which describes every restyler."""

from __future__ import annotations

import numpy as np
import torch

from sdinterp.interfaces import Restyler
from sdinterp.plugins.restylers._torch import on_device, restyles

__all__ = ["ColorRemap", "LevelPermutation"]


class ColorRemap(Restyler):
    """Photometric style: a non-monotonic tone curve per channel followed by channel mixing.

    Each style draws, per output channel, a random mix of the three input channels and a smooth
    periodic tone curve (0.75–1.5 cycles over the intensity range, random phase). The map is the same
    for every clip; its folds flatten contrast, which costs optical-flow accuracy on real video
    (``docs/restylers.md``).
    """

    name = "color_remap"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def _lut(self, style: int | str) -> tuple[np.ndarray, np.ndarray]:
        rng = self.style_rng(style)
        mix = rng.dirichlet(np.ones(3), size=3) * rng.choice([-1.0, 1.0], size=(3, 3))
        cycles = rng.uniform(0.75, 1.5, size=3)
        phase = rng.uniform(0.0, 1.0, size=3)
        x = np.linspace(0.0, 1.0, 256)
        lut = 0.5 + 0.5 * np.sin(2 * np.pi * (cycles[:, None] * x[None, :] + phase[:, None]))
        return mix, lut

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        mix, lut = self._lut(style)
        table = on_device(
            self,
            ("lut", style),
            x.device,
            lambda: torch.from_numpy((lut * 255.0).round().astype(np.uint8)).to(x.device),
        )
        f = x.float() / 255.0
        m32, lo, hi = mix.astype(np.float32), np.minimum(mix, 0).sum(axis=1), np.maximum(mix, 0).sum(axis=1)
        out = []
        for c in range(3):
            mixed = f[..., 0] * float(m32[c, 0]) + f[..., 1] * float(m32[c, 1]) + f[..., 2] * float(m32[c, 2])
            span = float(max(hi[c] - lo[c], 1e-6))
            idx = ((mixed.double() - float(lo[c])) / span * 255.0).round().clamp(0, 255).long()
            out.append(table[c][idx])
        return torch.stack(out, dim=-1)


class LevelPermutation(Restyler):
    """A random permutation of the 256 intensity levels per channel, per style.

    Injective, so region boundaries, masks and motion of flat-coloured content are kept exactly
    while colours become unrelated across styles. Meant for synthetic flat-colour videos (the planted
    ground-truth tests); on natural video it destroys shading and texture.
    """

    name = "level_permutation"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def luts(self, style: int | str) -> np.ndarray:
        """The style's level permutation per channel, uint8 (3, 256)."""
        rng = self.style_rng(style)
        return np.stack([rng.permutation(256) for _ in range(3)]).astype(np.uint8)

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        luts = on_device(self, ("luts", style), x.device, lambda: torch.from_numpy(self.luts(style)).to(x.device))
        out = torch.stack([luts[c][x[..., c].long()] for c in range(3)], dim=-1)
        return out
