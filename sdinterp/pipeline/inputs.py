"""What a run reads: clips as :class:`~sdinterp.interfaces.Sample` objects, cut down to the frames
their views use, loaded in batches (optionally by reader workers) and moved to the model's device."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from sdinterp.data.resize import Fit, shrink_frames
from sdinterp.interfaces import Sample

__all__ = [
    "as_samples",
    "compact_to_views",
    "decode_only_views",
    "load_batches",
    "to_device",
    "to_working_size",
    "working_fit",
]


def as_samples(data: Any) -> Sequence[Sample]:
    """Accept Samples, a dataset of Samples, or uint8 clips (N, T, H, W, 3) / a list of (T, H, W, 3)."""
    if isinstance(data, Sample):
        return [data]
    if isinstance(data, (np.ndarray, torch.Tensor)):
        arr = data.numpy() if isinstance(data, torch.Tensor) else data
        if arr.ndim == 4:
            arr = arr[None]
        if arr.ndim != 5 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"clip arrays must be uint8 (N, T, H, W, 3), got {arr.dtype} {arr.shape}")
        return [Sample(frames=c, video_id=f"clip{i}") for i, c in enumerate(arr)]
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        if len(data) == 0:
            raise ValueError("no clips given")
        first = data[0]
        if isinstance(first, Sample):
            return data
        if isinstance(first, np.ndarray):
            return [Sample(frames=c, video_id=f"clip{i}") for i, c in enumerate(data)]
        raise TypeError(f"data items must be sdinterp.Sample or uint8 arrays, got {type(first).__name__}")
    raise TypeError(f"cannot read clips from a {type(data).__name__}")


def _keeps_views(adapter: Any) -> bool:
    """Whether ``adapter.views`` keeps views a sample already has (the built-in adapters do): views
    of the adapter's own shape, reversed, must come back unchanged."""
    own = adapter.views(Sample(frames=np.zeros((8, 1, 1, 3), np.uint8))).view_indices()
    preset = tuple(np.ascontiguousarray(v[::-1]) for v in own)
    out = adapter.views(Sample(frames=np.zeros((8, 1, 1, 3), np.uint8), views=preset))
    return (
        out.views is not None
        and len(out.views) == len(preset)
        and all(np.array_equal(a, b) for a, b in zip(out.views, preset))
    )


def _window(length: int) -> Sample:
    # A window of `length` frames that costs nothing (a broadcast view), whatever --clip-length is.
    return Sample(frames=np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (length, 1, 1, 3)))


def working_fit(adapter: Any) -> Fit:
    """The adapter's :meth:`~sdinterp.interfaces.ModelAdapter.working_size` as a decode-time
    :data:`~sdinterp.data.resize.Fit`, where shrinking while decoding gives the pixels that
    :func:`to_working_size` would give later: a smaller size that the adapter keeps as it is
    (frames of that size map to themselves or to ``None``); anything else (``None``) keeps the frames.

    Examples::

        >>> fit = working_fit(adapter)         # doctest: +SKIP
        >>> fit(4320, 7680)                    # doctest: +SKIP
        (128, 227)
    """

    def fit(height: int, width: int) -> tuple[int, int] | None:
        size = adapter.working_size(height, width)
        if size is None or size[0] > height or size[1] > width:
            return None
        size = (int(size[0]), int(size[1]))
        again = adapter.working_size(*size)
        return size if again is None or tuple(again) == size else None

    return fit


def decode_only_views(data: Any, adapter: Any, samplers: Sequence[Any] = ()) -> Any:
    """``data.with_views(...)`` with the adapter's views when the dataset supports it (as
    :class:`~sdinterp.data.VideoClipDataset`), so only the frames the model takes are decoded: the
    clips are the same as the compacted full windows, and memory no longer grows with the window
    length. Data of any other kind is returned unchanged.

    When ``samplers`` are given and every one works at the model's resolution
    (:attr:`~sdinterp.interfaces.PairSampler.model_resolution`), the dataset also shrinks each frame
    to the adapter's working size as it is decoded (``with_working_size``): the pixels the executor
    would make (:func:`to_working_size`), without the clip ever being held at full size, so memory
    grows with what the model takes, not with the source resolution (docs/install.md, "Memory").

    Args:
        data: the run's data.
        adapter: the model's adapter (its views and working size).
        samplers: the run's pair samplers.

    Returns:
        The dataset to read, or ``data`` unchanged.
    """
    with_views = getattr(data, "with_views", None)
    if callable(with_views) and getattr(data, "views", None) is None and not getattr(data, "num_frames", None):
        if _keeps_views(adapter):

            def views(length: int) -> tuple[np.ndarray, ...]:
                return adapter.views(_window(length)).view_indices()

            data = with_views(views)
    with_size = getattr(data, "with_working_size", None)
    if callable(with_size) and samplers and all(getattr(s, "model_resolution", False) for s in samplers):
        data = with_size(working_fit(adapter))
    return data


def to_working_size(sample: Sample, size: tuple[int, int] | None) -> Sample:
    """The sample's frames resized to ``size`` (antialiased bilinear in uint8,
    :func:`~sdinterp.data.resize.shrink_frames`, the kernel the readers shrink with); unchanged when
    ``size`` is ``None``, equal to the frames' size, or larger (frames are never enlarged here), or
    when the sample carries flow (whose vectors would need rescaling with the frames: two-stream
    adapters size their own inputs)."""
    frames = sample.frames
    if not isinstance(frames, np.ndarray):  # frames on a device are uploaded after this shrink
        return sample
    h, w = frames.shape[1:3]
    if size is None or sample.flow is not None or tuple(size) == (h, w) or size[0] > h or size[1] > w:
        return sample
    meta = dict(sample.meta)
    unstyled = meta.get("unstyled")
    if isinstance(unstyled, np.ndarray) and unstyled.shape == sample.frames.shape:
        meta["unstyled"] = shrink_frames(unstyled, size)
    return sample.replace(frames=shrink_frames(frames, size), meta=meta)


def compact_to_views(sample: Sample) -> Sample:
    """Keep only the frames the sample's views use (and remap the views), with their flow, source
    frame indices and any per-frame ``meta["unstyled"]`` array."""
    views = sample.view_indices()
    used = np.unique(np.concatenate(views))
    if len(used) == sample.num_frames:
        return sample
    meta = dict(sample.meta)
    unstyled = meta.get("unstyled")
    if isinstance(unstyled, np.ndarray) and unstyled.shape[:1] == (sample.num_frames,):
        meta["unstyled"] = unstyled[used]
    return sample.replace(
        frames=sample.frames[used],
        views=tuple(np.searchsorted(used, v).astype(np.int64) for v in views),
        flow=None if sample.flow is None else sample.flow[used],
        frame_indices=None if sample.frame_indices is None else np.asarray(sample.frame_indices)[used],
        meta=meta,
    )


class _RunClips(torch.utils.data.Dataset):
    """Clip ``i`` of a run is ``data[i % len(data)]``."""

    def __init__(self, clips: Sequence[Sample]):
        self.clips = clips

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, i: int) -> Sample:
        return self.clips[i % len(self.clips)]


def load_batches(clips: Sequence[Sample], batches: list[range], num_workers: int) -> Iterable[list[Sample]]:
    """The source clips of each batch, in order (read ahead by ``num_workers`` processes if > 0)."""
    if num_workers <= 0:
        return ([clips[i % len(clips)] for i in idx] for idx in batches)
    return torch.utils.data.DataLoader(
        _RunClips(clips), batch_sampler=[list(idx) for idx in batches], num_workers=num_workers, collate_fn=list
    )


def to_device(x: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) model input to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    return x
