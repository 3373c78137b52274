"""A ``torch.utils.data.Dataset`` of :class:`~sdinterp.interfaces.Sample` clips.

Works with DataLoader workers (each process opens its own decoders) and is deterministic for a
seed (each item draws its style and start from its own generator). Dataset layouts are in
:mod:`sdinterp.data.layouts` (re-exported here).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch.utils.data

from sdinterp.data.clips import clip_window, uniform_temporal_subsample
from sdinterp.data.layouts import (
    DAVIS_STYLES,
    Layout,
    Problem,
    Style,
    VideoEntry,
    davis_layout,
    detect_layout,
    discover,
    find_videos,
    flow_image_paths,
    stylized_layout,
)
from sdinterp.data.resize import Fit
from sdinterp.data.video import Backend, ColorMode, VideoReadError, VideoSource, open_video
from sdinterp.errors import ShortVideoWarning
from sdinterp.interfaces import Sample

__all__ = [
    "VideoClipDataset",
    "collate_samples",
    "forget_inherited",
    # re-exported from sdinterp.data.layouts
    "DAVIS_STYLES",
    "Layout",
    "Problem",
    "VideoEntry",
    "davis_layout",
    "detect_layout",
    "discover",
    "find_videos",
    "flow_image_paths",
    "stylized_layout",
]


class VideoClipDataset(torch.utils.data.Dataset):
    """Clips of a video dataset as :class:`~sdinterp.interfaces.Sample` objects.

    Item ``i`` is made with its own generator ``default_rng([seed, i])``: the style (when ``style``
    is ``"random"``, as the reference loads clip 1 from a random style folder) and the start frame.
    So any DataLoader order, any number of workers and any process give the same items. Batch with
    ``collate_fn=collate_samples``.

    Args:
        data: a dataset root (see :func:`discover`), a video file, or a list of :class:`VideoEntry`.
        clip_length: window of consecutive frames (``n_sample_frames``; 64 in the reference).
        num_frames: if set, only ``uniform_temporal_subsample(clip_length, num_frames)`` of the window
            is read (for single-pathway models); ``None`` keeps the whole window so an adapter can take
            one view per pathway.
        start: the window's first frame, or ``None`` for a random start.
        cycle: cycle videos shorter than the window (reference behaviour); False raises.
        seed: base seed.
        style: ``"random"`` (one of the entry's styles per item), a fixed style id, or ``None`` for
            an unstyled dataset.
        flow: ``None``; ``"images"`` (the entry's precomputed RGB flow images, uint8); or ``"dis"`` /
            ``"farneback"`` (computed float (u, v) between consecutive source frames).
        flow_cache: a folder to cache computed flow (see :class:`sdinterp.data.flow.FlowCache`).
        flow_resize: resize flow images of another size (the reference does); False raises.
        backend, color: see :func:`sdinterp.data.video.open_video`.
        repeats: passes over the entries (the reference VOS loader uses 5).
        num_clips: the dataset's length, round-robin over the entries (clip ``i`` is entry
            ``i % len(entries)``); overrides ``repeats``.
        views: a function from the window length to the model's views (index arrays into the
            window, one per pathway; see :meth:`with_views`): only the frames they use are
            decoded, and the samples carry those views. ``None`` decodes the whole window.
        layout, layout_options: how to read a root (see :func:`discover`).
        on_problem: ``"error"`` raises if discovery found problems; ``"skip"`` drops those videos.

    Examples::

        >>> ds = VideoClipDataset("../shared/data/videos", clip_length=16, num_frames=8, seed=0)  # doctest: +SKIP
        >>> loader = torch.utils.data.DataLoader(  # doctest: +SKIP
        ...     ds, batch_size=2, num_workers=2, collate_fn=collate_samples)
    """

    def __init__(
        self,
        data: str | os.PathLike[str] | Sequence[VideoEntry],
        clip_length: int = 64,
        num_frames: int | None = None,
        start: int | None = None,
        cycle: bool = True,
        seed: int = 0,
        style: Style | Literal["random"] | None = "random",
        flow: Literal["images", "dis", "farneback"] | None = None,
        flow_cache: str | os.PathLike[str] | None = None,
        flow_resize: bool = False,
        backend: Backend = "auto",
        color: ColorMode = "convert",
        repeats: int = 1,
        layout: Layout = "auto",
        layout_options: Mapping[str, Any] | None = None,
        on_problem: Literal["error", "skip"] = "error",
        num_clips: int | None = None,
        views: Callable[[int], Sequence[np.ndarray]] | None = None,
    ):
        if isinstance(data, (str, os.PathLike)):
            entries, problems = discover(data, layout, **dict(layout_options or {}))
            if problems and on_problem == "error":
                listing = "\n  ".join(map(str, problems))
                raise VideoReadError(
                    data,
                    f"{len(problems)} problem(s) in the dataset (run `sdinterp scan` for a full check):\n  {listing}",
                )
        else:
            entries = list(data)
        if not entries:
            raise VideoReadError(str(data) if isinstance(data, (str, os.PathLike)) else "<entries>", "no usable videos")
        if flow not in (None, "images", "dis", "farneback"):
            raise ValueError(f"flow must be None, 'images', 'dis' or 'farneback', got {flow!r}")
        for name, value in (("clip_length", clip_length), ("num_frames", num_frames)):
            # a float would be truncated, a window shorter than num_frames would repeat frames: refused
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if num_frames is not None and num_frames > clip_length:
            raise ValueError(
                f"num_frames={num_frames} is more than clip_length={clip_length}: a window cannot give more frames "
                "than it holds (frames would repeat); raise clip_length or lower num_frames"
            )
        self.entries = entries
        self.clip_length, self.num_frames, self.start, self.cycle = int(clip_length), num_frames, start, cycle
        self.seed, self.style, self.flow, self.flow_resize = int(seed), style, flow, flow_resize
        self.flow_cache = str(flow_cache) if flow_cache is not None else None
        self.backend, self.color, self.repeats = backend, color, int(repeats)
        if num_clips is not None and int(num_clips) < 1:
            raise ValueError(f"num_clips must be a positive integer, got {num_clips}")
        self.num_clips = None if num_clips is None else int(num_clips)
        self.views = views
        #: Shrinks each frame as it is decoded (see :meth:`with_working_size`); ``None`` keeps them.
        self.fit: Fit | None = None
        self._view_cache: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = None
        self._warned: set[str] = set()
        self._sources: dict[str, VideoSource] = {}
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        # Open decoders never travel to DataLoader workers; each worker opens its own.
        state = dict(self.__dict__)
        state["_sources"] = {}
        return state

    def __len__(self) -> int:
        return self.num_clips if self.num_clips is not None else len(self.entries) * self.repeats

    def with_views(self, views: Callable[[int], Sequence[np.ndarray]]) -> VideoClipDataset:
        """A copy that decodes only the frames ``views(clip_length)`` uses (the pipeline passes the
        adapter's views, so memory per clip depends on the frames the model takes, not on
        ``clip_length``). The samples are the same as the compacted full-window ones."""
        if self.num_frames is not None:
            raise ValueError("with_views() and num_frames both choose frames; use one of them")
        out = copy.copy(self)
        out.views, out._view_cache, out._sources, out._warned = views, None, {}, set()
        return out

    def with_working_size(self, fit: Fit) -> VideoClipDataset:
        """A copy that shrinks every frame, as it is decoded, to the size ``fit`` gives for the
        video's frame size (:meth:`~sdinterp.data.video.VideoSource.read`): a clip is never held at
        full size, so a batch of 8K clips costs what the model takes. Clips that carry flow keep
        their size (flow vectors would need rescaling with the frames).

        The pipeline passes the adapter's working size when both samplers work at the model's
        resolution (:func:`sdinterp.pipeline.inputs.decode_only_views`): the pixels are then the
        ones the executor would make from full-size frames, so :meth:`describe` (the run's
        identity) is unchanged.

        Args:
            fit: (height, width) -> the size to shrink to, or ``None`` to keep the frames.

        Returns:
            The copy.
        """
        out = copy.copy(self)
        out.fit, out._sources, out._warned = fit, {}, set()
        return out

    def _window_views(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """(window positions used, views remapped onto them), computed once."""
        if self._view_cache is None:
            assert self.views is not None
            views = [np.asarray(v, dtype=np.int64) for v in self.views(self.clip_length)]
            used = np.unique(np.concatenate(views))
            if used.size and (used[0] < 0 or used[-1] >= self.clip_length):
                raise ValueError(f"views index frames outside the {self.clip_length}-frame window")
            self._view_cache = (used, tuple(np.searchsorted(used, v).astype(np.int64) for v in views))
        return self._view_cache

    def describe(self) -> dict[str, Any]:
        """The run identity of this dataset: every source file (path, size, modification time) and
        every option that changes which frames are read."""
        from sdinterp.pipeline.identity import file_identity

        videos = []
        for e in self.entries:
            item: dict[str, Any] = {
                "id": e.video_id,
                "sources": {str(k): file_identity(p) for k, p in e.sources.items()},
            }
            if e.flow_dir is not None:
                item["flow"] = file_identity(e.flow_dir)
            videos.append(item)
        return {
            "videos": videos,
            "n_clips": len(self),
            "clip_length": self.clip_length,
            "num_frames": self.num_frames,
            "start": self.start,
            "cycle": self.cycle,
            "seed": self.seed,
            "style": self.style,
            "flow": self.flow,
            "flow_resize": self.flow_resize,
            "backend": self.backend,
            "color": self.color,
        }

    def _open(self, path: str) -> VideoSource:
        if self._pid != os.getpid():
            # A forked DataLoader worker inherits the parent's decoders, whose threads did not
            # survive the fork: using them hangs and destroying them aborts (decord joins threads
            # that do not exist). Each process opens its own and never frees the inherited ones.
            forget_inherited(self._sources)
            self._sources, self._pid = {}, os.getpid()
        if path not in self._sources:
            if len(self._sources) >= 8:  # a small per-worker cache of open decoders
                self._sources.pop(next(iter(self._sources)))
            self._sources[path] = open_video(path, self.backend, self.color)
        return self._sources[path]

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} clips")
        rng = np.random.default_rng([self.seed, int(index)])
        entry = self.entries[index % len(self.entries)]
        if self.style == "random":
            keys = entry.styles
            style = keys[int(rng.integers(len(keys)))]
        else:
            style = self.style
            if style not in entry.sources:
                raise VideoReadError(entry.video_id, f"has no style {style!r}; it has {entry.styles}")
        path = entry.sources[style]
        source = self._open(path)
        n = len(source)
        flow_paths = None
        if self.flow == "images":
            flow_paths = flow_image_paths(entry, source)
            n = min(n, len(flow_paths))  # frames without flow (the last one) cannot be sampled
        if n < self.clip_length and self.cycle and path not in self._warned:
            self._warned.add(path)
            warnings.warn(
                f"{path}: {n} frames, fewer than the {self.clip_length}-frame window (clip_length): "
                "its frames are looped to fill it, as the reference loaders do",
                ShortVideoWarning,
                stacklevel=2,
            )
        # Only the window positions read are computed: a long --clip-length costs nothing.
        start, span = clip_window(n, self.clip_length, self.start, rng, self.cycle, source=path)
        views = None
        if self.views is not None:
            used, views = self._window_views()
        elif self.num_frames:
            used = uniform_temporal_subsample(self.clip_length, self.num_frames)
        else:
            used = np.arange(self.clip_length, dtype=np.int64)
        idx = (start + used % span).astype(np.int64)
        if len(idx) > 1 and len(np.unique(idx)) < 2:
            raise VideoReadError(
                path,
                f"has {n} frame(s): a static pair needs at least 2 different frames (a frame-shuffled "
                "clip of one frame is the clip itself); remove it or use --skip-bad",
            )
        frames = source.read(idx, fit=self.fit if self.flow is None else None)
        flow = None
        if flow_paths is not None:
            from sdinterp.data.flow import read_flow_images

            flow = read_flow_images([flow_paths[i] for i in idx], size=frames.shape[1:3], resize=self.flow_resize)
        elif self.flow is not None:
            from sdinterp.data.flow import FlowCache

            cache = FlowCache(self.flow_cache or _memory_dir(), method="dis" if self.flow == "dis" else "farneback")
            flow = cache.flow(source, idx.tolist())
        meta = {
            "path": path,
            "styles": dict(entry.sources),
            "start": start,
            "clip_length": self.clip_length,
            "num_source_frames": len(source),
            "backend": self.backend,
            "color": self.color,
        }
        return Sample(
            frames=frames, flow=flow, style=style, video_id=entry.video_id, frame_indices=idx, meta=meta, views=views
        )


_INHERITED: list[Any] = []


def forget_inherited(objects: Any) -> None:
    """Keep decoders inherited through ``fork`` alive forever, so their destructors never run in the
    child (forked workers end with ``os._exit``, which runs no destructors)."""
    _INHERITED.append(objects)


def _memory_dir() -> str:
    # Without a cache folder, flows still go through FlowCache (one code path) in a per-process
    # temporary folder that is removed at exit.
    global _TMP
    if _TMP is None:
        import atexit
        import shutil
        import tempfile

        _TMP = tempfile.mkdtemp(prefix="sdinterp-flow-")
        atexit.register(shutil.rmtree, _TMP, True)
    return _TMP


_TMP: str | None = None


def collate_samples(batch: Sequence[Sample]) -> list[Sample]:
    """DataLoader ``collate_fn`` for datasets of Samples: keeps them as a list (the default collate
    cannot stack dataclasses holding clips of different sizes and free-form meta).

    Args:
        batch: the Samples the DataLoader gathered.

    Returns:
        The same Samples, as a list.

    Examples::

        >>> loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate_samples)  # doctest: +SKIP
    """
    return list(batch)
