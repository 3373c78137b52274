"""Reading videos and sampling clips.

Sources: video files (mp4, avi, mkv, webm, mov) through decord, with PyAV as the fallback (and the
other way round), and folders of frames (jpg/png). Every source exposes the same small interface
(:class:`VideoSource`): ``len(source)`` frames, ``source.read(indices)`` -> uint8 (n, H, W, 3) RGB.

Clip sampling (:func:`clip_indices`, :func:`uniform_temporal_subsample`, :func:`pathway_views`)
lives in :mod:`sdinterp.data.clips`; datasets are in :mod:`sdinterp.data.datasets`; the package
:mod:`sdinterp.data` exports all of them.

Every failure raises :class:`VideoReadError`, whose message starts with the offending file.

Colour policy (``color=``): frames are RGB uint8. With ``"convert"`` (default) grayscale images are
replicated to three channels, RGBA/LA drop their alpha channel, palette images are expanded and
16-bit images are scaled to 8 bits; with ``"strict"`` any image that is not 8-bit RGB raises.
Video decoders always convert to RGB themselves.
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from sdinterp.errors import VideoReadError

__all__ = [
    "VIDEO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "ColorMode",
    "VideoReadError",
    "VideoSource",
    "DecordSource",
    "PyAVSource",
    "FrameFolderSource",
    "ArraySource",
    "open_video",
    "read_image",
    "natural_key",
    "list_frames",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
ColorMode = Literal["convert", "strict"]
Backend = Literal["auto", "decord", "pyav", "frames"]


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``frame2.jpg`` before ``frame10.jpg``.

    Examples::

        >>> sorted(["f10.png", "f2.png"], key=natural_key)
        ['f2.png', 'f10.png']
    """
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a frame folder in natural order (hidden files ignored).

    Args:
        folder: a folder of jpg/png/bmp/webp frames.

    Returns:
        Paths sorted by :func:`natural_key` of their names.

    Examples::

        >>> [p.name for p in list_frames("bear")]          # doctest: +SKIP
        ['00000.jpg', '00001.jpg', ...]
    """
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _to_rgb(arr: np.ndarray, mode: str, path: str | os.PathLike[str], color: ColorMode) -> np.ndarray:
    """Apply the colour policy of the module docstring to one decoded image."""
    is_rgb8 = arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[-1] == 3
    if is_rgb8:
        return arr
    if color == "strict":
        raise VideoReadError(path, f"image is {mode} ({arr.dtype}, shape {arr.shape}), not 8-bit RGB (color='strict')")
    if arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and arr.size and arr.max() > 255):
        arr = (arr.astype(np.float64) / 257.0).round()  # 16-bit -> 8-bit, 65535 -> 255
    if arr.dtype.kind == "f" and arr.size and arr.max() <= 1.0:
        arr = arr * 255.0
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        raise VideoReadError(path, f"cannot convert image of shape {arr.shape} to RGB")
    if arr.shape[-1] in (1, 2):  # gray or gray + alpha
        arr = np.repeat(arr[..., :1], 3, axis=-1)
    return np.ascontiguousarray(arr[..., :3])


def read_image(path: str | os.PathLike[str], color: ColorMode = "convert") -> np.ndarray:
    """Read one image file as uint8 (H, W, 3) RGB under the module's colour policy.

    Args:
        path: an image file (jpg, png, ...).
        color: ``"convert"`` or ``"strict"`` (see the module docstring).

    Returns:
        uint8 (H, W, 3).

    Raises:
        VideoReadError: naming the file if it is missing, unreadable, truncated or (strict) not RGB.

    Examples::

        >>> img = read_image("frames/00001.jpg")        # doctest: +SKIP
    """
    from PIL import Image

    try:
        with Image.open(path) as src:
            src.load()  # decode now, so a truncated file fails here and names itself
            mode = src.mode
            if mode in ("P", "CMYK") and color == "strict":
                raise VideoReadError(path, f"image is a {mode} image, not 8-bit RGB (color='strict')")
            im: Image.Image = src
            if mode == "P":
                im = src.convert("RGBA" if "transparency" in src.info else "RGB")
            elif mode == "CMYK":
                im = src.convert("RGB")
            arr = np.asarray(im)
    except VideoReadError:
        raise
    except FileNotFoundError as exc:
        raise VideoReadError(path, "file not found") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise VideoReadError(path, f"cannot read image ({type(exc).__name__}: {exc})") from exc
    return _to_rgb(arr, mode, path, color)


class VideoSource(abc.ABC):
    """A readable video: a length, a frame size and random access to frames.

    Sources are cheap to create and hold open decoders; create them inside each DataLoader worker
    (datasets in :mod:`sdinterp.data.datasets` do), never pickle them.
    """

    path: str

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of decodable frames."""

    @abc.abstractmethod
    def _read(self, indices: np.ndarray) -> np.ndarray:
        """Read sorted unique valid indices."""

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 (n, H, W, 3) RGB.

        Args:
            indices: frame indices in ``[0, len(self))``.

        Returns:
            uint8 (len(indices), H, W, 3); each distinct frame is decoded once.

        Examples::

            >>> ArraySource(np.zeros((3, 2, 2, 3), np.uint8)).read([2, 0, 2]).shape
            (3, 2, 2, 3)

        Raises:
            VideoReadError: naming the file, for an index out of range or a decoding failure.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise VideoReadError(self.path, "no frame indices requested")
        n = len(self)
        if idx.min() < 0 or idx.max() >= n:
            raise VideoReadError(
                self.path,
                f"frame index {int(idx.max() if idx.max() >= n else idx.min())} out of range; the video has {n} frames",
            )
        uniq, inverse = np.unique(idx, return_inverse=True)
        frames = self._read(uniq)
        return frames[inverse]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class DecordSource(VideoSource):
    """A video file read with decord (fast random access).

    Args:
        path: the video file.
        fallback: if True, frames decord fails to decode are read with PyAV instead (decord 0.6
            fails on some valid files, e.g. narrow grayscale videos).
    """

    def __init__(self, path: str | os.PathLike[str], fallback: bool = False):
        import decord

        self.path = str(path)
        self.fallback = fallback
        self._pyav: PyAVSource | None = None
        try:
            self._vr = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=1)
            self._len = len(self._vr)
        except Exception as exc:  # decord raises its own DECORDError / RuntimeError types
            raise VideoReadError(self.path, f"decord cannot open the video ({str(exc).splitlines()[0]})") from exc

    def __len__(self) -> int:
        return self._len

    def _read(self, indices: np.ndarray) -> np.ndarray:
        if self._pyav is not None:
            return self._pyav._read(indices)
        try:
            return np.asarray(self._vr.get_batch(indices.tolist()).asnumpy(), dtype=np.uint8)
        except Exception as exc:
            msg = f"decord failed to decode frames {indices.tolist()[:8]} ({str(exc).splitlines()[0]})"
            if not self.fallback:
                raise VideoReadError(self.path, msg) from exc
            try:
                pyav = PyAVSource(self.path)
            except VideoReadError as exc2:
                raise VideoReadError(self.path, f"{msg}; {str(exc2)[len(self.path) + 2 :]}") from exc
            if len(pyav) != len(self):
                raise VideoReadError(
                    self.path, f"{msg}; PyAV finds {len(pyav)} frames where decord found {len(self)}"
                ) from exc
            self._pyav = pyav
            return pyav._read(indices)


