"""Shared machinery of the video-model adapters: temporal views, clip preprocessing, pooling helpers.

This is the clip path (a (B, 3, T, H, W) tensor from ``T`` frames) of the RGB clip adapters
(torchvision, pytorchvideo, MMAction2, Hugging Face, generic, VisTR); two-stream (image, flow)
models have theirs in :mod:`sdinterp.adapters.image_flow`. The normalisation statistics of both
live here, once.

Preprocessing follows the reference code's action-recognition transform (docs/method.md §3): uniform
temporal subsampling (``UniformTemporalSubsample``: indices ``linspace(0, L-1, T)`` truncated), values
to [0, 1], per-channel normalisation, short-side resize, centre crop. Resizing is done before
normalising: bilinear resampling weights sum to one, so the two orders give the same tensor up to
float rounding, and resizing the uint8-range frames first is cheaper.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdinterp.adapters._weights import load_state_dict_file, one_line, read_state_dict_file
from sdinterp.data.clips import uniform_temporal_subsample
from sdinterp.errors import ShortVideoWarning
from sdinterp.interfaces import ModelAdapter, Sample

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KINETICS_MEAN",
    "KINETICS_STD",
    "ClipPreprocessor",
    "VideoClipAdapter",
    "channels_last_pool",
    "load_state_dict_file",
    "read_state_dict_file",
    "one_line",
    "module_width",
    "uniform_indices",
    "first_output",
    "cat_pathways",
    "warn_if_frames_repeat",
]

# Kinetics statistics used by SlowFast/pytorchvideo and the reference code (docs/method.md §3).
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
# ImageNet statistics (RGB, [0, 1] scale): the reference VOS transform's (method.md §2), VisTR's,
# torchvision's Swin3D preset and timm/transformers' IMAGENET_DEFAULT_MEAN/STD.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# One implementation of the reference's UniformTemporalSubsample for the whole project.
uniform_indices = uniform_temporal_subsample


def first_output(outputs: Any) -> torch.Tensor:
    """The token tensor of an MViT block's ``(tokens, thw)`` output."""
    return outputs[0]


def cat_pathways(outputs: Any) -> torch.Tensor:
    """Globally averaged slow and fast features concatenated: (B, C_slow + C_fast) — the reference's
    ``slowfast_r50_8x8_cat`` stage-5 representation."""
    return torch.cat([t.float().mean(dim=tuple(range(2, t.dim()))) for t in outputs], dim=1)


def warn_if_frames_repeat(sample: Sample, frames: int, model: nn.Module) -> None:
    """Warn when a clip has fewer frames than the model takes: the uniform subsample (as the
    reference's ``UniformTemporalSubsample``) then repeats frames, which the command line refuses."""
    if sample.num_frames < frames:
        warnings.warn(
            f"clip {sample.video_id or '(unnamed)'} has {sample.num_frames} frames and {type(model).__name__} "
            f"takes {frames}: frames repeat (as the reference's UniformTemporalSubsample); give clips of at least "
            "that many frames (clip_length), or build the adapter with fewer frames",
            ShortVideoWarning,
            stacklevel=3,
        )


