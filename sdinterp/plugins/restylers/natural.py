"""Restylers kept inside natural image statistics: the default dynamic pairs (issue 20).

The restylers of :mod:`sdinterp.plugins.restylers` decorrelate a clip's static descriptors hard
(luma inverted for some styles, saturated periodic colours); on trained networks that makes the
restyled clips out of distribution: ``tiny:i3d-motion``'s stage3 activations double and its units
stop tracking motion, so every unit comes out static (measured: ``benchmarks/pair_validity.py``,
``docs/restylers.md``). The two restylers here change appearance only in ways natural video
itself varies, with the *same* transform for every frame of a clip (so motion is untouched):

* :class:`NaturalColour` (``"natural_colour"``, the default of
  :class:`~sdinterp.plugins.samplers.Restyle`): the chroma plane rotated by the style's hue
  angle (styles spread around the colour circle by the golden angle), the saturation scaled within
  [0.8, 1.25], and the luma given a bounded *positive* gain around the clip's mean (no inversion).
* :class:`NaturalTexture` (``"natural_texture"``): a fixed random convolution per style on the luma
  (``delta + gain * R``, ``R`` zero-mean, unit norm: the clip's edges plus a style texture), the
  result brought back to the clip's own luma mean and contrast, then :class:`NaturalColour`. A
  convolution commutes with translation, so a moving object is filtered the same in every frame.
  It agrees slightly better with the ground truth on the tiny nets, but its texture costs
  real-video optical flow (rel. EPE 0.32 on real clips, above the 0.25 bar), so it is not the default.

Both keep what natural variation keeps: a clip's brightness, contrast and texture energy survive
restyling (static-descriptor correlation across styles 0.89 on real clips, docs/restylers.md), so
units driven by those look shared by the dynamic pair. Decorrelating them per clip (luma
standardised to a style's mean and contrast, as ``photometric`` does without the inversion) shrank
``tiny:i3d-motion``'s stage3 activations to 0.53 of the originals' and found 5 of its 20 dynamic
units (measured, not kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Restyler
from sdinterp.plugins.restylers._torch import (
    compose,
    filter_frames,
    mean_std,
    on_device,
    one_thread_on_cpu,
    restyles,
    split,
    style_kernel,
)

__all__ = ["NaturalColour", "NaturalTexture"]

#: Hue steps of consecutive styles, in turns: the golden ratio spreads any number of styles evenly
#: (styles 1..4 land at 0.62, 0.24, 0.85, 0.47 turns from the original hue).
_GOLDEN = 0.6180339887498949


def _bounded(pair: tuple[float, float], low: float, name: str) -> tuple[float, float]:
    a, b = float(pair[0]), float(pair[1])
    if not low <= a <= b:
        raise ValueError(f"{name} must be a range ({low} <= low <= high), got {pair!r}")
    return a, b


class NaturalColour(Restyler):
    """Hue rotation, bounded saturation and a positive luma gain: a colour style that stays natural.

    The luma map is ``mean + offset + gain * (Y - mean)`` with ``gain`` in ``gain`` (positive: dark
    stays dark, never inverted) and the clip's own mean, so brightness and contrast move only as
    much as exposure does between two cameras; chroma (Cb, Cr) is rotated by the style's angle and
    scaled by ``saturation``, which moves every hue by the same angle (hue-selective units lose
    their correlation across styles, edges and motion are untouched).

    Args:
        seed: seed of the per-style parameters.
        gain: range of the luma gain (must be positive).
        offset: bound of the luma offset (fraction of full range).
        saturation: range of the chroma scale.
        hue_jitter: bound of a random hue jitter added to each style's golden-angle step (turns).

    Examples:
        >>> clip = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
        >>> out = NaturalColour()(clip, style=1)
        >>> out.shape, out.dtype
        ((4, 16, 16, 3), dtype('uint8'))
        >>> y = lambda v: (v.astype(float) @ [0.299, 0.587, 0.114]).ravel()
        >>> bool(np.corrcoef(y(clip), y(out))[0, 1] > 0.95)       # luma kept, never inverted
        True
    """

    name = "natural_colour"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def __init__(
        self,
        seed: int = 0,
        gain: tuple[float, float] = (0.8, 1.25),
        offset: float = 0.05,
        saturation: tuple[float, float] = (0.8, 1.25),
        hue_jitter: float = 0.05,
    ):
        super().__init__(seed)
        self.gain = _bounded(gain, 1e-3, "gain")
        self.saturation = _bounded(saturation, 0.0, "saturation")
        self.offset, self.hue_jitter = abs(float(offset)), abs(float(hue_jitter))

    def params(self, style: int | str) -> dict[str, float]:
        """The style's hue angle (radians), saturation scale, luma gain and luma offset."""
        rng = self.style_rng(style)
        step = int(style) if isinstance(style, (int, np.integer)) else rng.uniform(0.0, 1.0 / _GOLDEN)
        turns = step * _GOLDEN + rng.uniform(-self.hue_jitter, self.hue_jitter)
        return {
            "angle": 2 * np.pi * (turns % 1.0),
            "saturation": rng.uniform(*self.saturation),
            "gain": rng.uniform(*self.gain),
            "offset": rng.uniform(-self.offset, self.offset),
        }

    def restyle(self, luma: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor, style: int | str) -> torch.Tensor:
        """Apply the style to float32 luma in [0, 1] and chroma (Cb, Cr); returns uint8 RGB (T, H, W, 3).

        Args:
            luma, cb, cr: the clip's planes (T, H, W), on any device.
            style: the style id.

        Returns:
            The restyled clip, on the planes' device.
        """
        p = self.params(style)
        # float64 mean: a float32 sum depends on frame order, and the map must be one per clip.
        mean, _ = mean_std(luma)
        y = ((mean + p["offset"]) + p["gain"] * (luma - mean)).clamp(0.0, 1.0).float()
        c, s = np.cos(p["angle"]), np.sin(p["angle"])
        rot = (p["saturation"] * np.array([[c, -s], [s, c]])).astype(np.float32)
        new_cb = cb * float(rot[0, 0]) + cr * float(rot[0, 1])
        new_cr = cb * float(rot[1, 0]) + cr * float(rot[1, 1])
        return compose(y, new_cb, new_cr)

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        return self.restyle(*split(x), style)

    def restyle_batch(self, clips: torch.Tensor, styles: Sequence[int | str]) -> torch.Tensor:
        """Restyle a uint8 (B, T, H, W, 3) tensor, clip ``i`` in ``styles[i]``, every kernel once for
        the batch (only each clip's float64 luma mean is taken clip by clip, as :meth:`restyle` takes
        it). The values are :meth:`restyle`'s, bit for bit: the same float32 and float64 operations
        on the same numbers, with each clip's constants broadcast instead of passed as scalars."""
        own = type(self).__call__ is NaturalColour.__call__ and type(self).restyle is NaturalColour.restyle
        if not own:  # a subclass with its own transform: clip by clip, through it
            return super().restyle_batch(clips, styles)
        with one_thread_on_cpu(clips.device):
            luma, cb, cr = split(clips)
            luma64 = luma.double()
            means = torch.stack([clip.mean() for clip in luma64]).view(-1, 1, 1, 1)
            # per clip: offset (float64), gain and the 2 x 2 chroma matrix (float32), made on the device once
            table = [self._constants(style, clips.device) for style in styles]
            offset = torch.stack([t[0] for t in table]).view(-1, 1, 1, 1)
            gain, r00, r01, r10, r11 = torch.stack([t[1] for t in table]).view(-1, 5, 1, 1, 1).unbind(1)
            y = ((means + offset).float() + gain * (luma - means.float())).clamp(0.0, 1.0).float()
            return compose(y, cb * r00 + cr * r01, cb * r10 + cr * r11)

    def _constants(self, style: int | str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The style's luma offset (float64) and (gain, rot00, rot01, rot10, rot11) (float32) on
        ``device``, with the values :meth:`restyle` uses as Python scalars."""

        def make() -> tuple[torch.Tensor, torch.Tensor]:
            p = self.params(style)
            c, s = np.cos(p["angle"]), np.sin(p["angle"])
            rot = (p["saturation"] * np.array([[c, -s], [s, c]])).astype(np.float32)
            scales = [p["gain"], *(float(v) for v in rot.ravel())]
            offset = torch.tensor(p["offset"], dtype=torch.float64)
            return offset.to(device), torch.tensor(scales, dtype=torch.float32).to(device)

        return on_device(self, ("natural_colour", style), device, make)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "gain": list(self.gain),
            "offset": self.offset,
            "saturation": list(self.saturation),
            "hue_jitter": self.hue_jitter,
        }


class NaturalTexture(NaturalColour):
    """A style texture on the luma (fixed random convolution per style), then :class:`NaturalColour`.

    The filtered luma is standardised and given back the clip's own luma mean and standard
    deviation, so the texture changes but the brightness and contrast the network was trained on do
    not (the unbounded contrast changes of ``random_conv`` are what push clips out of distribution).

    Args:
        seed: seed of the per-style kernels and colours.
        size: kernel size (odd).
        texture_gain: range of the weight of the random zero-mean kernel against the identity.
        **colour: :class:`NaturalColour` options (``gain``, ``offset``, ``saturation``, ``hue_jitter``).

    Examples:
        >>> clip = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
        >>> a, b = NaturalTexture()(clip, 1), NaturalTexture()(clip, 2)
        >>> a.shape == clip.shape, bool((a != b).any())
        (True, True)
    """

    name = "natural_texture"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def __init__(self, seed: int = 0, size: int = 5, texture_gain: tuple[float, float] = (1.5, 2.5), **colour: Any):
        super().__init__(seed, **colour)
        if int(size) < 1 or int(size) % 2 == 0:
            raise ValueError(f"natural_texture: kernel size must be odd and positive, got {size}")
        self.size = int(size)
        self.texture_gain = _bounded(texture_gain, 0.0, "texture_gain")

    def kernel(self, style: int | str) -> np.ndarray:
        """The style's kernel: identity plus a random zero-mean kernel of norm ``texture_gain``."""
        rng = self.style_rng(style, stream=0xC0)
        r = rng.normal(size=(self.size, self.size))
        r -= r.mean()
        r /= np.linalg.norm(r)
        k = rng.uniform(*self.texture_gain) * r
        k[self.size // 2, self.size // 2] += 1.0
        return k

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        luma, cb, cr = split(x)
        kernel = style_kernel(self, style, x.device)
        textured = filter_frames(luma, kernel)
        mean, std = mean_std(luma)
        t_mean, t_std = mean_std(textured)
        textured = ((textured - t_mean) / (t_std + 1e-3) * std + mean).clamp(0.0, 1.0).float()
        return self.restyle(textured, cb, cr, style)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "size": self.size, "texture_gain": list(self.texture_gain)}


@hookimpl
def sdinterp_register(registry: Any) -> None:
    for cls in (NaturalColour, NaturalTexture):
        registry.add_restyler(cls.name, cls)
