"""The contracts every part of sdinterp is written against.

A run moves data along one path (see ``docs/architecture.md``)::

    Sample --PairProtocol + PairSampler (Restyler)--> (anchor, partner) --ModelAdapter.prepare-->
    model input --capture--> pooled (B, C) features --PairMoments--> UnitScorer --> LayerBias

and the tools that act on a model use two more: an :class:`Intervention` changes a layer's
activation during a forward (neuron removal), a :class:`TrainingHook` follows a training loop
(StaticDropout, training-dynamics tracking).

Everything here is deliberately small: third-party adapters, samplers, restylers, protocols and
scorers implement these classes and register them through the plugin hooks
(:mod:`sdinterp.hookspecs`). This module imports nothing else of sdinterp at run time except
:mod:`sdinterp.errors`.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from sdinterp.errors import UnknownLayerError

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.report import LayerBias

__all__ = [
    "Factor",
    "Sample",
    "LayerInfo",
    "PairSampler",
    "Restyler",
    "PairProtocol",
    "UnitScorer",
    "ModelAdapter",
    "Intervention",
    "TrainingHook",
    "Pooling",
    "INPUT_PREFIX",
    "DEVICE_VIEWS",
    "takes_device_frames",
]

#: ``Sample.meta`` key of a sample's views as int64 tensors on its frames' device (set by a run that
#: makes pairs on a device, :func:`sdinterp.pipeline.executor.with_device_views`).
DEVICE_VIEWS = "device_views"

#: Prefix of a layer name that captures a module's input instead of its output (``input:<path>``).
INPUT_PREFIX = "input:"


class Factor(str, enum.Enum):
    """The semantic factor a pair shares.

    ``DYNAMIC`` pairs share dynamics (same video, different style); ``STATIC`` pairs share statics
    (same frames, different order or jittered flow); ``IDENTICAL`` is the constant baseline factor
    (S = 1) of Kowal et al., Eq. 1. :attr:`code` is the index the official code uses
    (``utils.dim_est``: 0 = dynamic, 1 = static, 2 = identical).
    """

    DYNAMIC = "dynamic"
    STATIC = "static"
    IDENTICAL = "identical"

    @property
    def code(self) -> int:
        return _FACTOR_CODES[self]

    @classmethod
    def parse(cls, value: Factor | str | int | np.integer) -> Factor:
        """Accept a Factor, its name, or the reference code's integer label (0 dyn, 1 stat, 2 ident)."""
        if isinstance(value, Factor):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            for factor, code in _FACTOR_CODES.items():
                if code == int(value):
                    return factor
            raise ValueError(f"unknown factor code {value!r}; expected 0 (dynamic), 1 (static) or 2 (identical)")
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValueError(f"unknown factor {value!r}; expected one of 'dynamic', 'static', 'identical' or 0/1/2")


_FACTOR_CODES = {Factor.DYNAMIC: 0, Factor.STATIC: 1, Factor.IDENTICAL: 2}

#: Factors that are estimated from pairs (the identical factor is a constant).
ESTIMATED_FACTORS: tuple[Factor, Factor] = (Factor.DYNAMIC, Factor.STATIC)


