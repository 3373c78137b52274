"""(image, flow) samples for two-stream models, from real clips or Stylized-DAVIS folders.

:class:`TwoStreamFrames` is a dataset of one-frame :class:`~sdinterp.interfaces.Sample` s, each an
image and its flow to the next frame, laid out as the reference VOS loader iterates
(``docs/method.md`` §2): ``repeats`` passes (the reference's ``nreps = 5``), each over the sequences
in a seeded random order (its ``shuffle=True``), each sequence item giving ``frames_per_item``
consecutive clips (frames spread evenly over the sequence) — the layout
:class:`~sdinterp.plugins.twostream.protocol.VosAlternating` alternates over.

Flow: ``"dis"`` / ``"farneback"`` compute OpenCV flow between consecutive source frames, cached on
disk (:class:`sdinterp.data.flow.FlowCache`); ``"images"`` reads the dataset's RGB flow images
(Stylized-DAVIS ``FlowImages_gap1``; :func:`sdinterp.data.layouts.davis_layout`), and the last frame,
which has no forward flow, is never used, as in the reference.

Two-frame samples (RTNet, ``docs/segmentation.md``): ``second_frame="reference"`` adds to each
sample a second frame of the same sequence at an offset drawn in [-10, 10) \\ {0} (seeded per item
and clip), as RTNet's ``RTTestDataset`` draws it (OliverRensu/RTNet ``dataset.py``), or at a fixed
offset (an int); ``backward_flow=True`` adds ``meta["backward_flow"]``, the flow from each frame to its
predecessor. :meth:`TwoStreamFrames.for_adapter` makes the copy an adapter asks for
(``frames_per_sample``, ``needs_backward_flow``), which the fusion study does for every model.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch.utils.data

from sdinterp.data.layouts import Layout, VideoEntry, discover, flow_image_paths
from sdinterp.data.video import VideoReadError, VideoSource, open_video
from sdinterp.interfaces import Sample

__all__ = ["TwoStreamFrames"]


class TwoStreamFrames(torch.utils.data.Dataset):
    """One-frame (image, flow) samples, sequence-major.

    Args:
        data: a dataset root or video file (see :func:`sdinterp.data.layouts.discover`), or entries.
        frames_per_item: clips (frames) each sequence item contributes.
        repeats: passes over the sequences (5 in the reference).
        seed: seed of the item order and of the per-item style draw.
        flow: ``"dis"`` (default), ``"farneback"`` or ``"images"`` (the entries' flow folders).
        flow_cache: folder of the computed-flow cache (default: a per-process temporary folder).
        style: ``None`` (unstyled, or the first style of a stylized entry), ``"random"`` (one style
            per item, as the reference draws clip 1's style), or a style id.
        layout, layout_options: how to read a root.
        num_items: if set, exactly this many sequence items (the passes continue as needed and
            the last is cut short); overrides ``repeats``.
        second_frame: ``None`` (one frame per sample), ``"reference"`` (a second frame at a seeded
            offset in [-10, 10) \\ {0}, as RTNet's test loader) or an int offset.
        backward_flow: also give each frame's backward flow in ``meta["backward_flow"]`` (computed
            flow only: ``flow="images"`` has forward flow images only).
        size: a working (H, W) (one int: a square), usually the model's input size
            (``frame_size``): frames larger than it are resized to it as they are read, and computed
            flow is computed on the resized frames, in their pixels (flow images are resized with
            the frames). Far cheaper than full resolution on large videos: the two-stream adapters
            resize to this anyway. It changes the flow's definition (docs/method.md, "Pairs at the
            model's resolution", with its measured effect); ``None`` (default) keeps the frames as
            decoded.

    Examples:
        >>> ds = TwoStreamFrames(  # doctest: +SKIP
        ...     "../shared/data/videos/tree.avi", frames_per_item=4, flow_cache="/tmp/flow")
        >>> ds[0].frames.shape, ds[0].flow.shape  # doctest: +SKIP
        ((1, 240, 320, 3), (1, 240, 320, 2))
    """

    def __init__(
        self,
        data: str | os.PathLike[str] | Sequence[VideoEntry],
        frames_per_item: int = 8,
        repeats: int = 1,
        seed: int = 0,
        flow: Literal["dis", "farneback", "images"] = "dis",
        flow_cache: str | os.PathLike[str] | None = None,
        style: Any = None,
        layout: Layout = "auto",
        layout_options: Mapping[str, Any] | None = None,
        num_items: int | None = None,
        second_frame: Literal["reference"] | int | None = None,
        backward_flow: bool = False,
        size: Sequence[int] | int | None = None,
    ):
        if isinstance(data, (str, os.PathLike)):
            entries, problems = discover(data, layout, **dict(layout_options or {}))
            if problems:
                raise VideoReadError(
                    data, f"{len(problems)} problem(s), e.g. {problems[0]} (run `sdinterp scan {data}`)"
                )
        else:
            entries = list(data)
        if not entries:
            raise VideoReadError(str(data), "no videos found")
        if flow not in ("dis", "farneback", "images"):
            raise ValueError(f"flow must be 'dis', 'farneback' or 'images', got {flow!r}")
        for name, value in (("frames_per_item", frames_per_item), ("repeats", repeats)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if flow == "images":
            missing = [e.video_id for e in entries if e.flow_dir is None]
            if missing:
                raise VideoReadError(missing[0], "has no flow folder; use flow='dis' to compute flow")
        self.entries, self.flow, self.style = entries, flow, style
        self.frames_per_item, self.repeats, self.seed = int(frames_per_item), int(repeats), int(seed)
        self.flow_cache = None if flow_cache is None else str(flow_cache)
        if num_items is not None and (isinstance(num_items, bool) or int(num_items) != num_items or num_items < 1):
            raise ValueError(f"num_items must be a positive integer, got {num_items!r}")
        passes = self.repeats if num_items is None else -(-int(num_items) // len(entries))
        rng = np.random.default_rng([self.seed, 0x2F1])
        self.items = [int(e) for _ in range(passes) for e in rng.permutation(len(entries))][:num_items]
        self._sources: dict[str, VideoSource] = {}
        if (
            second_frame is not None
            and second_frame != "reference"
            and (isinstance(second_frame, bool) or not isinstance(second_frame, int) or second_frame == 0)
        ):
            raise ValueError(f"second_frame must be None, 'reference' or a non-zero int offset, got {second_frame!r}")
        if backward_flow and flow == "images":
            raise ValueError(
                "backward_flow needs computed flow (flow='dis' or 'farneback'): flow images hold forward "
                "flow only; or build the RTNet adapter with backward_flow='forward'"
            )
        self.second_frame, self.backward_flow = second_frame, bool(backward_flow)
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if size is not None and (
            isinstance(size, bool) or len(size) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in size)
        ):
            raise ValueError(f"size must be a positive (H, W) or one positive int, got {size!r}")
        self.size = None if size is None else (int(size[0]), int(size[1]))

    def for_adapter(self, adapter: Any) -> TwoStreamFrames:
        """This dataset as ``adapter`` reads it: two frames per sample if its ``frames_per_sample`` is
        2 (RTNet), with backward flow if its ``needs_backward_flow``; ``self`` when nothing changes."""
        pair: Literal["reference"] | None = "reference" if getattr(adapter, "frames_per_sample", 1) == 2 else None
        backward = bool(getattr(adapter, "needs_backward_flow", False))
        if (pair or self.second_frame) == self.second_frame and backward == self.backward_flow:
            return self
        import copy

        out = copy.copy(self)
        out._sources = {}
        out.second_frame = self.second_frame if self.second_frame is not None else pair
        out.backward_flow = backward
        if backward and self.flow == "images":
            raise ValueError(
                f"{type(adapter).__name__} takes backward flow, which flow images do not hold: use "
                "--flow dis, or give the adapter backward_flow='forward'"
            )
        return out

    def _second(self, frame: int, usable: int, item: int, k: int) -> int:
        """The second frame's index (reference: offset in [-10, 10) \\ {0}, redrawn until inside the clip)."""
        if usable < 2:
            return frame
        if self.second_frame != "reference":
            return int(min(max(frame + int(self.second_frame), 0), usable - 1))  # type: ignore[arg-type]
        rng = np.random.default_rng([self.seed, item, k, 0x27])
        while True:
            offset = int(rng.integers(-10, 10))
            if offset != 0 and 0 <= frame + offset < usable:
                return frame + offset

    def __len__(self) -> int:
        return len(self.items) * self.frames_per_item

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_sources"] = {}
        return state

    def _open(self, path: str) -> VideoSource:
        if path not in self._sources:
            if len(self._sources) >= 8:
                self._sources.pop(next(iter(self._sources)))
            self._sources[path] = open_video(path)
        return self._sources[path]

    def _style(self, entry: VideoEntry, item: int) -> Any:
        if self.style == "random":
            keys = entry.styles
            return keys[int(np.random.default_rng([self.seed, item]).integers(len(keys)))]
        if self.style is None:
            return None if None in entry.sources else entry.styles[0]
        if self.style not in entry.sources:
            raise VideoReadError(entry.video_id, f"has no style {self.style!r}; it has {entry.styles}")
        return self.style

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} (image, flow) samples")
        item, k = divmod(int(index), self.frames_per_item)
        entry = self.entries[self.items[item]]
        style = self._style(entry, item)
        path = entry.sources[style]
        source = self._open(path)
        flow_paths = flow_image_paths(entry, source) if self.flow == "images" else None
        usable = min(len(source), len(flow_paths)) if flow_paths is not None else len(source) - 1
        if usable < 1:
            raise VideoReadError(path, f"has {len(source)} frame(s); flow needs at least 2")
        frame = int(np.linspace(0, usable - 1, self.frames_per_item).astype(np.int64)[k])
        frames = [frame] if self.second_frame is None else [frame, self._second(frame, usable, item, k)]
        image, flow = self._read(source, frames, flow_paths)
        meta = {
            "path": path,
            "styles": dict(entry.sources),
            "item": item,
            "sequence": entry.video_id,
            "num_source_frames": len(source),
        }
        if self.backward_flow:
            meta["backward_flow"] = self._backward(source, frames)
        return Sample(
            frames=image,
            flow=flow,
            style=style,
            video_id=entry.video_id,
            frame_indices=np.array(frames, dtype=np.int64),
            meta=meta,
        )

    def _read(
        self, source: VideoSource, frames: list[int], flow_paths: Sequence[Any] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The frames and their flow, at the working size where it applies. Computed flow: the
        frames the flow cache still needs are decoded with the image, in one pass (a second seek
        into a compressed video costs more than the frames)."""
        from sdinterp.data.flow import FlowCache, read_flow_images, shrink_size
        from sdinterp.data.resize import shrink_frames

        if flow_paths is not None:
            image = source.read(frames)
            flow = read_flow_images([flow_paths[f] for f in frames], size=image.shape[1:3], resize=True)
        else:
            method: Literal["dis", "farneback"] = "dis" if self.flow == "dis" else "farneback"  # not "images"
            cache = FlowCache(self.flow_cache or _temporary_cache(), method=method, size=self.size)
            need = sorted(set(frames) | set(cache.missing(source, frames)))
            decoded = dict(zip(need, source.read(need)))
            image = np.stack([decoded[f] for f in frames])
            flow = cache.flow(source, frames, decoded)
        small = shrink_size(image.shape[1], image.shape[2], self.size)
        if small is not None:
            image = shrink_frames(image, small)
            if flow.shape[1:3] != small:  # flow images; computed flow already is at this size
                flow = shrink_frames(flow, small)
        return image, flow

    def _backward(self, source: VideoSource, frames: Sequence[int]) -> np.ndarray:
        """Flow from each frame to its predecessor (frame 0: the flow from frame 1 to 0), at the
        working size where it applies."""
        from sdinterp.data.flow import compute_flow, shrink_size
        from sdinterp.data.resize import shrink_frames

        method: Literal["dis", "farneback"] = "dis" if self.flow == "dis" else "farneback"
        out = []
        for f in frames:
            b = max(int(f), 1)
            pair = source.read([b, b - 1])
            small = shrink_size(pair.shape[1], pair.shape[2], self.size)
            if small is not None:
                pair = shrink_frames(pair, small)
            out.append(compute_flow(pair[0], pair[1], method))
        return np.stack(out).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """The run identity: every source (path, size, modification time) and every option."""
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
        out = {
            "videos": videos,
            "n_clips": len(self),
            "frames_per_item": self.frames_per_item,
            "items": self.items,
            "seed": self.seed,
            "flow": self.flow,
            "style": self.style,
        }
        if self.second_frame is not None or self.backward_flow:  # one-frame datasets keep their identity
            out.update(second_frame=self.second_frame, backward_flow=self.backward_flow)
        if self.size is not None:  # and so do datasets at full resolution
            out["size"] = list(self.size)
        return out


_TMP: tempfile.TemporaryDirectory[str] | None = None


def _temporary_cache() -> str:
    """A per-process flow cache folder, removed at exit (the directory object's finalizer)."""
    global _TMP
    if _TMP is None:
        _TMP = tempfile.TemporaryDirectory(prefix="sdinterp-twostream-flow-")
    return _TMP.name
