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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Restyler

__all__ = [
    "Restyler",
    "Photometric",
    "RandomConvTexture",
    "FourierStyle",
    "ColorRemap",
    "LevelPermutation",
    "style_texture",
]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601, as cv2.COLOR_RGB2GRAY


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"restylers take uint8 (T, H, W, 3) clips, got {frames.dtype} {frames.shape}")
    return frames


def _split(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB -> float32 luma Y in [0, 1] and chroma (Cb, Cr) (BT.601 scaling)."""
    x = frames.astype(np.float32) / 255.0
    y = x @ _LUMA
    chroma = np.stack([0.564 * (x[..., 2] - y), 0.713 * (x[..., 0] - y)], axis=-1)
    return y, chroma


def _compose(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """(Y, Cb, Cr) -> uint8 RGB, shrinking the chroma where it would leave [0, 1], so the output's
    luma (what optical flow is computed on) is exactly ``luma``."""
    cb, cr = chroma[..., 0], chroma[..., 1]
    d = np.stack([1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb], axis=-1)
    room_up = np.where(d > 0, (1.0 - luma)[..., None] / np.maximum(d, 1e-6), np.inf)
    room_dn = np.where(d < 0, luma[..., None] / np.maximum(-d, 1e-6), np.inf)
    shrink = np.minimum(1.0, np.minimum(room_up, room_dn).min(axis=-1))[..., None]
    return np.clip(np.round((luma[..., None] + shrink * d) * 255.0), 0, 255).astype(np.uint8)


def _standardise(a: np.ndarray, floor: float) -> np.ndarray:
    # float64 statistics: a float32 sum depends on the order of the frames, and a transform that
    # changed with the frame order would not be the same transform for every frame.
    mean, std = float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64))
    return ((a - mean) / (std + floor)).astype(np.float32)


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

    def colour(self, z: np.ndarray, chroma: np.ndarray, style: int | str) -> tuple[np.ndarray, np.ndarray]:
        """Map standardised luma ``z`` and input chroma to the style's (luma, chroma)."""
        p = self.params(style)
        luma = np.clip(p["mean"] + p["contrast"] * z, 0.0, 1.0)
        # Centre and scale the chroma per clip (floor: gray videos must not amplify noise).
        cen = np.stack([_standardise(chroma[..., c], 0.02) * 0.1 for c in range(2)], axis=-1)
        feat = np.concatenate([z[..., None], cen], axis=-1)
        new = self.chroma * np.sin(2 * np.pi * p["cycles"] * (feat @ p["mix"].T) + p["phase"])
        return luma, new.astype(np.float32)

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        y, chroma = _split(_check_frames(frames))
        luma, new = self.colour(_standardise(y, 1e-3), chroma, style)
        return _compose(luma, new)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "chroma": self.chroma, "cycles": list(self.cycles)}


def _filter_frames(y: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import cv2

    k = kernel.astype(np.float32)
    return np.stack([cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REFLECT) for f in y])


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

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        y, chroma = _split(_check_frames(frames))
        textured = _filter_frames(y, self.kernel(style))
        luma, new = self.colour(_standardise(textured, 1e-3), chroma, style)
        return _compose(luma, new)

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


def _log_smooth_amplitude(spec: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Smooth a rfft2 amplitude spectrum in log space (centred along the full axis)."""
    import cv2

    centred = np.fft.fftshift(np.log(spec + 1e-6), axes=0).astype(np.float32)
    return np.exp(np.fft.ifftshift(cv2.GaussianBlur(centred, (0, 0), sigma), axes=0))


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

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        y, chroma = _split(_check_frames(frames))
        _, h, w = y.shape
        style_y, style_c = _split(self.image(style, h, w)[None])
        spec = np.fft.rfft2(y - y.mean(dtype=np.float64), axes=(1, 2))
        a_clip = _log_smooth_amplitude(np.abs(spec).mean(axis=0, dtype=np.float64))
        a_style = _log_smooth_amplitude(np.abs(np.fft.rfft2(style_y[0] - style_y.mean())))
        gain = (a_style / a_clip) ** self.strength
        gain = np.clip(gain / np.median(gain), 1.0 / self.max_gain, self.max_gain)
        gain[0, 0] = 1.0
        filtered = np.fft.irfft2(spec * gain, s=(h, w), axes=(1, 2)).astype(np.float32)
        luma, new = self.colour(_standardise(filtered, 1e-3), chroma, style)
        # The style image sets the luma statistics and the mean colour; a contrast floor keeps the
        # clip's detail above 8-bit quantisation, without which optical flow degrades.
        contrast = float(np.clip(style_y.std(), self.min_contrast, 0.25))
        luma = np.clip(float(style_y.mean()) + contrast * _standardise(luma, 1e-3), 0.0, 1.0)
        return _compose(luma, new + style_c.reshape(-1, 2).mean(axis=0))

    def describe(self) -> dict[str, Any]:
        images = {str(k): (v if isinstance(v, (str, os.PathLike)) else "<array>") for k, v in self.style_images.items()}
        return {**super().describe(), "strength": self.strength, "max_gain": self.max_gain, "style_images": images}


class ColorRemap(Restyler):
    """Photometric style: a non-monotonic tone curve per channel followed by channel mixing.

    Each style draws, per output channel, a random mix of the three input channels and a smooth
    periodic tone curve (0.75–1.5 cycles over the intensity range, random phase). The map is the same
    for every clip; its folds flatten contrast, which costs optical-flow accuracy on real video
    (``docs/restylers.md``).
    """

    name = "color_remap"

    def _lut(self, style: int | str) -> tuple[np.ndarray, np.ndarray]:
        rng = self.style_rng(style)
        mix = rng.dirichlet(np.ones(3), size=3) * rng.choice([-1.0, 1.0], size=(3, 3))
        cycles = rng.uniform(0.75, 1.5, size=3)
        phase = rng.uniform(0.0, 1.0, size=3)
        x = np.linspace(0.0, 1.0, 256)
        lut = 0.5 + 0.5 * np.sin(2 * np.pi * (cycles[:, None] * x[None, :] + phase[:, None]))
        return mix, lut

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        frames = _check_frames(frames)
        mix, lut = self._lut(style)
        x = frames.astype(np.float32) / 255.0
        mixed = x @ mix.T.astype(np.float32)  # (T, H, W, 3), each in [-1, 1]
        lo = np.minimum(mix, 0).sum(axis=1)
        hi = np.maximum(mix, 0).sum(axis=1)
        idx = np.clip(((mixed - lo) / np.maximum(hi - lo, 1e-6) * 255.0).round(), 0, 255).astype(np.int64)
        out = np.empty_like(frames)
        for c in range(3):
            out[..., c] = (lut[c][idx[..., c]] * 255.0).round().astype(np.uint8)
        return out


class LevelPermutation(Restyler):
    """A random permutation of the 256 intensity levels per channel, per style.

    Injective, so region boundaries, masks and motion of flat-coloured content are kept exactly
    while colours become unrelated across styles. Meant for synthetic flat-colour videos (the planted
    ground-truth tests); on natural video it destroys shading and texture.
    """

    name = "level_permutation"

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        frames = _check_frames(frames)
        rng = self.style_rng(style)
        luts = np.stack([rng.permutation(256) for _ in range(3)]).astype(np.uint8)
        out = np.empty_like(frames)
        for c in range(3):
            out[..., c] = luts[c][frames[..., c]]
        return out


@hookimpl
def sdinterp_register(registry: Any) -> None:
    for cls in (Photometric, RandomConvTexture, FourierStyle, ColorRemap, LevelPermutation):
        registry.add_restyler(cls.name, cls)