@dataclasses.dataclass
class Sample:
    """One clip as a sampler sees it.

    Attributes:
        frames: uint8 array (T, H, W, 3), RGB, as read (before any normalisation). Inside a run
            whose pairs are made on the model's device (:attr:`PairSampler.device_frames`), a uint8
            tensor of that shape on the device instead.
        views: one int64 index array per model pathway, indexing ``frames`` along T. A single-pathway
            model has one view; SlowFast has two (slow, fast). Temporal samplers permute views
            rather than copying frames, so "a static pair is a permutation of the same frames" holds
            by construction. ``None`` means one view covering every frame in order.
        flow: optional optical flow per frame, aligned with ``frames``: uint8 RGB-encoded (T, H, W, 3)
            or float (u, v) (T, H, W, 2).
        style: the style the frames are in (``None`` or 0 = original).
        video_id: an identifier of the source video (path or name).
        frame_indices: the indices of ``frames`` in the source video.
        meta: free-form extra information (e.g. label, dataset name).
    """

    frames: np.ndarray | torch.Tensor
    views: tuple[np.ndarray, ...] | None = None
    flow: np.ndarray | None = None
    style: int | str | None = None
    video_id: str = ""
    frame_indices: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        frames = self.frames if isinstance(self.frames, torch.Tensor) else np.asarray(self.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"Sample frames of video {self.video_id!r} must be (T, H, W, 3) RGB, got shape {frames.shape}"
            )
        if frames.shape[0] == 0:
            raise ValueError(f"Sample of video {self.video_id!r} has no frames")
        self.frames = frames
        if self.views is not None:
            views = tuple(np.asarray(v, dtype=np.int64) for v in self.views)
            for v in views:
                if v.ndim != 1 or v.size == 0 or v.min() < 0 or v.max() >= frames.shape[0]:
                    raise ValueError(
                        f"view indices of video {self.video_id!r} must be a non-empty 1-D array in "
                        f"[0, {frames.shape[0]}), got {v!r}"
                    )
            self.views = views
        if self.flow is not None and np.asarray(self.flow).shape[:3] != frames.shape[:3]:
            raise ValueError(
                f"flow of video {self.video_id!r} has shape {np.asarray(self.flow).shape}, "
                f"which does not match frames {frames.shape[:3]}"
            )

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def view_indices(self) -> tuple[np.ndarray, ...]:
        """The views, defaulting to one in-order view over every frame."""
        if self.views is None:
            return (np.arange(self.num_frames, dtype=np.int64),)
        return self.views

    def view_frames(self, view: int = 0) -> np.ndarray | torch.Tensor:
        """The frames of one view, in the view's order: a numpy array, or a tensor on the frames'
        device. There, a view that takes every frame in order is the frames themselves, and any other
        order (a shuffled partner) is gathered by its index on the device (``meta["device_views"]``,
        which a run puts there for a whole batch at once), or else copied there."""
        index = self.view_indices()[view]
        frames = self.frames
        if not isinstance(frames, torch.Tensor):
            return frames[index]
        if len(index) == len(frames) and np.array_equal(index, np.arange(len(frames))):
            return frames
        on_device = self.meta.get(DEVICE_VIEWS)
        if on_device is not None and on_device[view].device == frames.device:
            return frames.index_select(0, on_device[view])
        return frames.index_select(0, torch.from_numpy(np.ascontiguousarray(index)).to(frames.device))

    def replace(self, **changes: Any) -> Sample:
        """A shallow copy with some fields changed (arrays are shared, never mutated in place)."""
        return dataclasses.replace(self, **changes)


