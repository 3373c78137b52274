"""Optical flow as an image: the Middlebury colour wheel (Baker et al., IJCV 2011), as the
``FlowImages_gap1`` PNGs of Stylized-DAVIS encode it — hue = direction, saturation = magnitude,
white = no motion — and its inverse. Re-exported by :mod:`sdinterp.data.flow`, where the rest of the
flow tools live."""

from __future__ import annotations

import numpy as np

__all__ = ["flow_to_rgb", "rgb_to_flow"]


def _wheel() -> np.ndarray:
    """The Middlebury colour wheel: 55 hues in six ramps (red-yellow 15, yellow-green 6, green-cyan 4,
    cyan-blue 11, blue-magenta 13, magenta-red 6), as RGB in [0, 1]."""
    ramps = []
    # (constant-1 channel, ramping channel, ramp up?) per segment, in hue order.
    spec = [(0, 1, True, 15), (1, 0, False, 6), (1, 2, True, 4), (2, 1, False, 11), (2, 0, True, 13), (0, 2, False, 6)]
    for full, ramp, up, n in spec:
        seg = np.zeros((n, 3))
        seg[:, full] = 1.0
        t = np.arange(n) / n
        seg[:, ramp] = t if up else 1.0 - t
        ramps.append(seg)
    return np.concatenate(ramps)


_WHEEL = _wheel()
_SEGMENTS = np.array([15, 6, 4, 11, 13, 6])
_SEG_START = np.concatenate([[0], np.cumsum(_SEGMENTS)[:-1]])


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Encode flow as an RGB image with the Middlebury colour wheel.

    Args:
        flow: float (H, W, 2) or (T, H, W, 2).
        max_magnitude: the magnitude shown fully saturated. ``None`` normalises each frame by its own
            largest magnitude (as the common flow-visualisation tools do). Larger magnitudes are
            clipped, so that :func:`rgb_to_flow` stays an inverse.

    Returns:
        uint8 (..., H, W, 3).

    Examples::

        >>> rgb = flow_to_rgb(np.zeros((4, 4, 2)))
        >>> int(rgb.min())                 # no motion is white
        255
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim not in (3, 4) or flow.shape[-1] != 2:
        raise ValueError(f"flow must be (H, W, 2) or (T, H, W, 2), got {flow.shape}")
    u, v = flow[..., 0], flow[..., 1]
    mag = np.hypot(u, v)
    if max_magnitude is None:  # each frame by its own largest magnitude
        scale = mag.max(axis=(-2, -1), keepdims=True) if mag.size else np.zeros(mag.shape[:-2] + (1, 1))
    else:
        scale = np.full(mag.shape[:-2] + (1, 1), float(max_magnitude))
    with np.errstate(divide="ignore", invalid="ignore"):
        rad = np.where(scale > 0, np.clip(mag / np.where(scale > 0, scale, 1.0), 0.0, 1.0), 0.0)
    n = len(_WHEEL)
    fk = (np.arctan2(-v, -u) / np.pi + 1.0) / 2.0 * (n - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % n
    f = (fk - k0)[..., None]
    col = (1.0 - f) * _WHEEL[k0] + f * _WHEEL[k1]
    col = 1.0 - rad[..., None] * (1.0 - col)
    return np.clip(np.round(col * 255.0), 0, 255).astype(np.uint8)


def rgb_to_flow(rgb: np.ndarray, max_magnitude: float = 1.0) -> np.ndarray:
    """Decode a Middlebury-wheel flow image back to (u, v).

    The encoding is white-to-hue along the radius, so ``1 - colour`` is the magnitude times a fully
    saturated wheel colour; its largest channel gives the magnitude and its HSV hue gives the
    position on the wheel, because every wheel ramp moves the hue linearly through one 60° sector.

    Args:
        rgb: uint8 (..., H, W, 3) flow image(s).
        max_magnitude: the magnitude of a fully saturated colour (the value used when encoding); the
            default 1.0 returns flow in units of that unknown maximum.

    Returns:
        float32 (..., H, W, 2). Accurate to the 8-bit quantisation (about 1/255 of ``max_magnitude``
        in magnitude; the direction is less precise for very small magnitudes).

    Examples::

        >>> f = np.array([[[3.0, -4.0]]])
        >>> np.round(rgb_to_flow(flow_to_rgb(f, 5.0), 5.0), 1).tolist()
        [[[3.0, -4.0]]]
    """
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    d = 1.0 - c
    rad = d.max(axis=-1)
    safe = np.where(rad > 0, rad, 1.0)[..., None]
    col = 1.0 - d / safe  # a fully saturated wheel colour: max channel 1, min channel 0
    cmax, cmin = col.max(axis=-1), col.min(axis=-1)
    span = np.where(cmax - cmin > 0, cmax - cmin, 1.0)
    r, g, b = col[..., 0], col[..., 1], col[..., 2]
    hue = np.where(
        cmax == r,
        ((g - b) / span) % 6.0,
        np.where(cmax == g, (b - r) / span + 2.0, (r - g) / span + 4.0),
    )  # in sectors of 60 degrees, [0, 6)
    sector = np.clip(np.floor(hue).astype(np.int64), 0, 5)
    fk = _SEG_START[sector] + (hue - sector) * _SEGMENTS[sector]
    angle = (fk / (len(_WHEEL) - 1) * 2.0 - 1.0) * np.pi  # = atan2(-v, -u)
    mag = rad * float(max_magnitude)
    return np.stack([-mag * np.cos(angle), -mag * np.sin(angle)], axis=-1).astype(np.float32)
