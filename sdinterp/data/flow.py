"""Dense optical flow: computing it (OpenCV DIS or Farneback), encoding it as RGB, caching it on
disk, and reading precomputed flow images.

Two-stream models of the reference study (MATNet, RTNet, FusionSeg) take the flow as an RGB image,
``FlowImages_gap1/<seq>/<frame>.png`` in Stylized-DAVIS (reference: YorkUCVIL/Static-Dynamic-
Interpretability, ``dataset_factory/StylizedDAVIS.py``), so this module converts between (u, v) fields
and the standard Middlebury colour wheel (Baker et al., IJCV 2011): hue = direction, saturation =
magnitude, white = no motion.

Conventions: flow fields are float32 (H, W, 2) with (u, v) = (dx, dy) in pixels, mapping a pixel of
frame t to its position in frame t + 1; per-frame flow of a clip is (T, H, W, 2).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from sdinterp.errors import SdinterpError

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.data.video import VideoSource

__all__ = [
    "FlowMethod",
    "FlowError",
    "compute_flow",
    "clip_flow",
    "flow_to_rgb",
    "rgb_to_flow",
    "read_flow_images",
    "endpoint_error",
    "relative_epe",
    "FlowCache",
]

FlowMethod = Literal["dis", "farneback"]

_DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


class FlowError(SdinterpError, ValueError):
    """A flow file or field that cannot be used; the message names the file."""


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame, dtype=np.uint8)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"optical flow takes uint8 (H, W, 3) RGB or (H, W) frames, got {frame.dtype} {frame.shape}")
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def compute_flow(
    frame1: np.ndarray, frame2: np.ndarray, method: FlowMethod = "dis", preset: str = "medium"
) -> np.ndarray:
    """Dense optical flow from ``frame1`` to ``frame2`` with OpenCV.

    Args:
        frame1: uint8 (H, W, 3) RGB or (H, W) gray frame.
        frame2: the next frame, same shape.
        method: ``"dis"`` (Dense Inverse Search, the default: fast and accurate) or ``"farneback"``.
        preset: DIS preset, ``"ultrafast"``, ``"fast"`` or ``"medium"``; ignored by Farneback.

    Returns:
        float32 (H, W, 2) flow (u, v) in pixels.

    Examples::

        >>> f = compute_flow(frames[0], frames[1])           # doctest: +SKIP
        >>> f.shape                                           # doctest: +SKIP
        (576, 768, 2)
    """
    import cv2

    g1, g2 = _gray(frame1), _gray(frame2)
    if g1.shape != g2.shape:
        raise ValueError(f"flow frames differ in size: {g1.shape} vs {g2.shape}")
    if method == "dis":
        if preset not in _DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; expected one of {sorted(_DIS_PRESETS)}")
        flow = cv2.DISOpticalFlow_create(_DIS_PRESETS[preset]).calc(g1, g2, None)  # type: ignore[attr-defined]
    elif method == "farneback":
        # OpenCV's documented example parameters: 3 levels, 15 px window, poly_n 5, sigma 1.2.
        flow = cv2.calcOpticalFlowFarneback(g1, g2, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        raise ValueError(f"unknown flow method {method!r}; expected 'dis' or 'farneback'")
    return np.asarray(flow, dtype=np.float32)


def clip_flow(frames: np.ndarray, method: FlowMethod = "dis", preset: str = "medium") -> np.ndarray:
    """Per-frame flow of a clip, aligned with its frames: ``flow[t]`` maps frame t to frame t + 1.

    The last frame has no successor; it repeats the previous flow (a clip of one frame gets zero
    flow), so the result has one flow per frame as :class:`~sdinterp.interfaces.Sample` expects.

    Args:
        frames: uint8 (T, H, W, 3).
        method: see :func:`compute_flow`.
        preset: see :func:`compute_flow`.

    Returns:
        float32 (T, H, W, 2).

    Examples::

        >>> clip_flow(frames).shape                           # doctest: +SKIP
        (16, 240, 320, 2)
    """
    frames = np.asarray(frames)
    out = np.zeros(frames.shape[:3] + (2,), dtype=np.float32)
    for t in range(len(frames) - 1):
        out[t] = compute_flow(frames[t], frames[t + 1], method, preset)
    if len(frames) > 1:
        out[-1] = out[-2]
    return out


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
    if flow.ndim == 4:
        return np.stack([flow_to_rgb(f, max_magnitude) for f in flow])
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be (H, W, 2) or (T, H, W, 2), got {flow.shape}")
    u, v = flow[..., 0], flow[..., 1]
    mag = np.hypot(u, v)
    scale = float(mag.max()) if max_magnitude is None else float(max_magnitude)
    rad = np.clip(mag / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(mag)
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


def read_flow_images(
    paths: Sequence[str | os.PathLike[str]], size: tuple[int, int] | None = None, resize: bool = False
) -> np.ndarray:
    """Read precomputed RGB flow images (e.g. Stylized-DAVIS ``FlowImages_gap1``).

    Args:
        paths: one image per frame.
        size: the expected (H, W), usually the frames' size. ``None`` only requires all images to agree.
        resize: if True, images of another size are resized bilinearly to ``size`` (what the reference
            loader does with ``flow.resize(img.size)``); if False (default) they raise.

    Returns:
        uint8 (T, H, W, 3).

    Raises:
        FlowError: naming the file that is unreadable, not RGB, or of the wrong size.

    Examples::

        >>> flows = read_flow_images(  # doctest: +SKIP
        ...     sorted(Path("FlowImages_gap1/bear").glob("*.png")), size=(480, 854))
    """
    from PIL import Image

    out: list[np.ndarray] = []
    for p in paths:
        try:
            with Image.open(p) as src:
                src.load()
                if src.mode not in ("RGB", "RGBA"):
                    raise FlowError(f"{p}: flow image has mode {src.mode!r}; an RGB-encoded flow image is expected")
                im = src.convert("RGB")
                want = size if size is not None else (out[0].shape[:2] if out else (im.height, im.width))
                if (im.height, im.width) != tuple(want):
                    if not resize:
                        raise FlowError(
                            f"{p}: flow image is {im.height}x{im.width} (HxW) but {want[0]}x{want[1]} is expected"
                            " (pass resize=True to resize it as the reference loader does)"
                        )
                    im = im.resize((want[1], want[0]), Image.Resampling.BILINEAR)
                out.append(np.asarray(im, dtype=np.uint8))
        except FlowError:
            raise
        except (OSError, ValueError) as exc:
            raise FlowError(f"{p}: cannot read flow image ({exc})") from exc
    if not out:
        raise FlowError("no flow images given")
    return np.stack(out)


def endpoint_error(flow_a: np.ndarray, flow_b: np.ndarray) -> float:
    """Mean end-point error (Euclidean distance per pixel) between two flow fields of equal shape.

    Examples::

        >>> endpoint_error(np.zeros((2, 2, 2)), np.ones((2, 2, 2)))
        1.4142135623730951
    """
    a, b = np.asarray(flow_a, np.float64), np.asarray(flow_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"flow shapes differ: {a.shape} vs {b.shape}")
    return float(np.hypot(*(a - b).reshape(-1, 2).T).mean())


def relative_epe(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean end-point error divided by the mean flow magnitude of ``reference``.

    0 means identical flow; 1 means the error is as large as the motion itself. Returns ``nan`` for a
    reference without motion.

    Examples::

        >>> round(relative_epe(np.ones((2, 2, 2)), np.ones((2, 2, 2)) * 1.1), 6)
        0.1
    """
    ref = np.asarray(reference, np.float64)
    mag = float(np.hypot(*ref.reshape(-1, 2).T).mean())
    return endpoint_error(ref, other) / mag if mag > 0 else float("nan")