#: How a captured activation is reduced to (B, C):
#: ``"channels_first"``: (B, C, ...) -> mean over every dim after C (global average over T, H, W);
#: ``"tokens"``: (B, L, C) -> mean over tokens (CLS included, as the official TimeSformer/MViT code);
#: ``"tokens_seq_first"``: (L, B, C) -> mean over L (DETR/VisTR layout);
#: ``"flat"``: already (B, C);
#: or any callable mapping the raw tensor to (B, C).
Pooling = Literal["channels_first", "tokens", "tokens_seq_first", "flat"] | Callable[[torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    """Per-layer metadata an adapter exposes (in the spirit of timm's ``FeatureInfo``).

    Attributes:
        name: canonical name (``stage3``, ``slow.stage2``, ``block5``…) or the raw module path.
        module: dotted module path inside the model (``""`` is the model itself).
        channels: number of units after pooling, or ``None`` if unknown until a forward.
        stream: which pathway/stream the layer belongs to (``"rgb"``, ``"slow"``, ``"fast"``, ``"fused"``,
            ``"appearance"``, ``"motion"``…).
        pooling: how the activation is reduced to (B, C); see :data:`Pooling`.
        where: ``"output"`` captures the module's output (forward hook); ``"input"`` captures its first
            positional input (forward pre-hook), for features that published models compute inline.
        select: picks the tensor out of a tuple/list/dict output: an int/str index or a callable.
        call: which call to capture when the module runs several times in one forward: an int
            (0-based), or ``"all"`` to concatenate every call's pooled features along channels.
            ``None`` (default) captures a single call and raises if there are more.
        stride: spatial (or temporal, spatial) stride relative to the input, if known.
    """

    name: str
    module: str
    channels: int | None = None
    stream: str = "rgb"
    pooling: Pooling = "channels_first"
    where: Literal["output", "input"] = "output"
    select: int | str | Callable[[Any], torch.Tensor] | None = None
    call: int | Literal["all"] | None = None
    stride: int | tuple[int, ...] | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (callables shown by name)."""

        def _name(v: Any) -> Any:
            return getattr(v, "__name__", repr(v)) if callable(v) else v

        return {
            "name": self.name,
            "module": self.module,
            "channels": self.channels,
            "stream": self.stream,
            "pooling": _name(self.pooling),
            "where": self.where,
            "call": self.call,
            "stride": self.stride,
        }


class PairSampler(abc.ABC):
    """Makes the second element of a pair from its first (the anchor).

    A sampler never changes the anchor: a pair is always ``(anchor, sampler.partner(anchor, rng))``, so
    one anchor forward serves both its static and its dynamic pair (``shared-anchor`` protocol).
    The anchor arrives with its ``views`` already set by the adapter (one index array per pathway,
    after temporal subsampling), so a temporal sampler permutes each view independently, as the
    reference code does for SlowFast.

    Subclasses set :attr:`factor` and implement :meth:`partner`. All randomness must come from ``rng``
    so that a seed reproduces a run bit for bit.
    """

    #: The factor the pair shares.
    factor: Factor
    #: Registry name (set by subclasses, used by the CLI and reports).
    name: str = ""
    #: True when the sampler makes its partner from the anchor's frames alone, so it may work at
    #: the model's resolution (the pipeline then shrinks clips to the adapter's
    #: :meth:`ModelAdapter.working_size` before any pair is made: far cheaper on large videos).
    #: False (the default, safe for samplers that read other files, re-render or compute flow)
    #: keeps the frames as read.
    model_resolution: bool = False
    #: True when :meth:`anchor` and :meth:`partner` also take a sample whose frames are a uint8
    #: tensor on any device and return frames on that device, reading nothing back to the host: a
    #: run on a GPU then uploads each clip once and makes its pairs there (docs/method.md, "Pairs on
    #: the model's device"). A subclass that overrides either method without restating the flag is
    #: taken not to (:func:`takes_device_frames`).
    device_frames: bool = False

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Optionally turn a source sample into the anchor.

        Called once per clip, after the adapter has set the views and the clip has been reduced to
        the frames they use; the result is shared by every pair of the clip.

        The reference code loads clip 1 of every pair from a random style folder, so its anchor is
        already stylized; a restyling sampler does the same here (keeping the unstyled frames in
        ``meta["unstyled"]`` so the partner can be made from them). The default returns ``sample``
        unchanged.
        """
        return sample

    @abc.abstractmethod
    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        """Return the second element of the pair whose first element is ``anchor``."""

    def partners(self, anchors: Sequence[Sample], rngs: Sequence[np.random.Generator]) -> list[Sample]:
        """:meth:`partner` of every anchor of a batch, each drawing from its own ``rng``, in order.

        The pipeline calls this once per factor and batch, anchors in clip order. The default calls
        :meth:`partner` once per anchor; a sampler may override it to do its work once per batch (the
        ``restyle`` sampler restyles a batch's tensor clips in one go), but must return what
        :meth:`partner` would, and draw the same values from each ``rng``.
        """
        return [self.partner(a, r) for a, r in zip(anchors, rngs)]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__, "factor": self.factor.value}


class Restyler(abc.ABC):
    """A weight-free style transform: ``restyler(frames, style) -> frames``.

    Used by the ``restyle`` sampler to make dynamic pairs (same frames, same order, another
    appearance). Must be deterministic in ``(seed, style, frames)``: a style is the same transform
    in every process and every run.
    """

    name: str = ""
    #: True when ``__call__`` also takes a uint8 tensor on any device and restyles it there.
    device_frames: bool = False

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def style_rng(self, style: int | str, stream: int = 0x5D1) -> np.random.Generator:
        """A generator that depends only on (seed, style, stream)."""
        # Python's hash() of a str changes between processes, so a string style is keyed by hand.
        key = style if isinstance(style, int) else sum(ord(c) * 31**i for i, c in enumerate(str(style)))
        return np.random.default_rng([self.seed, int(key) & 0xFFFFFFFF, stream])

    @abc.abstractmethod
    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        """Restyle a uint8 (T, H, W, 3) clip; returns a new uint8 array of the same shape."""

    def restyle_batch(self, clips: torch.Tensor, styles: Sequence[int | str]) -> torch.Tensor:
        """Restyle a batch of same-shape clips, a uint8 (B, T, H, W, 3) tensor, clip ``i`` in
        ``styles[i]``: the same values as restyling each clip on its own (each keeps its own clip
        statistics). The default makes one call per clip; a restyler with ``device_frames`` may
        override it to run each kernel once per batch (``natural_colour`` does)."""
        return torch.stack([torch.as_tensor(self(clip, style)) for clip, style in zip(clips, styles)])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__, "seed": self.seed}


