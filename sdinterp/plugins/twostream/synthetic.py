"""Synthetic (image, flow, mask) data for training two-stream models on a CPU: a textured square
moving over a textured background, whose mask and flow are known exactly.

With ``camouflage`` the square's texture is drawn from the same distribution as the background, so
only the motion reveals it (the situation MoCA tests, paper Sec. 5.3); otherwise it has its own
colours and appearance alone suffices. The background is static, so the flow is the square's
displacement inside the mask and zero elsewhere.
"""

from __future__ import annotations

import numpy as np

from sdinterp.interfaces import Sample

__all__ = ["moving_square", "synthetic_batch"]


def _texture(rng: np.random.Generator, size: int, cells: int, palette: np.ndarray) -> np.ndarray:
    import cv2

    coarse = rng.random((cells, cells, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    fine = rng.random((size, size, 3)).astype(np.float32) * 0.25
    return np.clip((smooth * 0.75 + fine) * palette, 0.0, 255.0)


def moving_square(rng: np.random.Generator, size: int = 64, camouflage: bool = False, max_speed: float = 3.0) -> Sample:
    """One synthetic (image, flow) sample; the mask is ``meta["mask"]`` (H, W) uint8 in {0, 1}.

    Args:
        rng: the generator every draw comes from.
        size: side of the square frame in pixels.
        camouflage: give the square the background's texture statistics.
        max_speed: the square moves by up to this many pixels per frame along each axis.

    Returns:
        A one-frame :class:`~sdinterp.interfaces.Sample` with float (u, v) flow.

    Examples:
        >>> s = moving_square(np.random.default_rng(0), size=32)
        >>> s.frames.shape, s.flow.shape, int(s.meta["mask"].sum()) > 0
        ((1, 32, 32, 3), (1, 32, 32, 2), True)
    """
    palette = np.array([255.0, 255.0, 255.0], dtype=np.float32) * rng.uniform(0.5, 1.0, 3).astype(np.float32)
    image = _texture(rng, size, int(rng.integers(4, 9)), palette)
    side = int(rng.integers(size // 4, size // 2 + 1))
    top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
    own = (
        palette
        if camouflage
        else np.array([255.0, 255.0, 255.0], dtype=np.float32) * rng.uniform(0.2, 1.0, 3).astype(np.float32)
    )
    image[top : top + side, left : left + side] = _texture(rng, side, int(rng.integers(2, 6)), own)
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[top : top + side, left : left + side] = 1
    flow = np.zeros((size, size, 2), dtype=np.float32)
    speed = rng.uniform(-max_speed, max_speed, 2).astype(np.float32)
    if np.abs(speed).max() < 0.5:  # a still square would make the motion stream useless
        speed[int(rng.integers(2))] = np.float32(max_speed)
    flow[mask.astype(bool)] = speed
    return Sample(
        frames=np.round(image)[None].astype(np.uint8),
        flow=flow[None],
        video_id="synthetic-square",
        meta={"mask": mask, "camouflage": bool(camouflage)},
    )


def synthetic_batch(rng: np.random.Generator, n: int, size: int = 64, camouflage: float = 0.5) -> list[Sample]:
    """``n`` samples, each camouflaged with probability ``camouflage``."""
    return [moving_square(rng, size, bool(rng.random() < camouflage)) for _ in range(n)]
