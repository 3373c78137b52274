"""Generic adapter: any ``nn.Module`` taking a float clip (B, 3, T, H, W).

Its layers are the named modules that run in a forward (canonical name = module path), found with
their widths by a probe of a small dummy clip (:mod:`sdinterp.probe`: a trace, then the widths through
the report's capture path); containers that never run are not listed.
Also resolves the model spec ``python:package.module:factory`` (calls ``factory()``), so any user
model can be used from the command line without writing an adapter.

A model whose forward takes something else (a dict, a list of pathways, extra arguments) is fed by
a subclass that overrides :meth:`GenericVideoAdapter.prepare` (and :meth:`forward` if needed); see
``docs/your_model.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.adapters._clip import KINETICS_MEAN, KINETICS_STD, ClipPreprocessor
from sdinterp.data.clips import uniform_temporal_subsample
from sdinterp.errors import UnsupportedModelError
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, ModelAdapter, Sample
from sdinterp.models import PYTHON_PREFIX, load_python_object
from sdinterp.probe import evaluating, probe_widths, tolerant_pooling, trace

#: Where users read how to adapt a model the generic adapter cannot feed.
OWN_MODEL_DOCS = "docs/your_model.md"

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
    preprocessor (:class:`~sdinterp.adapters._clip.ClipPreprocessor`).

    Args:
        samples: samples with views set.
        view: which pathway view to stack.
        size: resize the short side to this many pixels if given.
        crop: centre-crop to ``crop`` x ``crop`` if given.
        mean, std: per-channel normalisation after dividing by ``scale`` (``None`` to skip).
        scale: divisor mapping uint8 to [0, 1] (1.0 keeps 0..255).
    """
    spec = ClipPreprocessor(None, crop, size, _triple(mean), _triple(std), scale)
    return spec.batch(samples, view)


def _triple(v: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if v is None else tuple(float(x) for x in v)


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
        mean: Sequence[float] | None = KINETICS_MEAN,
        std: Sequence[float] | None = KINETICS_STD,
        scale: float = 255.0,
        channels: dict[str, int] | None = None,
        pooling: Any = "channels_first",
    ):
        super().__init__(model)
        self.num_frames = num_frames
        self.short_side, self.crop_size = short_side, crop_size
        self.mean, self.std, self.scale = mean, std, scale
        # One preprocessor for every adapter; built now so bad options fail before any forward.
        self.clip = ClipPreprocessor(num_frames, crop_size, short_side, _triple(mean), _triple(std), scale)
        self.channels = dict(channels or {})
        self.default_pooling = pooling
        unknown = set(self.channels) - {n for n, _ in model.named_modules()}
        if unknown:
            raise ValueError(f"channels declared for unknown modules: {sorted(unknown)}")
        self._ran: dict[str, int | None] | None = None

    def layers(self) -> dict[str, LayerInfo]:
        """The modules that run in a forward, in definition order, with their pooled widths (one
        probe forward, cached; declared ``channels`` win, and are checked at run time)."""
        ran = self.probe()
        return {
            name: LayerInfo(
                name=name,
                module=name,
                channels=self.channels.get(name, ran[name]),
                stream="rgb",
                pooling=self.default_pooling,
            )
            for name, _ in self.model.named_modules()
            if name and name in ran
        }

    def probe_samples(self) -> list[Sample]:
        """Two small clips for the probe forward: the adapter's frames and crop, else 8 frames of
        112 x 112 (override for a model that needs something else, e.g. flow)."""
        side = self.crop_size or self.short_side or 112
        frames = self.num_frames or 8
        rng = np.random.default_rng(0)
        return [
            Sample(frames=rng.integers(0, 256, (frames, side, side, 3), dtype=np.uint8), video_id=f"probe{i}")
            for i in range(2)
        ]

    def probe(self) -> dict[str, int | None]:
        """``{module path: pooled width or None}`` for every module that ran in one forward of
        :meth:`probe_samples`.

        Raises:
            UnsupportedModelError: the forward failed: the model does not take what this adapter
                feeds it (the message says what was fed and where to read how to adapt it).
        """
        if self._ran is not None:
            return self._ran
        from sdinterp.pipeline.inputs import to_device

        try:
            samples = [self.views(s) for s in self.probe_samples()]
            x = self.prepare(samples)
            x = to_device(x, self.device)

            def run() -> Any:
                return self.forward(x)

            with evaluating(self.model), torch.inference_mode():
                ran = trace(self.model, run)
            # widths through the report's own capture path; a module whose output does not pool
            # with this adapter's pooling (or is not a float tensor) has no width yet
            measurable = {
                n: LayerInfo(n, n, None, "rgb", pooling=tolerant_pooling(self.default_pooling, n), call=0)
                for n, t in ran.items()
                if t.tensor_output and t.shape is not None and len(t.shape) >= 2
            }
            widths = probe_widths(self.model, measurable, run).widths if measurable else {}
        except Exception as exc:
            raise UnsupportedModelError(
                f"the {type(self).__name__} cannot feed {type(self.model).__name__}: its forward failed on a probe "
                f"input of {_shapes(x) if 'x' in locals() else 'clips'} ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}). If it takes other sizes, pass "
                f"num_frames/crop_size (--frames/--crop-size); if its forward takes a dict, a list of pathways or "
                f"extra arguments, subclass GenericVideoAdapter and override prepare()/forward(): see {OWN_MODEL_DOCS}"
            ) from exc
        self._ran = {n: widths.get(n) for n in ran}
        return self._ran

    def views(self, sample: Sample) -> Sample:
        if self.num_frames is None or sample.views is not None:
            return super().views(sample)
        return sample.replace(views=(uniform_temporal_subsample(sample.num_frames, self.num_frames),))

    def working_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The clip's short-side resize (``ClipPreprocessor.resized_size``): pairs are made at this size."""
        return self.clip.resized_size(height, width)

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


def _shapes(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {tuple(x.shape)} tensor"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of " + ", ".join(_shapes(v) for v in x)
    if isinstance(x, dict):
        return "a dict of " + ", ".join(f"{k}: {_shapes(v)}" for k, v in x.items())
    return type(x).__name__


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
    if not spec.startswith(PYTHON_PREFIX):
        return None
    factory = load_python_object(spec)
    return factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