class PairProtocol(abc.ABC):
    """Which pairs a clip contributes, and in what order they are drawn.

    Clip ``i`` of a run gets its own generator ``rng = default_rng([seed, i])``; the pipeline calls
    :meth:`factors` first (a protocol may draw from ``rng``), then makes the anchor, then one partner
    per returned factor, in that order. Every pair of a clip shares the clip's anchor forward.

    Built-ins (``docs/method.md`` §2): ``shared-anchor`` (a static and a dynamic pair per clip, 3
    forwards for 2 pairs) and ``official`` (one factor per clip drawn 50/50, as the reference code).
    """

    name: str = ""
    #: What ``n_pairs`` counts, shown in reports and ``--help`` (e.g. "pairs per factor").
    counts: str = "pairs"

    @abc.abstractmethod
    def factors(self, clip_index: int, rng: np.random.Generator) -> tuple[Factor, ...]:
        """The factors of the pairs clip ``clip_index`` contributes (at least one)."""

    def n_clips(self, n_pairs: int) -> int:
        """How many clips a run of ``n_pairs`` needs (default: one per pair count)."""
        return int(n_pairs)

    def max_forwards_per_clip(self) -> int:
        """Forwards one clip costs at most (anchor + partners), to size batches."""
        return 3

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__}


class UnitScorer(abc.ABC):
    """Turns per-factor pair statistics of one layer into a :class:`~sdinterp.report.LayerBias`.

    Scorers read only mergeable statistics (:class:`~sdinterp.stats.PairMoments`), never stored
    activations, so they work the same on one batch, a resumed run or a merged distributed run.
    Register one with ``registry.add_scorer(name, cls)``; it is then usable by name everywhere
    (``StaticDynamic(scorer=...)``, ``estimate(scorer=...)``, ``sdinterp report --scorer``).
    """

    name: str = ""

    @abc.abstractmethod
    def score(
        self, layer: str, moments: Mapping[Factor, Any], threshold: float = 0.5, info: Mapping[str, Any] | None = None
    ) -> LayerBias:
        """Score one layer from ``{Factor.DYNAMIC: PairMoments, Factor.STATIC: PairMoments}``.

        Args:
            layer: the layer's name (for messages and the result).
            moments: the layer's moments per estimated factor.
            threshold: λ of the unit categories.
            info: the layer's metadata, kept in the result.
        """

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__}


