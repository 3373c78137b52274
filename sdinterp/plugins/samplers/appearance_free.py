"""Appearance-free dynamic pairs: the clip's motion carried by random dots (issue #13, item 5).

After Ilić et al.'s appearance-free videos (random-dot kinematograms whose dots move with a real
video's optical flow): the anchor and the partner are the same clip rendered as two random-dot
kinematograms with different dot seeds. Each dot is placed at random, takes a random colour, and is
carried from frame t to t + 1 by the clip's flow at its position; dots that leave the frame or reach
the end of their lifetime are reborn at random. The two elements of a pair thus share the motion
and nothing of the appearance — not the colours, not the textures, not even the texture energy the
weight-free restylers keep (``docs/restylers.md``).

Flow comes from the sample (``Sample.flow`` as float (u, v)) or is computed with OpenCV DIS
(:func:`sdinterp.data.flow.clip_flow`) once per clip, in :meth:`AppearanceFree.anchor`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["AppearanceFree", "render_kinematogram"]

_BACKGROUND = 128.0


def _sample_flow(flow: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of an (H, W, 2) flow at float positions (clamped to the frame)."""
    h, w = flow.shape[:2]
    x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    x0, y0 = np.minimum(x.astype(int), w - 2 if w > 1 else 0), np.minimum(y.astype(int), h - 2 if h > 1 else 0)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _splat(x: np.ndarray, y: np.ndarray, colour: np.ndarray, h: int, w: int, sigma: float) -> np.ndarray:
    """Dots drawn at sub-pixel positions: bilinear splats, blurred into soft discs, over grey."""
    import cv2

    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    values = np.concatenate([colour, np.ones((len(x), 1))], axis=1)
    idx, wts = [], []
    for dy, dx, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        idx.append(yy[ok] * w + xx[ok])
        wts.append(values[ok] * wgt[ok, None])
    flat, weight = np.concatenate(idx), np.concatenate(wts)
    acc = np.stack([np.bincount(flat, weight[:, c], minlength=h * w) for c in range(4)], axis=1)
    blurred = cv2.GaussianBlur(acc.reshape(h, w, 4).astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    peak = 1.0 / (2 * np.pi * sigma * sigma)  # a lone dot's centre weight: full opacity there
    alpha = np.clip(blurred[..., 3:] / peak, 0.0, 1.0)
    colour_img = blurred[..., :3] / np.maximum(blurred[..., 3:], 1e-6)
    return alpha * colour_img + (1.0 - alpha) * _BACKGROUND


def render_kinematogram(
    frames: np.ndarray,
    dot_seed: int,
    flow: np.ndarray | None = None,
    density: float = 0.08,
    lifetime: int = 8,
    dot_sigma: float = 0.8,
) -> np.ndarray:
    """A random-dot kinematogram of a clip: random dots moved by the clip's optical flow.

    Args:
        frames: uint8 (T, H, W, 3), the clip (only its flow is used).
        dot_seed: seed of the dots (positions, colours, ages, rebirths).
        flow: float (T, H, W, 2) flow, ``flow[t]`` from frame t to t + 1 (default: DIS flow of ``frames``).
        density: dots per pixel.
        lifetime: frames a dot lives before it is reborn elsewhere (ages start staggered), so dots do
            not pile up where the flow converges.
        dot_sigma: blur of a dot, in pixels.

    Returns:
        uint8 (T, H, W, 3).

    Examples:
        >>> clip = np.random.default_rng(0).integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
        >>> still = np.zeros((3, 24, 24, 2), np.float32)
        >>> k = render_kinematogram(clip, dot_seed=1, flow=still, lifetime=10**6)
        >>> k.shape, bool(np.array_equal(k[0], k[2]))   # no motion: the dots stand still
        ((3, 24, 24, 3), True)
    """
    t_len, h, w = frames.shape[:3]
    if flow is None:
        from sdinterp.data.flow import clip_flow

        flow = clip_flow(frames)
    flow = np.asarray(flow, dtype=np.float64)
    if flow.shape != (t_len, h, w, 2):
        raise ValueError(f"flow must be (T, H, W, 2) = {(t_len, h, w, 2)} float (u, v), got {flow.shape}")
    rng = np.random.default_rng(int(dot_seed))
    n = max(1, int(round(density * h * w)))
    x, y = rng.uniform(0, w, n), rng.uniform(0, h, n)
    colour = rng.uniform(0, 255, (n, 3))
    age = rng.integers(0, max(1, lifetime), n)
    out = np.empty((t_len, h, w, 3), np.uint8)
    for t in range(t_len):
        out[t] = np.clip(np.round(_splat(x, y, colour, h, w, dot_sigma)), 0, 255).astype(np.uint8)
        if t == t_len - 1:
            break
        step = _sample_flow(flow[t], x, y)
        x, y, age = x + step[:, 0], y + step[:, 1], age + 1
        reborn = (age >= lifetime) | (x < 0) | (x >= w) | (y < 0) | (y >= h)
        k = int(reborn.sum())
        if k:
            x[reborn], y[reborn] = rng.uniform(0, w, k), rng.uniform(0, h, k)
            colour[reborn] = rng.uniform(0, 255, (k, 3))
            age[reborn] = 0
    return out


class AppearanceFree(PairSampler):
    """Dynamic pair: the same clip's motion as two random-dot kinematograms with different dot seeds.

    The anchor itself becomes a kinematogram (as ``restyle`` restyles its anchor), so the model sees
    only dots, and the static pairs of the same clip (frame shuffles of the anchor) are shuffles of
    the kinematogram. The flow is computed once per clip and kept in the anchor's
    ``meta["kinematogram_flow"]``; the original frames in ``meta["unstyled"]``.

    Args:
        density: dots per pixel.
        lifetime: frames a dot lives before rebirth.
        dot_sigma: blur of a dot in pixels.
        flow_preset: OpenCV DIS preset for clips without float flow (``ultrafast``, ``fast``, ``medium``).

    Examples::

        >>> sampler = AppearanceFree()                                       # doctest: +SKIP
        >>> anchor = sampler.anchor(sample, rng)                             # dots, seed from rng  # doctest: +SKIP
        >>> partner = sampler.partner(anchor, rng)                           # other dots, same flow  # doctest: +SKIP
    """

    factor = Factor.DYNAMIC
    name = "appearance_free"

    def __init__(self, density: float = 0.08, lifetime: int = 8, dot_sigma: float = 0.8, flow_preset: str = "medium"):
        if not 0.0 < density <= 1.0:
            raise ValueError(f"density must be in (0, 1] dots per pixel, got {density}")
        if lifetime < 1 or dot_sigma <= 0:
            raise ValueError(f"lifetime must be >= 1 and dot_sigma > 0, got {lifetime} and {dot_sigma}")
        self.density, self.lifetime, self.dot_sigma, self.flow_preset = (
            float(density),
            int(lifetime),
            float(dot_sigma),
            flow_preset,
        )

    def _flow(self, sample: Sample) -> np.ndarray:
        flow = sample.meta.get("kinematogram_flow")
        if flow is not None:
            return flow
        if sample.flow is not None and np.asarray(sample.flow).ndim == 4 and np.asarray(sample.flow).shape[-1] == 2:
            return np.asarray(sample.flow, dtype=np.float32)
        from sdinterp.data.flow import clip_flow

        return clip_flow(sample.meta.get("unstyled", sample.frames), preset=self.flow_preset)

    def _render(self, sample: Sample, flow: np.ndarray, seed: int) -> np.ndarray:
        return render_kinematogram(
            sample.meta.get("unstyled", sample.frames), seed, flow, self.density, self.lifetime, self.dot_sigma
        )

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flow = self._flow(sample)
        seed = int(rng.integers(2**31))
        frames = self._render(sample, flow, seed)
        return sample.replace(
            frames=frames, style=f"dots{seed}", meta=dict(sample.meta, unstyled=sample.frames, kinematogram_flow=flow)
        )

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        flow = self._flow(anchor)
        own = anchor.style if isinstance(anchor.style, str) and anchor.style.startswith("dots") else None
        seed = int(rng.integers(2**31))
        while own == f"dots{seed}":  # never the anchor's own dots
            seed = int(rng.integers(2**31))
        return anchor.replace(frames=self._render(anchor, flow, seed), style=f"dots{seed}")

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "density": self.density,
            "lifetime": self.lifetime,
            "dot_sigma": self.dot_sigma,
            "flow": f"sample float flow, else OpenCV DIS ({self.flow_preset})",
        }


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(AppearanceFree.name, AppearanceFree)