class PyAVSource(VideoSource):
    """A video file read with PyAV (sequential decoding).

    The length is the number of non-empty video packets, not the container header's frame count:
    AVI files may declare empty "repeat" chunks (``tree.avi`` declares 444 frames and decodes 68),
    and decord agrees with the decoded count.
    """

    def __init__(self, path: str | os.PathLike[str]):
        import av

        self.path = str(path)
        try:
            with av.open(self.path) as container:
                if not container.streams.video:
                    raise VideoReadError(self.path, "the file has no video stream")
                stream = container.streams.video[0]
                self._len = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
        except VideoReadError:
            raise
        except Exception as exc:
            raise VideoReadError(self.path, f"PyAV cannot open the video ({type(exc).__name__}: {exc})") from exc

    def __len__(self) -> int:
        return self._len

    def _read(self, indices: np.ndarray) -> np.ndarray:
        import av

        wanted = {int(i): k for k, i in enumerate(indices)}
        out: list[np.ndarray | None] = [None] * len(indices)
        last = int(indices[-1])
        decoded = 0
        try:
            with av.open(self.path) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    decoded = i + 1
                    if i in wanted:
                        out[wanted[i]] = frame.to_ndarray(format="rgb24")
                    if i >= last:
                        break
        except Exception as exc:
            raise VideoReadError(self.path, f"PyAV failed while decoding ({type(exc).__name__}: {exc})") from exc
        frames = [f for f in out if f is not None]
        if len(frames) < len(out):
            missing = [int(indices[k]) for k, f in enumerate(out) if f is None]
            raise VideoReadError(
                self.path, f"only {decoded} frames could be decoded; frame {missing[0]} is missing (truncated file?)"
            )
        return np.stack(frames)