class FlowCache:
    """On-disk cache of the flow between consecutive source frames of videos.

    ``cache.flow(source, indices)`` returns the flow from each source frame i to frame i + 1 (the
    ``gap1`` flow of Stylized-DAVIS); the last frame of a video reuses the flow into it from the
    previous frame. Each flow is computed once and stored as float16 ``.npy`` under a key made of the
    video's path, size and modification time and the method, so an edited video is recomputed.

    Args:
        directory: where to store the cache (created if needed).
        method: ``"dis"`` or ``"farneback"``.
        preset: DIS preset.

    Examples::

        >>> cache = FlowCache("~/.cache/sdinterp/flow")                      # doctest: +SKIP
        >>> cache.flow(open_video("vtest.avi"), [0, 1, 2]).shape             # doctest: +SKIP
        (3, 576, 768, 2)
    """

    def __init__(self, directory: str | os.PathLike[str], method: FlowMethod = "dis", preset: str = "medium"):
        self.directory = Path(directory).expanduser()
        self.method = method
        self.preset = preset
        self.computed = 0  # number of flows computed (not read from disk), for tests and progress

    def _folder(self, source: VideoSource) -> Path:
        p = Path(source.path)
        try:
            st = p.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "nostat"
        key = f"{p.resolve()}|{stamp}|{self.method}|{self.preset}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.directory / f"{p.stem[:40]}-{digest}"

    def flow(self, source: VideoSource, indices: Sequence[int]) -> np.ndarray:
        """Flow (len(indices), H, W, 2) float32 from each source frame to its successor.

        Args:
            source: an opened video (:func:`sdinterp.data.video.open_video`).
            indices: source frame indices.

        Returns:
            float32 (len(indices), H, W, 2).
        """
        folder = self._folder(source)
        folder.mkdir(parents=True, exist_ok=True)
        n = len(source)
        out = []
        for i in (int(i) for i in indices):
            a, b = (i, i + 1) if i + 1 < n else (max(i - 1, 0), i)
            path = folder / f"{a:07d}.npy"
            if path.exists():
                out.append(np.load(path).astype(np.float32))
                continue
            pair = source.read([a, b])
            f = compute_flow(pair[0], pair[1], self.method, self.preset)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            stored = f.astype(np.float16)
            np.save(tmp, stored)
            os.replace(tmp, path)  # atomic, so parallel DataLoader workers never read half a file
            self.computed += 1
            # What a later read gives back: a run must not depend on whether the cache was warm.
            out.append(stored.astype(np.float32))
        return np.stack(out)