class ModelAdapter(abc.ABC):
    """Wraps one model family: names its layers, builds its input, runs its forward.

    Subclasses implement :meth:`layers`, :meth:`prepare` and (for multi-pathway models) :meth:`views`.
    The capture machinery only needs ``model`` (an ``nn.Module``) and :meth:`forward`.
    """

    #: Short family name shown in reports (``"generic"``, ``"mmaction2"``, ``"pytorchvideo"``…).
    family: str = "custom"
    #: True when :meth:`prepare` also takes samples whose frames are uint8 tensors on the model's
    #: device (and leaves them there); see :attr:`PairSampler.device_frames`.
    device_frames: bool = False

    def __init__(self, model: nn.Module):
        self.model = model

    # -- layers -------------------------------------------------------------------------------
    @abc.abstractmethod
    def layers(self) -> dict[str, LayerInfo]:
        """Canonical layer name -> :class:`LayerInfo`, in network order."""

    def resolve(self, name: str) -> LayerInfo:
        """A canonical name, a raw module path, or ``input:<module path>`` -> LayerInfo.

        ``adapter.resolve(name).module`` is the module path to hand to Captum
        (``adapter.model.get_submodule(...)``) for the same layer.

        Raises:
            UnknownLayerError: listing the canonical names and module paths that would be valid.
        """
        canonical = self.layers()
        if name in canonical:
            return canonical[name]
        where: Literal["output", "input"] = "input" if name.startswith(INPUT_PREFIX) else "output"
        path = name[len(INPUT_PREFIX) :] if where == "input" else name
        modules = dict(self.model.named_modules())
        if path in modules:
            for info in canonical.values():
                if info.module == path and info.where == where:
                    return dataclasses.replace(info, name=name)
            return LayerInfo(
                name=name, module=path, where=where, pooling=getattr(self, "default_pooling", "channels_first")
            )
        paths = [p for p in modules if p]
        close = difflib.get_close_matches(path, list(canonical) + paths, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownLayerError(
            f"unknown layer {name!r} for the {self.family} adapter of {type(self.model).__name__}.{hint}\n"
            f"Canonical layers: {_listing(list(canonical)) or '(none)'}\n"
            f"Raw module paths are accepted too ({len(paths)}): {_listing(paths)}\n"
            f"Prefix a module path with '{INPUT_PREFIX}' to capture that module's input instead of its output."
        )

    def layer_module(self, name: str) -> nn.Module:
        """The ``nn.Module`` of a layer (canonical name, raw path or ``input:<path>``), e.g. the
        ``layer`` argument of Captum's layer attributions::

            LayerConductance(adapter.model, adapter.layer_module("stage4"))

        For an ``input:`` layer, ask Captum for the layer input (``attribute_to_layer_input=True``).
        """
        return self.model.get_submodule(self.resolve(name).module)

    # -- input --------------------------------------------------------------------------------
    def views(self, sample: Sample) -> Sample:
        """Return ``sample`` with ``views`` set: one index array per pathway, after temporal
        subsampling. The default is a single view: every frame in order."""
        if sample.views is not None:
            return sample
        return sample.replace(views=(np.arange(sample.num_frames, dtype=np.int64),))

    def working_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The (height, width) that :meth:`prepare` resizes frames of this size to before anything
        else (its crop, normalisation) — or ``None`` when it keeps them, or cannot say.

        When both samplers of a run allow it (:attr:`PairSampler.model_resolution`), the pipeline
        resizes each clip to this size once, before pairs are made, so restyling a 768x576 video for
        a 112-pixel model costs what the model sees (docs/method.md, "Pairs at the model's
        resolution"). ``prepare`` must then leave frames of this size as they are.
        """
        return None

    @abc.abstractmethod
    def prepare(self, samples: Sequence[Sample]) -> Any:
        """Build one batched model input from samples whose views are set. Must be deterministic."""

    def forward(self, inputs: Any) -> Any:
        """Run the model on a prepared input (override for unusual signatures)."""
        if isinstance(inputs, dict):
            return self.model(**inputs)
        if isinstance(inputs, tuple):
            return self.model(*inputs)
        return self.model(inputs)

    @property
    def device(self) -> torch.device:
        for p in self.model.parameters():
            return p.device
        for b in self.model.buffers():
            return b.device
        return torch.device("cpu")

    def describe(self) -> dict[str, Any]:
        return {"family": self.family, "model": type(self.model).__name__}


def takes_device_frames(obj: Any, methods: Sequence[str]) -> bool:
    """Whether ``obj`` declares ``device_frames = True`` for its own ``methods``: the flag must be set
    in the class that defines each of them or in a subclass of it, so a subclass that overrides
    ``prepare`` (or ``partner``) with host-only code does not inherit a promise it does not keep. A
    sampler's restyler (``obj.restyler``) must declare it too.

    Examples:
        >>> class Host(PairSampler):
        ...     factor = Factor.STATIC
        ...     def partner(self, anchor, rng): return anchor
        >>> class Device(Host):
        ...     device_frames = True
        >>> class Override(Device):
        ...     def partner(self, anchor, rng): return anchor
        >>> [takes_device_frames(c(), ["anchor", "partner"]) for c in (Host, Device, Override)]
        [False, True, False]
    """
    mro = type(obj).__mro__
    owner = next((c for c in mro if "device_frames" in vars(c)), None)
    if owner is None or not getattr(obj, "device_frames", False):
        return False
    for method in methods:
        definer = next((c for c in mro if method in vars(c)), None)
        if definer is not None and not issubclass(owner, definer):
            return False
    restyler = getattr(obj, "restyler", None)
    return restyler is None or takes_device_frames(restyler, ["__call__", "restyle_batch"])


def _listing(names: list[str], limit: int = 400) -> str:
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class Intervention(abc.ABC):
    """Changes one layer's activation during a forward: neuron removal, noise, clamping...

    The pipeline hooks :meth:`apply` onto the module of ``layer`` (its output, or its input for
    ``input:`` layers) and replaces the activation by the returned tensor. :meth:`apply` must not
    change the activation's shape; ``info.pooling`` tells which axis holds the units (channels
    first, tokens ``(B, L, C)``, sequence first ``(L, B, C)``).
    """

    name: str = ""

    @abc.abstractmethod
    def apply(self, activation: torch.Tensor, info: LayerInfo) -> torch.Tensor:
        """The activation to continue the forward with."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__}


class TrainingHook:
    """Follows a training loop (plain PyTorch or MMEngine): StaticDropout feeding, bias tracking.

    Every method is optional (the defaults do nothing), so a hook overrides only what it needs. A
    plain loop calls them itself; the MMEngine bridge calls them from its hook points.
    """

    def before_train(self, model: nn.Module) -> None:
        """Once, before the first iteration."""

    def after_iteration(self, model: nn.Module, iteration: int, batch: Any = None) -> None:
        """After each optimiser step (``iteration`` counts from 0)."""

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        """After each epoch (``epoch`` counts from 0)."""

    def after_train(self, model: nn.Module) -> None:
        """Once, when training ends."""
