"""What a run reads: clips as :class:`~sdinterp.interfaces.Sample` objects, cut down to the frames
their views use, loaded in batches (optionally by reader workers) and moved to the model's device."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sdinterp.interfaces import Sample

__all__ = ["as_samples", "compact_to_views", "decode_only_views", "load_batches", "to_device", "to_working_size"]


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


def decode_only_views(data: Any, adapter: Any) -> Any:
    """``data.with_views(...)`` with the adapter's views when the dataset supports it (as
    :class:`~sdinterp.data.VideoClipDataset`), so only the frames the model takes are decoded: the
    clips are the same as the compacted full windows, and memory no longer grows with the window
    length. Data of any other kind is returned unchanged."""
    with_views = getattr(data, "with_views", None)
    if not callable(with_views) or getattr(data, "views", None) is not None or getattr(data, "num_frames", None):
        return data
    if not _keeps_views(adapter):
        return data

    def views(length: int) -> tuple[np.ndarray, ...]:
        return adapter.views(Sample(frames=np.zeros((length, 1, 1, 3), np.uint8))).view_indices()

    return with_views(views)


def to_working_size(sample: Sample, size: tuple[int, int] | None) -> Sample:
    """The sample's frames resized to ``size`` (antialiased bilinear, as the adapters resize, then
    rounded to uint8); unchanged when ``size`` is ``None``, equal to the frames' size, or larger
    (frames are never enlarged here), or when the sample carries flow (whose vectors would need
    rescaling with the frames: two-stream adapters size their own inputs)."""
    h, w = sample.frames.shape[1:3]
    if size is None or sample.flow is not None or tuple(size) == (h, w) or size[0] > h or size[1] > w:
        return sample

    def resized(frames: np.ndarray) -> np.ndarray:
        # torch's uint8 channels-last kernel: ~15x faster than resizing a float copy, and within one
        # grey level of rounding the float result (the adapters' own resize).
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(int(size[0]), int(size[1])), mode="bilinear", align_corners=False, antialias=True)
        return x.permute(0, 2, 3, 1).contiguous().numpy()

    meta = dict(sample.meta)
    unstyled = meta.get("unstyled")
    if isinstance(unstyled, np.ndarray) and unstyled.shape == sample.frames.shape:
        meta["unstyled"] = resized(unstyled)
    return sample.replace(frames=resized(sample.frames), meta=meta)


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