class FrameFolderSource(VideoSource):
    """A folder of frame images in natural filename order.

    Args:
        path: the folder.
        color: colour policy for non-RGB images (see the module docstring).
    """

    def __init__(self, path: str | os.PathLike[str], color: ColorMode = "convert"):
        self.path = str(path)
        self.color = color
        if not Path(path).is_dir():
            raise VideoReadError(path, "frame folder not found")
        self.files = list_frames(path)
        if not self.files:
            raise VideoReadError(path, f"frame folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
        self._size: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        frames = []
        for i in indices:
            img = read_image(self.files[int(i)], self.color)
            if self._size is None:
                self._size = img.shape[:2]
            elif img.shape[:2] != self._size:
                raise VideoReadError(
                    self.files[int(i)],
                    f"frame is {img.shape[0]}x{img.shape[1]} but other frames of {self.path} "
                    f"are {self._size[0]}x{self._size[1]}",
                )
            frames.append(img)
        return np.stack(frames)


class ArraySource(VideoSource):
    """An in-memory clip (uint8 (T, H, W, 3)), e.g. a synthetic video, behind the same interface."""

    def __init__(self, frames: np.ndarray, path: str = "<array>"):
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise VideoReadError(path, f"expected uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
        self.frames = frames
        self.path = path

    def __len__(self) -> int:
        return len(self.frames)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        return self.frames[indices]


def open_video(path: str | os.PathLike[str], backend: Backend = "auto", color: ColorMode = "convert") -> VideoSource:
    """Open a video file or a frame folder.

    Args:
        path: a video file (mp4, avi, mkv, webm, mov) or a folder of frames.
        backend: ``"auto"`` (decord, falling back to PyAV if decord cannot open or decode the file),
            ``"decord"``, ``"pyav"``, or ``"frames"`` for a folder.
        color: colour policy for frame folders (see the module docstring).

    Returns:
        A :class:`VideoSource` with at least one frame.

    Raises:
        VideoReadError: naming the file when it is missing, empty, unreadable by every backend, or has
            no frames.

    Examples::

        >>> src = open_video("vtest.avi")                                    # doctest: +SKIP
        >>> len(src), src.read([0, 5]).shape                                  # doctest: +SKIP
        (795, (2, 576, 768, 3))
    """
    p = Path(path)
    if p.is_dir() or backend == "frames":
        return FrameFolderSource(p, color)
    if not p.exists():
        raise VideoReadError(p, "file not found")
    if p.stat().st_size == 0:
        raise VideoReadError(p, "file is empty (0 bytes)")
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'decord', 'pyav' or 'frames'")
    order = {"auto": ("decord", "pyav"), "decord": ("decord",), "pyav": ("pyav",)}[backend]
    errors = []
    for name in order:
        try:
            src: VideoSource = DecordSource(p, fallback=backend == "auto") if name == "decord" else PyAVSource(p)
        except VideoReadError as exc:
            errors.append(str(exc)[len(str(p)) + 2 :])
            continue
        if len(src) == 0:
            errors.append(f"{name}: the video has no frames")
            continue
        return src
    if all(e.endswith("has no frames") for e in errors):
        raise VideoReadError(p, "the video has no frames")
    raise VideoReadError(p, "unreadable or corrupt video: " + "; ".join(errors))
