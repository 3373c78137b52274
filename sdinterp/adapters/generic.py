"""Generic adapter: any ``nn.Module`` taking a float clip (B, 3, T, H, W).

Its layers (canonical name = module path) are found with their widths by a probe of a small dummy
clip (:mod:`sdinterp.probe`: a trace, then the widths through the report's capture path). The
default layers are the modules that run exactly once per forward and give a float map whose channel
axis is known; in a transformer (a model with an attention module) they are its blocks (the
elements of its outermost block lists) and the model's own children, read along their channels,
never their token count. A module that runs more than once (a shared ``relu``) is no default layer:
it is named with the call to measure, ``relu@1`` (0-based; :func:`sdinterp.capture.split_call`),
and :meth:`GenericVideoAdapter.module_calls` lists how often each module runs. Containers that
never run are not listed.
Also resolves the model spec ``python:package.module:factory`` (calls ``factory()``), so any user
model can be used from the command line without writing an adapter.

A model whose forward takes something else (a dict, a list of pathways, extra arguments) is fed by
a subclass that overrides :meth:`GenericVideoAdapter.prepare` (and :meth:`forward` if needed); see
``docs/your_model.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from sdinterp.adapters._clip import (
    KINETICS_MEAN,
    KINETICS_STD,
    ClipPreprocessor,
    channels_last_pool,
    warn_if_frames_repeat,
)
from sdinterp.adapters._weights import load_state_dict_file
from sdinterp.capture import CALL_SEP, split_call
from sdinterp.data.clips import uniform_temporal_subsample
from sdinterp.errors import UnknownLayerError, UnsupportedModelError
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import INPUT_PREFIX, LayerInfo, ModelAdapter, Pooling, Sample
from sdinterp.models import (
    PYTHON_PREFIX,
    check_weights_options,
    load_python_object,
    refuse_unknown_options,
    weights_file_provenance,
)
from sdinterp.probe import CHANNELS_FIRST, CHANNELS_LAST, Trace, evaluating, probe_widths, tolerant_pooling, trace

#: Where users read how to adapt a model the generic adapter cannot feed.
OWN_MODEL_DOCS = "docs/your_model.md"

__all__ = ["GenericVideoAdapter", "ModuleRun", "clips_to_tensor"]


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


@dataclasses.dataclass(frozen=True)
class ModuleRun:
    """What the probe forward saw of one module.

    Attributes:
        path: the module's dotted path.
        calls: how many times it ran in one forward.
        poolings: how each of its first calls' output is pooled to (B, C) (``None``: its channel
            axis could not be told); calls beyond those the trace kept are pooled as the last.
        widths: the pooled width of each of those calls (``None`` where it cannot be pooled).
    """

    path: str
    calls: int
    poolings: tuple[Any, ...]
    widths: tuple[int | None, ...]

    def pooling(self, call: int) -> Any:
        """The pooling of call ``call`` (0-based)."""
        return self.poolings[min(call, len(self.poolings) - 1)] if self.poolings else None

    def width(self, call: int | str | None) -> int | None:
        """The pooled width of call ``call`` (``None``: the single call; ``"all"``: every call
        concatenated), or ``None`` where it is not known before a run."""
        if call == "all":
            known = len(self.widths) == self.calls and all(w is not None for w in self.widths)
            return sum(w for w in self.widths if w is not None) if known else None
        k = int(call or 0)
        return self.widths[k] if k < len(self.widths) else None


def _is_attention(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or "attention" in type(module).__name__.lower()


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
        pooling: how every layer is pooled; default ``None``: by each output's layout as the probe
            saw it (a global average over every axis but the channels', wherever they are).

    Examples:
        >>> adapter = GenericVideoAdapter(my_model, num_frames=8, short_side=128, crop_size=112)  # doctest: +SKIP
    """

    family = "generic"
    device_frames = True  # prepare is ClipPreprocessor.batch, on the frames' device

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
        pooling: Any = None,
    ):
        super().__init__(model)
        self.num_frames = num_frames
        self.short_side, self.crop_size = short_side, crop_size
        self.mean, self.std, self.scale = mean, std, scale
        # One preprocessor for every adapter; built now so bad options fail before any forward.
        self.clip = ClipPreprocessor(num_frames, crop_size, short_side, _triple(mean), _triple(std), scale)
        self.channels = dict(channels or {})
        self.pooling = pooling
        # what a module path outside the probe's knowledge (an input: layer) is pooled by
        self.default_pooling: Pooling = pooling if pooling is not None else "channels_first"
        unknown = set(self.channels) - {n for n, _ in model.named_modules()}
        if unknown:
            raise ValueError(f"channels declared for unknown modules: {sorted(unknown)}")
        self._ran: dict[str, ModuleRun] | None = None

    def layers(self) -> dict[str, LayerInfo]:
        """The default layers, in definition order, with their pooled widths (one probe forward,
        cached; declared ``channels`` win, and are checked at run time).

        They are the modules that run exactly once per forward and whose output pools to a known
        width; in a transformer, only its blocks and the model's own children among them
        (:meth:`_transformer_layers`). Any other module that ran is still a layer by its path
        (:meth:`resolve`; ``NAME@k`` for call ``k`` of one that runs more than once).
        """
        ran = self.probe()
        once = [n for n, _ in self.model.named_modules() if n in ran and ran[n].calls == 1 and ran[n].widths[0]]
        chosen = self._transformer_layers(once) or once
        return {name: self._info(name, ran[name], None) for name in chosen}

    def _transformer_layers(self, once: Sequence[str]) -> list[str]:
        """In a model with an attention module: the elements of its outermost block lists
        (``ModuleList``/``Sequential`` children that have children) and the model's own children,
        out of ``once``; ``[]`` for any other model (every module in ``once`` is then a layer)."""
        ran = self.probe()
        modules = dict(self.model.named_modules())
        if not any(_is_attention(modules[n]) for n in ran):
            return []
        blocks: set[str] = set()
        for path, module in modules.items():
            if isinstance(module, (nn.ModuleList, nn.Sequential)) and path:
                for child, sub in module.named_children():
                    if any(True for _ in sub.children()):
                        blocks.add(f"{path}.{child}")

        def outermost(p: str) -> bool:
            parts = p.split(".")
            return not any(".".join(parts[:i]) in blocks for i in range(1, len(parts)))

        return [n for n in once if "." not in n or (n in blocks and outermost(n))]

    def _info(self, name: str, run: ModuleRun, call: int | Literal["all"] | None) -> LayerInfo:
        first = 0 if call in (None, "all") else int(call)
        declared = self.channels.get(run.path) if call is None else None
        pooling: Pooling | None = run.pooling(first)
        return LayerInfo(
            name=name,
            module=run.path,
            channels=declared if declared is not None else run.width(call),
            stream="rgb",
            pooling=pooling if pooling is not None else self.default_pooling,
            call=call,
        )

    def module_calls(self) -> dict[str, int]:
        """``{module path: calls}`` of every module that ran in the probe forward (more than one: a
        module shared between layers, named ``NAME@k`` to measure its call ``k``, 0-based)."""
        return {n: r.calls for n, r in self.probe().items()}

    def resolve(self, name: str) -> LayerInfo:
        """A default layer, any module that ran (by its path, pooled along its channels as the probe
        saw them), ``NAME@k`` (call ``k``, 0-based, of a module that runs more than once) or
        ``NAME@all`` (every call concatenated), or ``input:<path>``.

        Raises:
            UnknownLayerError: not a module of the model, or a call it does not make.
        """
        canonical = self.layers()
        if name in canonical:
            return canonical[name]
        base, call = split_call(name) if CALL_SEP in name else (name, None)
        path = base[len(INPUT_PREFIX) :] if base.startswith(INPUT_PREFIX) else base
        run = self.probe().get(path)
        if run is not None and isinstance(call, int) and call >= run.calls:
            raise UnknownLayerError(
                f"layer {name!r}: module {path!r} runs {run.calls} time(s) in one forward; its calls are "
                f"{base}{CALL_SEP}0 .. {base}{CALL_SEP}{run.calls - 1} (counted from 0)"
            )
        if run is None or base.startswith(INPUT_PREFIX):
            info = super().resolve(base)
            return info if call is None else dataclasses.replace(info, name=name, call=call, channels=None)
        return self._info(name, run, call)

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

    def probe(self) -> dict[str, ModuleRun]:
        """``{module path: ModuleRun}`` (calls, poolings, widths) for every module that ran in one
        forward of :meth:`probe_samples` (cached).

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
            poolings = {
                n: tuple(self._pooling_for(shape, layout) for shape, layout in t.outputs) for n, t in ran.items()
            }
            # widths through the report's own capture path; a module whose output does not pool
            # (or is not a float tensor, or has no known channel axis) has no width yet
            measurable = {
                n: LayerInfo(n, n, None, "rgb", pooling=tolerant_pooling(poolings[n][0], n), call=0)
                for n, t in ran.items()
                if t.tensor_output and t.shape is not None and len(t.shape) >= 2 and poolings[n][0] is not None
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
        self._ran = {
            n: ModuleRun(n, t.calls, poolings[n], (widths.get(n), *_later_widths(t, poolings[n])))
            for n, t in ran.items()
        }
        return self._ran

    def _pooling_for(self, shape: tuple[int, ...] | None, layout: str | None) -> Any:
        """The adapter's ``pooling`` if given, else the one that reads an output of ``shape`` along
        its channels: a global average over every other axis (``None``: the layout is unknown)."""
        if self.pooling is not None:
            return self.pooling
        if layout == CHANNELS_FIRST:
            return "channels_first"
        if layout == CHANNELS_LAST and shape is not None:
            return "tokens" if len(shape) == 3 else channels_last_pool
        return None

    def views(self, sample: Sample) -> Sample:
        if self.num_frames is None or sample.views is not None:
            return super().views(sample)
        warn_if_frames_repeat(sample, self.num_frames, self.model)
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


#: Named poolings and the output axis that holds their units.
_UNIT_AXIS: Mapping[Any, int] = {"channels_first": 1, "flat": 1, "tokens": -1, channels_last_pool: -1}


def _later_widths(t: Trace, poolings: tuple[Any, ...]) -> tuple[int | None, ...]:
    """Widths of a module's calls after the first, read from their output shapes (a custom pooling's
    width is not known before a run)."""
    out: list[int | None] = []
    for (shape, _), pooling in list(zip(t.outputs, poolings))[1:]:
        axis = _UNIT_AXIS.get(pooling) if isinstance(pooling, str) or pooling is channels_last_pool else None
        out.append(int(shape[axis]) if axis is not None and shape is not None and len(shape) >= 2 else None)
    return tuple(out)


def _shapes(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {tuple(x.shape)} tensor"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of " + ", ".join(_shapes(v) for v in x)
    if isinstance(x, dict):
        return "a dict of " + ", ".join(f"{k}: {_shapes(v)}" for k, v in x.items())
    return type(x).__name__


#: Option names shared by every adapter family: num_frames, short_side, crop_size (+ mean/std).
_LOADER_OPTIONS = ("weights", "trust_weights")
_GENERIC_OPTIONS = ("num_frames", "short_side", "crop_size", "mean", "std", "scale", "channels", "pooling")


@hookimpl(trylast=True)
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """Fallback for any ``nn.Module``: asked after every family-specific adapter."""
    if isinstance(model, nn.Module):
        # weights were the loader's; any other option the generic adapter cannot apply is refused
        ignored = [k for k, v in options.items() if v is not None and k not in (*_GENERIC_OPTIONS, *_LOADER_OPTIONS)]
        if ignored:
            raise ValueError(
                f"option {', '.join(ignored)} does not apply to a {type(model).__name__} under the generic adapter "
                f"(it takes {', '.join(_GENERIC_OPTIONS)}); leave it out or wrap the model in an adapter of its own"
            )
        return GenericVideoAdapter(model, **{k: v for k, v in options.items() if k in _GENERIC_OPTIONS})
    return None


# What a python: factory's model may take from ``adapt`` (the generic adapter's options and those of
# the families a factory may return: torchvision/pytorchvideo/MMAction2 clips, SlowFast's alpha,
# two-stream frame sizes); ``adapt`` applies or refuses each of them.
_PASSED_ON = (*_GENERIC_OPTIONS, "size", "frame_size", "alpha", "input_format")


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> nn.Module | ModelAdapter | None:
    """``python:package.module:factory`` -> ``factory()`` (a model or an adapter), with
    ``weights`` (and ``trust_weights``) loaded into it; every other option goes on to ``adapt``, which
    applies it or refuses it by name (a factory may return a model of any family)."""
    if not spec.startswith(PYTHON_PREFIX):
        return None
    refuse_unknown_options(spec, options, ("weights", "trust_weights"), _PASSED_ON)
    check_weights_options(spec, options.get("weights"), options.get("trust_weights"))
    factory = load_python_object(spec)
    result = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if options.get("weights"):
        net = result.model if isinstance(result, ModelAdapter) else result
        if not isinstance(net, nn.Module):
            raise ValueError(f"{spec}: --weights needs the factory to return an nn.Module, got {type(net).__name__}")
        load_state_dict_file(net, options["weights"], trusted=bool(options.get("trust_weights")))
        object.__setattr__(net, "sdinterp_weights", weights_file_provenance(options["weights"]))
    return result
