"""Reading videos and sampling clips.

Sources: video files (mp4, avi, mkv, webm, mov) through decord, with PyAV as the fallback (and the
other way round), and folders of frames (jpg/png). Every source exposes the same small interface
(:class:`VideoSource`): ``len(source)`` frames, ``source.read(indices)`` -> uint8 (n, H, W, 3) RGB.

Clip sampling (:func:`clip_indices`, :func:`uniform_temporal_subsample`, :func:`pathway_views`)
lives in :mod:`sdinterp.data.clips`; datasets are in :mod:`sdinterp.data.datasets`; the package
:mod:`sdinterp.data` exports all of them.

Every failure raises :class:`VideoReadError`, whose message starts with the offending file; the
decoders' own stderr lines are kept out of it (:mod:`sdinterp.data._quiet`).

Memory: ``read(indices, fit=...)`` decodes one frame at a time and shrinks each to the size ``fit``
gives before decoding the next, so reading a clip of a large video holds one full-size frame (and
the decoder's own buffers for it) at a time, never the whole clip at full size (docs/install.md,
"Memory").

Colour policy for frame folders: see :mod:`sdinterp.data.images` (``color=``). Video decoders
always convert to RGB themselves.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from sdinterp.data._quiet import decoder_stderr_quieted, quiet_decord_logging
from sdinterp.data.images import IMAGE_EXTENSIONS, ColorMode, list_frames, natural_key, not_an_image, read_image
from sdinterp.data.resize import Fit, shrink_frames
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

#: Most frames, and bytes, one decoder call of a fitted read decodes at once (DecordSource).
CHUNK_FRAMES = 8
CHUNK_BYTES = 32 << 20

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
Backend = Literal["auto", "decord", "pyav", "frames"]


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

    def _iter(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        """Sorted unique valid indices, decoded one frame at a time (uint8 (H, W, 3) each)."""
        for i in indices:
            yield self._read(np.asarray([i], dtype=np.int64))[0]

    def iter_frames(self, indices: Sequence[int] | np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` for each distinct index in increasing order, decoded one at a time (a
        check of a whole video holds one frame, whatever its length and resolution).

        Raises:
            VideoReadError: as :meth:`read`.
        """
        uniq = np.unique(self._checked(indices))
        yield from zip(uniq.tolist(), self._iter(uniq))

    def _checked(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise VideoReadError(self.path, "no frame indices requested")
        n = len(self)
        if idx.min() < 0 or idx.max() >= n:
            raise VideoReadError(
                self.path,
                f"frame index {int(idx.max() if idx.max() >= n else idx.min())} out of range; the video has {n} frames",
            )
        return idx

    def read(self, indices: Sequence[int] | np.ndarray, fit: Fit | None = None) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 (n, H, W, 3) RGB.

        Args:
            indices: frame indices in ``[0, len(self))``.
            fit: a function from the frames' (height, width) to the size to shrink them to (or
                ``None`` to keep them); given, frames are decoded one at a time and each is shrunk
                (:func:`~sdinterp.data.resize.shrink_frames`, uint8) before the next is decoded, so
                memory holds one full-size frame, not the clip. Frames are never enlarged.

        Returns:
            uint8 (len(indices), H, W, 3); each distinct frame is decoded once.

        Examples::

            >>> ArraySource(np.zeros((3, 2, 2, 3), np.uint8)).read([2, 0, 2]).shape
            (3, 2, 2, 3)
            >>> ArraySource(np.zeros((3, 8, 8, 3), np.uint8)).read([0, 1], fit=lambda h, w: (h // 4, w // 4)).shape
            (2, 2, 2, 3)

        Raises:
            VideoReadError: naming the file, for an index out of range or a decoding failure.
        """
        uniq, inverse = np.unique(self._checked(indices), return_inverse=True)
        frames = self._read(uniq) if fit is None else self._read_fitted(uniq, fit)
        return frames[inverse.reshape(-1)]

    def _read_fitted(self, indices: np.ndarray, fit: Fit) -> np.ndarray:
        out: np.ndarray | None = None
        for k, frame in enumerate(self._iter(indices)):
            # reshape, not frame[None]: a zero stride on the new axis sends torch to a ~20x slower kernel
            small = shrink_frames(frame.reshape(1, *frame.shape), fit(*frame.shape[:2]))[0]
            if out is None:
                out = np.empty((len(indices), *small.shape), np.uint8)
            elif small.shape != out.shape[1:]:
                size = f"{frame.shape[0]}x{frame.shape[1]}"
                raise VideoReadError(self.path, f"frame {int(indices[k])} is {size}, unlike the earlier frames")
            out[k] = small
        assert out is not None  # indices is never empty here
        return out

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

        quiet_decord_logging()
        self.path = str(path)
        self.fallback = fallback
        self._pyav: PyAVSource | None = None
        try:
            with decoder_stderr_quieted():
                self._vr = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=1)
                self._len = len(self._vr)
        except Exception as exc:  # decord raises its own DECORDError / RuntimeError types
            raise VideoReadError(self.path, f"decord cannot open the video ({str(exc).splitlines()[0]})") from exc

    def __len__(self) -> int:
        return self._len

    def _iter(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        # A few frames per decoder call (fewer calls; decord itself reads on from where the last
        # call ended, so frames in order are decoded once either way). The first frame gives the
        # size; chunks stay under CHUNK_BYTES, so a frame of 32 MB or more is still read alone
        # (docs/install.md, "Memory").
        if len(indices) == 0:
            return
        first = self._read(indices[:1])[0]
        yield first
        per = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(1, first.nbytes)))
        for k in range(1, len(indices), per):
            yield from self._read(indices[k : k + per])

    def _read(self, indices: np.ndarray) -> np.ndarray:
        if self._pyav is not None:
            return self._pyav._read(indices)
        try:
            with decoder_stderr_quieted():
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
            with decoder_stderr_quieted(), av.open(self.path) as container:
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
        return np.stack(list(self._iter(indices)))

    def _iter(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        # One pass from the start: each wanted frame is converted and handed on as it is decoded.
        import av

        last, k, decoded = int(indices[-1]), 0, 0
        try:
            with av.open(self.path) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    decoded = i + 1
                    if i == int(indices[k]):
                        yield frame.to_ndarray(format="rgb24")
                        k += 1
                    if i >= last:
                        break
        except Exception as exc:  # PyAV raises its own FFmpegError types, and ValueError on odd frames
            raise VideoReadError(self.path, f"PyAV failed while decoding ({type(exc).__name__}: {exc})") from exc
        if k < len(indices):
            raise VideoReadError(
                self.path,
                f"only {decoded} frames could be decoded; frame {int(indices[k])} is missing (truncated file?)",
            )


class FrameFolderSource(VideoSource):
    """A folder of frame images in natural filename order.

    Args:
        path: the folder.
        color: colour policy for non-RGB images (see :mod:`sdinterp.data.images`).
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
        color: colour policy for frame folders (see :mod:`sdinterp.data.images`).

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
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        # Judged by its name, as in a frame folder, so a file gets one verdict however it is given.
        raise VideoReadError(p, not_an_image(p) or "is one image, not a video: give the folder of frames it belongs to")
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
