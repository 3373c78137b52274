"""Generic adapter: any ``nn.Module`` taking a float clip (B, 3, T, H, W).

Its layers are the model's named modules (canonical name = module path). Also resolves the model
spec ``python:package.module:factory`` (calls ``factory()``), so any user model can be used from the
command line without writing an adapter.
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

import torch
from torch import nn

from sdinterp.adapters._clip import KINETICS_MEAN, KINETICS_STD, ClipSpec
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, ModelAdapter, Sample
from sdinterp.data.clips import uniform_temporal_subsample

__all__ = ["GenericVideoAdapter", "clips_to_tensor"]


def clips_to_tensor(
    samples: Sequence[Sample],
    view: int = 0,
    size: int | None = None,
    crop: int | None = None,
    mean: Sequence[float] | None = KINETICS_MEAN,
    std: Sequence[float] | None = KINETICS_STD,
    scale: float = 255.0,
) -> torch.Tensor:
    """Stack one view of each sample into a float (B, 3, T, H, W) tensor with the project's one clip
    preprocessor (:class:`~sdinterp.adapters._clip.ClipSpec`).

    Args:
        samples: samples with views set.
        view: which pathway view to stack.
        size: resize the short side to this many pixels if given.
        crop: centre-crop to ``crop`` x ``crop`` if given.
        mean, std: per-channel normalisation after dividing by ``scale`` (``None`` to skip).
        scale: divisor mapping uint8 to [0, 1] (1.0 keeps 0..255).
    """
    spec = ClipSpec(None, crop, size, _triple(mean), _triple(std), scale)
    return spec.batch(samples, view)


def _triple(v: Sequence[float] | None) -> tuple[float, float, float] | None:
    return None if v is None else tuple(float(x) for x in v)  # type: ignore[return-value]


class GenericVideoAdapter(ModelAdapter):
    """Adapter for any module with ``forward(x: (B, 3, T, H, W) float)``.

    Args:
        model: the module.
        num_frames: temporally subsample each clip to this many frames (uniformly); ``None`` keeps all.
        short_side: short-side resize in pixels; ``None`` keeps the frames' size.
        crop_size: centre crop size; ``None`` for no crop.
        mean, std: normalisation applied after dividing by ``scale``; ``None`` disables it.
        scale: 255.0 maps uint8 to [0, 1]; 1.0 feeds raw 0..255 values.
        channels: optional ``{module path: channels}`` to declare widths (checked at run time).
        pooling: how every layer is pooled (default global average over non-channel dims).

    Examples:
        >>> adapter = GenericVideoAdapter(my_model, num_frames=8, short_side=128, crop_size=112)  # doctest: +SKIP
    """

    family = "generic"

    def __init__(
        self,
        model: nn.Module,
        num_frames: int | None = None,
        short_side: int | None = None,
        crop_size: int | None = None,
        mean: Sequence[float] | None = (0.45, 0.45, 0.45),
        std: Sequence[float] | None = (0.225, 0.225, 0.225),
        scale: float = 255.0,
        channels: dict[str, int] | None = None,
        pooling: Any = "channels_first",
    ):
        super().__init__(model)
        self.num_frames = num_frames
        self.short_side, self.crop_size = short_side, crop_size
        self.mean, self.std, self.scale = mean, std, scale
        # One preprocessor for every adapter; built now so bad options fail before any forward.
        self.clip = ClipSpec(num_frames, crop_size, short_side, _triple(mean), _triple(std), scale)
        self.channels = dict(channels or {})
        self.default_pooling = pooling
        unknown = set(self.channels) - {n for n, _ in model.named_modules()}
        if unknown:
            raise ValueError(f"channels declared for unknown modules: {sorted(unknown)}")

    def layers(self) -> dict[str, LayerInfo]:
        return {
            name: LayerInfo(name=name, module=name, channels=self.channels.get(name), stream="rgb", pooling=self.default_pooling)
            for name, _ in self.model.named_modules()
            if name
        }

    def views(self, sample: Sample) -> Sample:
        if self.num_frames is None or sample.views is not None:
            return super().views(sample)
        return sample.replace(views=(uniform_temporal_subsample(sample.num_frames, self.num_frames),))

    def prepare(self, samples: Sequence[Sample]) -> torch.Tensor:
        return self.clip.batch(samples, 0)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "num_frames": self.num_frames,
            "short_side": self.short_side,
            "crop_size": self.crop_size,
            "mean": list(self.mean) if self.mean is not None else None,
            "std": list(self.std) if self.std is not None else None,
            "scale": self.scale,
        }


#: Option names shared by every adapter family: num_frames, short_side, crop_size (+ mean/std).
_GENERIC_OPTIONS = ("num_frames", "short_side", "crop_size", "mean", "std", "scale", "channels", "pooling")


@hookimpl(trylast=True)
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """Fallback for any ``nn.Module``: asked after every family-specific adapter."""
    if isinstance(model, nn.Module):
        return GenericVideoAdapter(model, **{k: v for k, v in options.items() if k in _GENERIC_OPTIONS})
    return None


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> nn.Module | ModelAdapter | None:
    """``python:package.module:factory`` -> ``factory()`` (a model or an adapter)."""
    if not spec.startswith("python:"):
        return None
    target = spec[len("python:"):]
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise ValueError(f"model spec {spec!r}: expected python:package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"model spec {spec!r}: cannot import {module_name!r}: {exc}") from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise ValueError(f"model spec {spec!r}: {module_name!r} has no attribute {attr!r}")
    return factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
