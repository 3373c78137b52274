"""Weight-free, temporally consistent restylers: the dynamic pairs of Kowal et al. without stylized data.

A restyler maps a whole clip (T, H, W, 3) uint8 and a style id to a restyled clip of the same shape.
Every frame of a clip goes through the *same* transform, so motion is untouched; that is what makes
a (style a, style b) pair a *dynamic* pair. The reference work (YorkUCVIL/Static-Dynamic-
Interpretability) uses videos pre-stylized with a neural style-transfer network; these restylers
need no weights. Quality measured on real clips is in ``docs/restylers.md``
(``benchmarks/restyle_quality.py``).

* :class:`Photometric` (``"photometric"``, the default of :class:`~sdinterp.plugins.samplers.Restyle`):
  the clip's luma is standardised and set to the style's mean and contrast (sign included), and its
  chroma is replaced by a style-specific non-monotone function of (luma, clip-centred chroma).
* :class:`RandomConvTexture` (``"random_conv"``): the photometric style plus a fixed random
  convolution per style on the luma (a linear shift-invariant filter: it commutes with translation,
  so moving content moves the same way).
* :class:`FourierStyle` (``"fourier_style"``): a style image (given, or a texture generated per
  style) lends its amplitude spectrum and colours: a clip-level filter brings the clip's mean
  amplitude spectrum to the image's, and luma/chroma statistics follow the image's.
* :class:`ColorRemap` (``"color_remap"``): a fixed non-monotone tone curve per channel after channel
  mixing, the same for every clip.
* :class:`LevelPermutation` (``"level_permutation"``): a random permutation of intensity levels, for
  synthetic flat-colour videos only.

Clip-level statistics (means, contrast, spectra) are pooled over all frames, so the transform stays
the same for every frame; it depends on the clip, which is what keeps per-video static descriptors
from surviving across styles (a fixed monotone map would keep them perfectly correlated).

Every restyler takes a numpy clip (restyled on the CPU, returned as numpy) or a tensor on any device
(restyled there, every frame at once, nothing read back to the host; returned as a tensor): the pixel
kernels are in :mod:`._torch`, and agree with the numpy code they replaced to within one grey level
(docs/method.md, "The restylers in torch").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Restyler
from sdinterp.plugins.restylers._torch import (
    compose,
    filter_frames,
    median,
    on_device,
    restyles,
    smooth_log_amplitude,
    split,
    standardise,
    style_kernel,
)
from sdinterp.plugins.restylers.lookup import ColorRemap, LevelPermutation

__all__ = [
    "Restyler",
    "Photometric",
    "RandomConvTexture",
    "FourierStyle",
    "ColorRemap",
    "LevelPermutation",
    "style_texture",
]


class Photometric(Restyler):
    """Clip-adaptive colour style: standardised luma with the style's mean and contrast, and chroma
    from a style-specific non-monotone function of (luma, clip-centred chroma).

    The luma map is affine per clip (monotone, possibly inverted), which optical flow tolerates; the
    clip's own brightness, contrast and colour cast are removed, and the new colours depend on the
    content through a periodic function that differs per style, so mean colours and colour
    histograms of a video are nearly uncorrelated across styles.

    Args:
        seed: seed of the per-style parameters.
        chroma: amplitude of the new chroma (0.6 = saturated).
        cycles: range of the number of colour cycles across a standardised unit.

    Examples::

        >>> out = Photometric()(clip, style=2)                  # doctest: +SKIP
    """

    name = "photometric"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def __init__(self, seed: int = 0, chroma: float = 0.6, cycles: tuple[float, float] = (2.0, 4.0)):
        super().__init__(seed)
        self.chroma = float(chroma)
        self.cycles = (float(cycles[0]), float(cycles[1]))

    def params(self, style: int | str) -> dict[str, Any]:
        """The style's parameters (luma mean and signed contrast, chroma mixing, frequency, phase)."""
        rng = self.style_rng(style)
        contrast = rng.uniform(0.12, 0.2) * rng.choice([-1.0, 1.0])
        return {
            "mean": rng.uniform(0.35, 0.65),
            "contrast": contrast,
            "mix": (rng.normal(size=(2, 3)) * np.array([0.4, 2.5, 2.5])).astype(np.float32),
            "cycles": rng.uniform(*self.cycles),
            "phase": rng.uniform(0.0, 2 * np.pi, size=2),
        }

    def colour(
        self, z: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor, style: int | str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Map standardised luma ``z`` and input chroma (Cb, Cr) to the style's (luma, Cb, Cr).

        Args:
            z: standardised float32 luma (T, H, W).
            cb, cr: the clip's chroma planes.
            style: the style id.

        Returns:
            luma (float64: the signed contrast is a numpy float64), Cb and Cr (float32).
        """
        p = self.params(style)
        luma = (float(p["contrast"]) * z.double() + float(p["mean"])).clamp(0.0, 1.0)
        # Centre and scale the chroma per clip (floor: gray videos must not amplify noise).
        c0, c1 = standardise(cb, 0.02) * 0.1, standardise(cr, 0.02) * 0.1
        mix, freq = p["mix"], 2 * np.pi * p["cycles"]
        new = []
        for k in range(2):
            proj = z * float(mix[k, 0]) + c0 * float(mix[k, 1]) + c1 * float(mix[k, 2])
            new.append((self.chroma * torch.sin((proj * freq).double() + float(p["phase"][k]))).float())
        return luma, new[0], new[1]

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        y, cb, cr = split(x)
        return compose(*self.colour(standardise(y, 1e-3), cb, cr, style))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "chroma": self.chroma, "cycles": list(self.cycles)}


class RandomConvTexture(Photometric):
    """Texture style: a fixed random convolution per style on the luma, then the photometric style.

    The kernel is ``delta + gain * R`` with ``R`` a random zero-mean ``size x size`` kernel of unit
    norm, so every style keeps the image structure but adds its own oriented band-pass texture; a
    convolution is shift-invariant, so a translated object is filtered the same in every frame.

    Args:
        seed: seed of the per-style kernels and colours.
        size: kernel size (odd).
        gain: range of the texture gain.
        chroma, cycles: see :class:`Photometric`.

    Examples::

        >>> out = RandomConvTexture()(clip, style=1)             # doctest: +SKIP
    """

    name = "random_conv"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def __init__(
        self,
        seed: int = 0,
        size: int = 5,
        gain: tuple[float, float] = (0.5, 1.0),
        chroma: float = 0.6,
        cycles: tuple[float, float] = (2.0, 4.0),
    ):
        super().__init__(seed, chroma, cycles)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"kernel size must be odd and positive, got {size}")
        self.size = int(size)
        self.gain = (float(gain[0]), float(gain[1]))

    def kernel(self, style: int | str) -> np.ndarray:
        rng = self.style_rng(style, stream=0xC0)
        r = rng.normal(size=(self.size, self.size))
        r -= r.mean()
        r /= np.linalg.norm(r)
        k = rng.uniform(*self.gain) * r
        k[self.size // 2, self.size // 2] += 1.0
        return k

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        y, cb, cr = split(x)
        kernel = style_kernel(self, style, x.device)
        textured = filter_frames(y, kernel)
        return compose(*self.colour(standardise(textured, 1e-3), cb, cr, style))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "size": self.size, "gain": list(self.gain)}


def style_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random colour texture to use as a style image: a 1/f^a spectrum with two oriented peaks and
    random phase, coloured through a ramp of three random colours. uint8 (height, width, 3).

    Examples::

        >>> style_texture(32, 48, np.random.default_rng(0)).shape
        (32, 48, 3)
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.hypot(fx, fy)
    alpha = rng.uniform(0.8, 1.8)
    amp = 1.0 / (f + 1.0 / max(height, width)) ** alpha
    for _ in range(2):
        theta, radius, width_f = rng.uniform(0, np.pi), rng.uniform(0.05, 0.25), rng.uniform(0.01, 0.03)
        for sign in (1.0, -1.0):
            cx, cy = sign * radius * np.cos(theta), sign * radius * np.sin(theta)
            amp = amp + rng.uniform(0.5, 2.0) * radius**-alpha * np.exp(
                -((fx - cx) ** 2 + (fy - cy) ** 2) / (2 * width_f**2)
            )
    phase = np.exp(2j * np.pi * rng.random(amp.shape))
    tex = np.fft.irfft2(amp * phase, s=(height, width))
    t = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-9)
    stops = rng.random((3, 3))
    rgb = np.stack([np.interp(t, [0.0, 0.5, 1.0], stops[:, c]) for c in range(3)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def _fit_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale an image to cover (height, width), then centre-crop."""
    import cv2

    scale = max(height / image.shape[0], width / image.shape[1])
    h, w = max(height, round(image.shape[0] * scale)), max(width, round(image.shape[1] * scale))
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (h - height) // 2, (w - width) // 2
    return resized[top : top + height, left : left + width]


@functools.lru_cache(maxsize=1)
def _gaussian_kernel() -> np.ndarray:
    """OpenCV's kernel for ``GaussianBlur(float32 image, (0, 0), 1.5)``: 13 taps, float32."""
    import cv2

    return np.asarray(cv2.getGaussianKernel(13, 1.5, cv2.CV_32F), dtype=np.float32).ravel()


class FourierStyle(Photometric):
    """Style-image restyler: amplitude-spectrum and colour transfer from a style image.

    A clip-level filter ``H = (A_style / A_clip) ** strength`` (``A_clip``: the clip's mean luma
    amplitude spectrum, ``A_style``: the style image's, both smoothed) is applied to every frame's luma.
    A fixed filter is a convolution, so it commutes with translation and keeps motion, while the
    clip takes on the style's texture statistics (Fourier-domain style transfer in the spirit of
    Yang & Soatto's FDA, made temporally consistent by using one filter per clip). Colours: the
    photometric style with the luma mean and contrast of the style image, and chroma centred on the
    image's mean chroma.

    Args:
        seed: seed of the generated textures (when no image is given) and colour parameters.
        style_images: optional style -> image (path or uint8 (H, W, 3) array); other styles use a
            texture generated by :func:`style_texture`.
        strength: 0 keeps the clip's spectrum, 1 takes the style's.
        max_gain: bound on the filter gain, so noise at frequencies the clip lacks is not amplified.
        chroma: see :class:`Photometric`.
        min_contrast: lower bound of the luma contrast (standard deviation) taken from the image.

    Examples::

        >>> out = FourierStyle(style_images={1: "starry_night.jpg"})(clip, 1)     # doctest: +SKIP
    """

    name = "fourier_style"
    device_frames = True  # torch kernels on the clip's own device (_torch.py)

    def __init__(
        self,
        seed: int = 0,
        style_images: Mapping[Any, str | os.PathLike[str] | np.ndarray] | None = None,
        strength: float = 0.5,
        max_gain: float = 2.0,
        chroma: float = 0.6,
        min_contrast: float = 0.15,
    ):
        super().__init__(seed, chroma)
        self.style_images = dict(style_images or {})
        self.strength = float(strength)
        self.max_gain = float(max_gain)
        self.min_contrast = float(min_contrast)

    def image(self, style: int | str, height: int, width: int) -> np.ndarray:
        """The style image at (height, width): the given one, fitted, or a generated texture."""
        given = self.style_images.get(style)
        if given is None:
            return style_texture(height, width, self.style_rng(style, stream=0xF0))
        if not isinstance(given, np.ndarray):
            from sdinterp.data.video import read_image

            given = read_image(given)
            self.style_images[style] = given
        return _fit_image(given, height, width)

    def _style_constants(self, style: int | str, h: int, w: int, device: torch.device) -> dict[str, torch.Tensor]:
        """What the style image contributes at (h, w): its smoothed amplitude spectrum, luma mean,
        contrast (floored: the clip's detail must stay above 8-bit quantisation, without which
        optical flow degrades) and mean chroma."""
        y, cb, cr = split(torch.from_numpy(self.image(style, h, w)[None]).to(device))
        kernel = torch.from_numpy(_gaussian_kernel()).to(device)
        return {
            "kernel": kernel,
            "amplitude": smooth_log_amplitude(torch.fft.rfft2(y[0].double() - y.double().mean()).abs(), kernel),
            "mean": y.mean(),
            "contrast": y.std(correction=0).clamp(self.min_contrast, 0.25),
            "cb": cb.mean(),
            "cr": cr.mean(),
        }

    @restyles
    def __call__(self, x: torch.Tensor, style: int | str) -> torch.Tensor:
        """Restyle a uint8 (T, H, W, 3) clip (numpy array, or tensor on any device) in ``style``."""
        y, cb, cr = split(x)
        _, h, w = y.shape
        s = on_device(self, ("style", style, h, w), x.device, lambda: self._style_constants(style, h, w, x.device))
        y64 = y.double()
        spec = torch.fft.rfft2(y64 - y64.mean(), dim=(1, 2))
        a_clip = smooth_log_amplitude(spec.abs().mean(dim=0), s["kernel"])
        gain = (s["amplitude"] / a_clip) ** self.strength
        gain = (gain / median(gain)).clamp(1.0 / self.max_gain, self.max_gain)
        gain[0, 0] = 1.0
        filtered = torch.fft.irfft2(spec * gain, s=(h, w), dim=(1, 2)).float()
        luma, new_cb, new_cr = self.colour(standardise(filtered, 1e-3), cb, cr, style)
        # The style image sets the luma statistics and the mean colour.
        luma = (s["mean"] + s["contrast"] * standardise(luma, 1e-3)).clamp(0.0, 1.0)
        return compose(luma, new_cb + s["cb"], new_cr + s["cr"])

    def describe(self) -> dict[str, Any]:
        images = {str(k): (v if isinstance(v, (str, os.PathLike)) else "<array>") for k, v in self.style_images.items()}
        return {**super().describe(), "strength": self.strength, "max_gain": self.max_gain, "style_images": images}


@hookimpl
def sdinterp_register(registry: Any) -> None:
    for cls in (Photometric, RandomConvTexture, FourierStyle, ColorRemap, LevelPermutation):
        registry.add_restyler(cls.name, cls)
