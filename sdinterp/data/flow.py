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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from sdinterp.data.flow_colour import flow_to_rgb, rgb_to_flow
from sdinterp.data.resize import shrink_frames
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
    "resize_flow",
    "shrink_size",
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


def shrink_size(height: int, width: int, size: Sequence[int] | None) -> tuple[int, int] | None:
    """``size`` as (h, w) when it shrinks (height, width) — no side larger, not equal — else ``None``.

    Examples:
        >>> shrink_size(576, 768, (128, 128)), shrink_size(144, 176, (480, 854)), shrink_size(8, 8, (8, 8))
        ((128, 128), None, None)
    """
    if size is None:
        return None
    h, w = int(size[0]), int(size[1])
    return (h, w) if h <= height and w <= width and (h, w) != (height, width) else None


def resize_flow(flow: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Per-frame flow resized to ``size`` (h, w) along with its frames.

    An RGB flow image (uint8 (T, H, W, 3)) is resized as an image, as the two-stream adapters resize
    it (:func:`sdinterp.data.resize.shrink_frames`, the frames' own kernel). A float (u, v) field
    (T, H, W, 2) is resampled the same way (bilinear, antialiased) and its vectors are rescaled into
    the new pixels (u by w / W, v by h / H), so it is still the flow of the resized frames in their
    own pixels, the convention of :class:`~sdinterp.interfaces.Sample`.

    Examples:
        >>> f = np.ones((1, 8, 12, 2), np.float32)
        >>> resize_flow(f, (4, 6))[0, 0, 0].tolist()       # half the size: half the motion in pixels
        [0.5, 0.5]
    """
    import torch
    import torch.nn.functional as F

    flow = np.asarray(flow)
    if flow.dtype == np.uint8 and flow.shape[-1] == 3:
        return shrink_frames(flow, (int(size[0]), int(size[1])))
    if flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(
            f"flow must be uint8 RGB (T, H, W, 3) or float (u, v) (T, H, W, 2), got {flow.dtype} {flow.shape}"
        )
    h, w = int(size[0]), int(size[1])
    x = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    scale = torch.tensor([w / flow.shape[2], h / flow.shape[1]], dtype=torch.float32).view(1, 2, 1, 1)
    return (x * scale).permute(0, 2, 3, 1).contiguous().numpy()


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
    video's path, size and modification time, the method and the working size, so an edited video is
    recomputed.

    Args:
        directory: where to store the cache (created if needed).
        method: ``"dis"`` or ``"farneback"``.
        preset: DIS preset.
        size: a working (h, w): frames larger than it (both sides no smaller) are resized to it
            (:func:`sdinterp.data.resize.shrink_frames`) before the flow is computed, and the flow
            is that of the resized frames, in their pixels — far cheaper than at full resolution
            (docs/method.md, "Pairs at the model's resolution"). ``None``: the frames as decoded.

    Examples::

        >>> cache = FlowCache("~/.cache/sdinterp/flow")                      # doctest: +SKIP
        >>> cache.flow(open_video("vtest.avi"), [0, 1, 2]).shape             # doctest: +SKIP
        (3, 576, 768, 2)
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        method: FlowMethod = "dis",
        preset: str = "medium",
        size: Sequence[int] | None = None,
    ):
        self.directory = Path(directory).expanduser()
        self.method = method
        self.preset = preset
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.computed = 0  # number of flows computed (not read from disk), for tests and progress

    def _folder(self, source: VideoSource) -> Path:
        p = Path(source.path)
        try:
            st = p.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "nostat"
        size = "" if self.size is None else f"|{self.size[0]}x{self.size[1]}"
        key = f"{p.resolve()}|{stamp}|{self.method}|{self.preset}{size}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.directory / f"{p.stem[:40]}-{digest}"

    def _pairs(self, source: VideoSource, indices: Sequence[int]) -> list[tuple[int, int]]:
        n = len(source)
        return [(i, i + 1) if i + 1 < n else (max(i - 1, 0), i) for i in (int(i) for i in indices)]

    def missing(self, source: VideoSource, indices: Sequence[int]) -> list[int]:
        """The source frames :meth:`flow` would decode for ``indices`` (those of flows not on disk
        yet), so a caller that decodes frames anyway can decode them all in one pass.

        Examples::

            >>> need = cache.missing(source, [4])                          # doctest: +SKIP
            >>> flow = cache.flow(source, [4], dict(zip(need, source.read(need))))  # doctest: +SKIP
        """
        folder = self._folder(source)
        return sorted(
            {k for a, b in self._pairs(source, indices) if not (folder / f"{a:07d}.npy").exists() for k in (a, b)}
        )

    def flow(
        self, source: VideoSource, indices: Sequence[int], decoded: Mapping[int, np.ndarray] | None = None
    ) -> np.ndarray:
        """Flow (len(indices), h, w, 2) float32 from each source frame to its successor.

        Args:
            source: an opened video (:func:`sdinterp.data.video.open_video`).
            indices: source frame indices.
            decoded: source frames already decoded (index -> uint8 (H, W, 3) as decoded), used
                instead of decoding them again.

        Returns:
            float32 (len(indices), h, w, 2): (h, w) is the working size where it applies, else the
            frames' size.
        """
        folder = self._folder(source)
        folder.mkdir(parents=True, exist_ok=True)
        frames = dict(decoded or {})
        need = [k for k in self.missing(source, indices) if k not in frames]
        if need:
            frames.update(zip(need, source.read(need)))
        out = []
        for a, b in self._pairs(source, indices):
            path = folder / f"{a:07d}.npy"
            if path.exists():
                out.append(np.load(path).astype(np.float32))
                continue
            pair = np.stack([frames[a], frames[b]])
            size = shrink_size(pair.shape[1], pair.shape[2], self.size)
            if size is not None:
                pair = shrink_frames(pair, size)
            f = compute_flow(pair[0], pair[1], self.method, self.preset)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            stored = f.astype(np.float16)
            np.save(tmp, stored)
            os.replace(tmp, path)  # atomic, so parallel DataLoader workers never read half a file
            self.computed += 1
            # What a later read gives back: a run must not depend on whether the cache was warm.
            out.append(stored.astype(np.float32))
        return np.stack(out)