@functools.lru_cache(maxsize=32)
def _statistics(
    mean: tuple[float, ...], std: tuple[float, ...], scale: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    # Made once per device: on a GPU a clip's normalisation then copies nothing from the host.
    m = torch.tensor(mean).view(1, 3, 1, 1) * scale
    s = torch.tensor(std).view(1, 3, 1, 1) * scale
    return m.to(device), s.to(device)


@dataclasses.dataclass(frozen=True)
class ClipPreprocessor:
    """How the clip adapters turn frames into a clip tensor (the two-stream adapters use
    :class:`~sdinterp.adapters.image_flow.ImageFlowPreprocessor`; a :class:`~sdinterp.interfaces.Sample`
    is the data, this is what is done to it).

    Steps (``docs/method.md`` §3): short-side resize (bilinear, antialiased; the long side is
    ``int(long * short_side / short)``, truncated as the reference's ``ShortSideScale``), centre crop,
    values divided by ``scale`` (255 maps uint8 to [0, 1]), per-channel normalisation. Any step
    whose setting is ``None`` is skipped.

    Attributes:
        num_frames: frames of the (fastest) pathway (``None``: the adapter's views decide).
        crop_size: side of the square centre crop, in pixels (``None``: no crop).
        short_side: the short side is resized to this before cropping (``None`` = ``crop_size``;
            both ``None``: frames keep their size).
        mean: per-channel mean on the ``1/scale`` scale (RGB), or ``None`` to skip normalisation.
        std: per-channel standard deviation on that scale (RGB), or ``None``.
        scale: divisor mapping the uint8 values first (1.0 keeps 0..255).
    """

    num_frames: int | None
    crop_size: int | None
    short_side: int | None = None
    mean: tuple[float, ...] | None = KINETICS_MEAN
    std: tuple[float, ...] | None = KINETICS_STD
    scale: float = 255.0

    def __post_init__(self) -> None:
        for name in ("num_frames", "crop_size", "short_side"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.crop_size is not None and self.short_side is not None and self.short_side < self.crop_size:
            raise ValueError(f"short_side {self.short_side} is smaller than crop_size {self.crop_size}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std, or neither")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}")

    @property
    def resize_to(self) -> int | None:
        return self.short_side if self.short_side is not None else self.crop_size

    def resized_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The (height, width) frames of this size are resized to before the crop (``None``: kept)."""
        side = self.resize_to
        if side is None:
            return None
        h, w = int(height), int(width)
        return (side, max(side, int(w * side / h))) if h <= w else (max(side, int(h * side / w)), side)

    def clip_tensor(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 frames (T, H, W, 3) -> float tensor (3, T, H', W'), on the frames' device (a numpy
        clip: the CPU)."""
        if not isinstance(frames, torch.Tensor):
            frames = torch.from_numpy(np.ascontiguousarray(frames))
        u8 = frames.permute(0, 3, 1, 2)  # T,3,H,W uint8
        h, w = u8.shape[-2:]
        size = self.resized_size(h, w)
        resize = size is not None and size != (h, w)
        if resize:
            # antialias: clips are often downscaled a lot (576 -> 64); without it the result aliases.
            # One frame at a time: a float copy of one full-size frame, never of the whole clip (the
            # same values: frames are resized independently).
            x = torch.cat(
                [
                    F.interpolate(f[None].float(), size=size, mode="bilinear", align_corners=False, antialias=True)
                    for f in u8
                ]
            )
        else:
            x = u8
        if self.crop_size is not None:
            if self.crop_size > min(x.shape[-2:]):
                raise ValueError(
                    f"crop {self.crop_size} is larger than the frames "
                    f"({x.shape[-2]}x{x.shape[-1]}); set a larger short side"
                )
            top = (x.shape[-2] - self.crop_size) // 2
            left = (x.shape[-1] - self.crop_size) // 2
            x = x[..., top : top + self.crop_size, left : left + self.crop_size]
        # One float copy, of the cropped frames only, straight into the (3, T, H, W) layout; the
        # normalisation then works in place: the same values as (x.float() - mean) / std in three passes.
        out = torch.empty((x.shape[1], x.shape[0], *x.shape[2:]), dtype=torch.float32, device=x.device)
        out.copy_(x.permute(1, 0, 2, 3))
        if self.mean is not None and self.std is not None:
            mean, std = _statistics(self.mean, self.std, self.scale, x.device)
            return out.sub_(mean.view(3, 1, 1, 1)).div_(std.view(3, 1, 1, 1))
        if self.scale != 1.0:
            return out.div_(self.scale)
        return out

    def batch(self, samples: Sequence[Sample], view: int = 0) -> torch.Tensor:
        """One view of each sample, preprocessed and stacked: (B, 3, T, H', W')."""
        clips = [self.clip_tensor(s.view_frames(view)) for s in samples]
        shapes = {tuple(c.shape) for c in clips}
        if len(shapes) != 1:
            detail = ", ".join(f"{s.video_id or i}: {tuple(s.view_frames(view).shape)}" for i, s in enumerate(samples))
            raise ValueError(
                f"clips in one batch must have the same (T, H, W, 3) shape after preprocessing; got {detail} "
                "(set a crop size so every clip is cropped alike)"
            )
        return torch.stack(clips)


class VideoClipAdapter(ModelAdapter):
    """Base of the built-in video adapters: uniform temporal views and deterministic clip tensors.

    Subclasses set :attr:`pathway_ratios` for multi-pathway models: one entry per view, the temporal
    stride of that pathway relative to the fastest one (SlowFast: ``(alpha, 1)`` for slow, fast).

    Args:
        model: the network.
        clip: the preprocessing (frames, crop, normalisation).
        pathway_ratios: one temporal stride per pathway, relative to ``clip.num_frames``.
    """

    family = "video"
    device_frames = True  # ClipPreprocessor works on the frames' device

    def __init__(self, model: nn.Module, clip: ClipPreprocessor, pathway_ratios: Sequence[int] = (1,)):
        super().__init__(model)
        self.clip = clip
        self.pathway_ratios = tuple(int(r) for r in pathway_ratios)
        if clip.num_frames is None:
            raise ValueError(f"{type(self).__name__} needs ClipPreprocessor.num_frames")
        for r in self.pathway_ratios:
            if r < 1 or clip.num_frames % r:
                raise ValueError(f"num_frames={clip.num_frames} is not divisible by pathway stride {r}")

    @property
    def num_frames(self) -> int:
        """``clip.num_frames``: every clip adapter has one (``__init__`` refuses ``None``)."""
        if self.clip.num_frames is None:  # only if clip was replaced after __init__
            raise ValueError(f"{type(self).__name__} needs ClipPreprocessor.num_frames")
        return self.clip.num_frames

    def views(self, sample: Sample) -> Sample:
        """One index array per pathway: ``num_frames`` uniform frames of the clip, and every
        ``ratio``-th of them for slower pathways (as pytorchvideo's ``PackPathway`` builds the slow
        pathway by subsampling the fast frames). Existing views are kept."""
        if sample.views is not None:
            return sample
        warn_if_frames_repeat(sample, self.num_frames, self.model)
        fast = uniform_indices(sample.num_frames, self.num_frames)
        views = tuple(fast[np.linspace(0, len(fast) - 1, len(fast) // r).astype(np.int64)] for r in self.pathway_ratios)
        return sample.replace(views=views)

    def pathway_tensors(self, samples: Sequence[Sample]) -> list[torch.Tensor]:
        """One batched tensor (B, 3, T_k, crop, crop) per pathway ``k``."""
        if not samples:
            raise ValueError("prepare() needs at least one sample")
        for s in samples:
            if len(s.view_indices()) != len(self.pathway_ratios):
                raise ValueError(
                    f"sample {s.video_id!r} has {len(s.view_indices())} views but {type(self.model).__name__} has "
                    f"{len(self.pathway_ratios)} pathways; call adapter.views(sample) first"
                )
        return [self.clip.batch(samples, k) for k in range(len(self.pathway_ratios))]

    def working_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The clip's short-side resize (``ClipPreprocessor.resized_size``): pairs are made at this size."""
        return self.clip.resized_size(height, width)

    def prepare(self, samples: Sequence[Sample]) -> Any:
        """Single pathway: a (B, 3, T, H, W) tensor; several: a list of them."""
        tensors = self.pathway_tensors(samples)
        return tensors[0] if len(tensors) == 1 else tensors

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "clip": dataclasses.asdict(self.clip),
            "pathway_ratios": list(self.pathway_ratios),
        }


def channels_last_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, ..., C) -> (B, C): mean over every dim between batch and channels (Swin's (B, T, H, W, C))."""
    return x.float().mean(dim=tuple(range(1, x.dim() - 1))) if x.dim() > 2 else x.float()


_WIDTH_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.modules.conv._ConvNd, nn.Linear)


def module_width(module: nn.Module, skip: tuple[str, ...] = ("se", "se_module")) -> int | None:
    """Output channels of a feature block, read from its last width-defining submodule.

    Residual and transformer blocks register their output projection/normalisation last (after any
    shortcut), so the last BatchNorm/GroupNorm/LayerNorm/Conv/Linear gives the block's width.
    Squeeze-excitation submodules (named in ``skip``) are ignored: mmaction's X3D registers its SE
    module after the block's last convolution. Blocks that concatenate branches (Inception) need
    the caller's own rule.
    """
    for name, m in reversed(list(module.named_modules())):
        if any(part in skip for part in name.split(".")):
            continue
        if isinstance(m, _WIDTH_TYPES):
            if isinstance(m, nn.LayerNorm):
                return int(m.normalized_shape[-1])
            if isinstance(m, nn.GroupNorm):
                return int(m.num_channels)
            if isinstance(m, nn.modules.batchnorm._NormBase):
                return int(m.num_features)
            if isinstance(m, nn.Linear):
                return int(m.out_features)
            return int(m.out_channels)
    return None


def replace_modules(root: nn.Module, match: Callable[[nn.Module], bool], make: Callable[[nn.Module], nn.Module]) -> int:
    """Replace every submodule of ``root`` for which ``match`` holds by ``make(old)``; returns the count."""
    count = 0
    for name, child in list(root.named_children()):
        if match(child):
            setattr(root, name, make(child))
            count += 1
        else:
            count += replace_modules(child, match, make)
    return count
