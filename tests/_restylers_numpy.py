"""A frozen copy of the restylers' numpy pixel algorithms, as they were before they moved to torch
(issue 21), kept only to test that the torch versions give the same clips (tests/test_restylers_torch.py).

Each class subclasses the package's restyler, so the per-style parameters (drawn from the same numpy
generators, unchanged) are shared, and overrides ``__call__`` with the old numpy code, verbatim.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdinterp.plugins import restylers as R
from sdinterp.plugins.restylers import natural as N

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _split(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = frames.astype(np.float32) / 255.0
    y = x @ _LUMA
    chroma = np.stack([0.564 * (x[..., 2] - y), 0.713 * (x[..., 0] - y)], axis=-1)
    return y, chroma


def _compose(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    cb, cr = chroma[..., 0], chroma[..., 1]
    d = np.stack([1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb], axis=-1)
    room_up = np.where(d > 0, (1.0 - luma)[..., None] / np.maximum(d, 1e-6), np.inf)
    room_dn = np.where(d < 0, luma[..., None] / np.maximum(-d, 1e-6), np.inf)
    shrink = np.minimum(1.0, np.minimum(room_up, room_dn).min(axis=-1))[..., None]
    return np.clip(np.round((luma[..., None] + shrink * d) * 255.0), 0, 255).astype(np.uint8)


def _standardise(a: np.ndarray, floor: float) -> np.ndarray:
    mean, std = float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64))
    return ((a - mean) / (std + floor)).astype(np.float32)


def _colour(r: Any, z: np.ndarray, chroma: np.ndarray, style: Any) -> tuple[np.ndarray, np.ndarray]:
    p = r.params(style)
    luma = np.clip(p["mean"] + p["contrast"] * z, 0.0, 1.0)
    cen = np.stack([_standardise(chroma[..., c], 0.02) * 0.1 for c in range(2)], axis=-1)
    feat = np.concatenate([z[..., None], cen], axis=-1)
    new = r.chroma * np.sin(2 * np.pi * p["cycles"] * (feat @ p["mix"].T) + p["phase"])
    return luma, new.astype(np.float32)


def _filter_frames(y: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import cv2

    k = kernel.astype(np.float32)
    return np.stack([cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REFLECT) for f in y])


def _log_smooth_amplitude(spec: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    import cv2

    centred = np.fft.fftshift(np.log(spec + 1e-6), axes=0).astype(np.float32)
    return np.exp(np.fft.ifftshift(cv2.GaussianBlur(centred, (0, 0), sigma), axes=0))


class Photometric(R.Photometric):
    def __call__(self, frames: Any, style: Any) -> Any:
        y, chroma = _split(frames)
        luma, new = _colour(self, _standardise(y, 1e-3), chroma, style)
        return _compose(luma, new)


class RandomConvTexture(R.RandomConvTexture):
    def __call__(self, frames: Any, style: Any) -> Any:
        y, chroma = _split(frames)
        textured = _filter_frames(y, self.kernel(style))
        luma, new = _colour(self, _standardise(textured, 1e-3), chroma, style)
        return _compose(luma, new)


class FourierStyle(R.FourierStyle):
    #: ``np.float64``: the style spectrum's mean subtracted in float64, as the torch version does
    #: (``None``: the old float32 mean, whose rounding leaves ~1e-5 in the DC bin).
    style_mean_dtype: Any = None

    def __call__(self, frames: Any, style: Any) -> Any:
        y, chroma = _split(frames)
        _, h, w = y.shape
        style_y, style_c = _split(self.image(style, h, w)[None])
        spec = np.fft.rfft2(y - y.mean(dtype=np.float64), axes=(1, 2))
        a_clip = _log_smooth_amplitude(np.abs(spec).mean(axis=0, dtype=np.float64))
        a_style = _log_smooth_amplitude(np.abs(np.fft.rfft2(style_y[0] - style_y.mean(dtype=self.style_mean_dtype))))
        gain = (a_style / a_clip) ** self.strength
        gain = np.clip(gain / np.median(gain), 1.0 / self.max_gain, self.max_gain)
        gain[0, 0] = 1.0
        filtered = np.fft.irfft2(spec * gain, s=(h, w), axes=(1, 2)).astype(np.float32)
        luma, new = _colour(self, _standardise(filtered, 1e-3), chroma, style)
        contrast = float(np.clip(style_y.std(), self.min_contrast, 0.25))
        luma = np.clip(float(style_y.mean()) + contrast * _standardise(luma, 1e-3), 0.0, 1.0)
        return _compose(luma, new + style_c.reshape(-1, 2).mean(axis=0))


class ColorRemap(R.ColorRemap):
    def __call__(self, frames: Any, style: Any) -> Any:
        mix, lut = self._lut(style)
        x = frames.astype(np.float32) / 255.0
        mixed = x @ mix.T.astype(np.float32)
        lo = np.minimum(mix, 0).sum(axis=1)
        hi = np.maximum(mix, 0).sum(axis=1)
        idx = np.clip(((mixed - lo) / np.maximum(hi - lo, 1e-6) * 255.0).round(), 0, 255).astype(np.int64)
        out = np.empty_like(frames)
        for c in range(3):
            out[..., c] = (lut[c][idx[..., c]] * 255.0).round().astype(np.uint8)
        return out


class LevelPermutation(R.LevelPermutation):
    def __call__(self, frames: Any, style: Any) -> Any:
        rng = self.style_rng(style)
        luts = np.stack([rng.permutation(256) for _ in range(3)]).astype(np.uint8)
        out = np.empty_like(frames)
        for c in range(3):
            out[..., c] = luts[c][frames[..., c]]
        return out


def _natural_restyle(r: Any, luma: np.ndarray, chroma: np.ndarray, style: Any) -> np.ndarray:
    p = r.params(style)
    mean = float(luma.mean(dtype=np.float64))
    y = np.clip(mean + p["offset"] + p["gain"] * (luma - mean), 0.0, 1.0).astype(np.float32)
    c, s = np.cos(p["angle"]), np.sin(p["angle"])
    rot = (p["saturation"] * np.array([[c, -s], [s, c]])).astype(np.float32)
    return _compose(y, (chroma @ rot.T).astype(np.float32))


class NaturalColour(N.NaturalColour):
    def __call__(self, frames: Any, style: Any) -> Any:
        luma, chroma = _split(frames)
        return _natural_restyle(self, luma, chroma, style)


class NaturalTexture(N.NaturalTexture):
    def __call__(self, frames: Any, style: Any) -> Any:
        luma, chroma = _split(frames)
        textured = _filter_frames(luma, self.kernel(style))
        mean, std = float(luma.mean(dtype=np.float64)), float(luma.std(dtype=np.float64))
        t_mean, t_std = float(textured.mean(dtype=np.float64)), float(textured.std(dtype=np.float64))
        textured = np.clip((textured - t_mean) / (t_std + 1e-3) * std + mean, 0.0, 1.0).astype(np.float32)
        return _natural_restyle(self, textured, chroma, style)


#: registry name -> frozen numpy restyler class
FROZEN = {
    cls.name: cls
    for cls in (
        Photometric,
        RandomConvTexture,
        FourierStyle,
        ColorRemap,
        LevelPermutation,
        NaturalColour,
        NaturalTexture,
    )
}
