"""Adapter for pytorchvideo's video classifiers: every video classifier of ``pytorchvideo.models.hub``
(:data:`PYTORCHVIDEO_MODELS`), built with ``pretrained=False`` only, and the same models as objects.

Canonical layers (docs/method.md §3 and §8), widths measured by one probe forward (pooled outputs):

* 3D CNNs (Slow, C2D, I3D, CSN, R(2+1)D, X3D): ``stage1..stage5`` = the stem and the four ``ResStage``
  blocks, globally averaged over T, H, W. C2D/I3D's temporal max-pool after stage 2 (``blocks[2]``)
  is skipped, so stage 2 is read *before* it, as the reference (``pathway0_pool`` follows ``s2``).
  Efficient X3D (``EfficientX3d``, the mobile-CPU blocks): ``stageK`` = ``sK``.
* SlowFast: ``slow.stageK`` / ``fast.stageK`` are ``blocks[K-1].multipathway_blocks[0/1]``, i.e. the
  pathways **before** the lateral ``FuseFastToSlow`` (the paper's SF-Slow/SF-Fast, ``fuse=False``);
  ``fused.stageK`` (K = 1..4) is the slow output of ``blocks[K-1].multipathway_fusion``
  (slow + fast->slow channels); ``cat.stage5`` concatenates pooled slow and fast stage 5
  (the reference's ``slowfast_r50_8x8_cat``).
* MViT: ``blockK`` = ``blocks[K]`` token mean including CLS, before the final norm (docs/method.md §3).

Other input sizes than the native one (``adapter.native``) work for models and objects alike: the
head's fixed pools average globally and MViT's positional embedding is interpolated
(:mod:`sdinterp.adapters._pytorchvideo_resize`; ``describe()["input_adaptation"]`` lists what was
done, :meth:`PyTorchVideoAdapter.restore_model` undoes it). A pytorchvideo object whose layers this
adapter cannot name goes to the generic adapter, with a warning.

Examples:
    >>> adapter = build_pytorchvideo("slowfast_r50", num_frames=8, crop_size=64)   # doctest: +SKIP
    >>> adapter.layers()["fused.stage1"].channels                                   # doctest: +SKIP
    80
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch
from torch import nn

from sdinterp.adapters._clip import (
    KINETICS_MEAN,
    KINETICS_STD,
    ClipPreprocessor,
    VideoClipAdapter,
    cat_pathways,
    first_output,
    load_state_dict_file,
)
from sdinterp.adapters._compat import ensure_pytorchvideo, import_optional
from sdinterp.adapters._pytorchvideo_resize import (
    Change,
    make_head_pools_adaptive,
    patch_grid,
    resize_positional_encoding,
    restore,
)
from sdinterp.adapters._pytorchvideo_zoo import PYTORCHVIDEO_MODELS, PYTORCHVIDEO_REFUSED
from sdinterp.adapters.common import crop_option
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo
from sdinterp.models import check_weights_options, family_loader
from sdinterp.probe import probe_widths

__all__ = ["PYTORCHVIDEO_MODELS", "PYTORCHVIDEO_REFUSED", "PyTorchVideoAdapter", "build_pytorchvideo"]

INSTALL = "pip install pytorchvideo==0.1.5 torchvision (or: pip install 'sdinterp[models]')"

#: The width probe's largest crop: widths do not depend on the spatial size, and the head is not run.
_PROBE_CROP = 64


class CannotNameLayers(TypeError):
    """A pytorchvideo object without the structure this adapter names (its layers are left to the
    generic adapter)."""


def _select_slow(outputs: Any) -> torch.Tensor:
    """The slow pathway of a ``[slow, fast]`` list (the fused slow tensor after FuseFastToSlow)."""
    return outputs[0]


class PyTorchVideoAdapter(VideoClipAdapter):
    """Names the layers of a pytorchvideo ``Net`` / ``EfficientX3d`` / ``MultiscaleVisionTransformers``
    and builds its input, at its native or any other input size.

    Args:
        model: a model from ``pytorchvideo.models`` (hub builders or ``create_*``).
        clip: preprocessing; frames are those of the fast pathway for SlowFast.
        alpha: SlowFast's frame-rate ratio (slow pathway = every ``alpha``-th fast frame); read from
            the fusion convolution's temporal stride when ``None``.
        native: the model's native (frames, crop) if known (the zoo's); otherwise derived from the
            head pool (CNNs) or the positional embedding's patch grid (MViT).

    Raises:
        CannotNameLayers: the model has no structure this adapter names.
        ValueError: the model cannot take ``clip``'s size (the message names the native size).

    Examples:
        >>> from pytorchvideo.models.hub import slow_r50                     # doctest: +SKIP
        >>> PyTorchVideoAdapter(slow_r50(), ClipPreprocessor(8, 224, 256)).layers()   # doctest: +SKIP
    """

    family = "pytorchvideo"
    default_pooling = "channels_first"
    model: Any  # a pytorchvideo network (an untyped package): its parts are reached by name

    def __init__(
        self, model: nn.Module, clip: ClipPreprocessor, alpha: int | None = None, native: tuple[int, int] | None = None
    ):
        self.kind = _kind(model)
        self.alpha = (alpha or _slowfast_alpha(model)) if self.kind == "slowfast" else 1
        super().__init__(model, clip, (self.alpha, 1) if self.kind == "slowfast" else (1,))
        self.native = (
            _mvit_native(model) if self.kind == "mvit" else native or native_size(model, self.kind, self.alpha)
        )
        self._changes: list[Change] = []
        layers = _canonical_layers(model, self.kind)
        frames, crop = self.num_frames, int(clip.crop_size or clip.short_side or _PROBE_CROP)
        try:
            if self.kind == "mvit":
                self._layers = self._probe_mvit(layers, frames, crop)
            else:
                self._layers = _with_widths(
                    layers, _probe(model, self.kind, layers, frames, min(crop, _PROBE_CROP), self.alpha)[0]
                )
                self._changes += make_head_pools_adaptive(model, _head_paths(model, self.kind))
        except (RuntimeError, ValueError, IndexError, AssertionError) as exc:
            restore(model, self._changes)
            where = (
                f"its native input is {self.native[0]} frames at {self.native[1]} px"
                if self.native
                else "see its builder"
            )
            raise ValueError(
                f"the pytorchvideo {type(model).__name__} ({self.kind}) cannot take {frames} frames at {crop} px "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''}); {where}"
            ) from None

    def _probe_mvit(self, layers: dict[str, LayerInfo], frames: int, crop: int) -> dict[str, LayerInfo]:
        """Widths at a small patch grid, then the embedding is fitted to the clip's grid."""
        conv = self.model.patch_embed.patch_model
        probe = resize_positional_encoding(self.model, patch_grid(conv, frames, min(crop, _PROBE_CROP)))
        try:
            widths = _probe(self.model, "mvit", layers, frames, min(crop, _PROBE_CROP), 1)[0]
        finally:
            restore(self.model, probe)
        self._changes += resize_positional_encoding(self.model, patch_grid(conv, frames, crop))
        return _with_widths(layers, widths)

    def layers(self) -> dict[str, LayerInfo]:
        return dict(self._layers)

    def forward(self, inputs: Any) -> Any:
        # MultiPathWayWithFuse(inplace=True) overwrites the list it is given; pass a copy so a
        # prepared input can be reused (the conformance suite forwards the same input twice).
        if isinstance(inputs, list):
            return self.model(list(inputs))
        return self.model(inputs)

    def restore_model(self) -> None:
        """Undo the input-size adaptation (remove the pool hooks, put the original positional
        encoding back): the model is as it was given; this adapter then needs its native size."""
        restore(self.model, self._changes)
        self._changes = []

    def describe(self) -> dict[str, Any]:
        native = {"num_frames": self.native[0], "crop_size": self.native[1]} if self.native else None
        return {
            **super().describe(),
            "kind": self.kind,
            "native_size": native,
            "input_adaptation": [c.description for c in self._changes],
        }


def _with_widths(layers: dict[str, LayerInfo], widths: dict[str, int]) -> dict[str, LayerInfo]:
    return {n: dataclasses.replace(info, channels=widths[n]) for n, info in layers.items()}


def _kind(model: nn.Module) -> str:
    """``"cnn"``, ``"slowfast"``, ``"efficient_x3d"`` or ``"mvit"``.

    Raises:
        CannotNameLayers: none of them (e.g. a bare ``ResStage``, a ``Net`` without residual stages).
        ValueError: a pytorchvideo model that is not a video classifier (detection, image MViT).
    """
    cls = type(model).__name__
    if cls == "DetectionBBoxNetwork":
        raise ValueError(
            f"a pytorchvideo {cls} is an AVA action-detection network whose forward takes person boxes "
            "besides the clip, so sdinterp cannot feed it; use a Kinetics classifier (e.g. pytorchvideo:slow_r50)"
        )
    if cls == "MultiscaleVisionTransformers":
        conv = getattr(getattr(model, "patch_embed", None), "patch_model", None)
        if not isinstance(conv, nn.Conv3d) or not hasattr(model, "cls_positional_encoding"):
            raise ValueError(
                "this pytorchvideo MViT has no 3-D patch embedding: it is an image classifier with no "
                "time axis, so static and dynamic information cannot be told apart"
            )
        return "mvit"
    if cls == "EfficientX3d" and all(hasattr(model, f"s{k}") for k in range(1, 6)):
        return "efficient_x3d"
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CannotNameLayers(f"a {cls} has no .blocks of stages")
    names = [type(b).__name__ for b in blocks]
    if names[0] == "MultiPathWayWithFuse":
        return "slowfast"
    if names[0] == "ResNetBasicStem" and "ResStage" in names:
        return "cnn"
    raise CannotNameLayers(
        f"its .blocks ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}) are not a "
        "ResNetBasicStem followed by ResStages"
    )


def _canonical_layers(model: Any, kind: str) -> dict[str, LayerInfo]:
    """Canonical layers without widths (filled in by the probe), in network order."""
    if kind == "mvit":
        return {
            f"block{k}": LayerInfo(f"block{k}", f"blocks.{k}", None, "rgb", "tokens", select=first_output)
            for k in range(len(model.blocks))
        }
    if kind == "efficient_x3d":
        return {f"stage{k}": LayerInfo(f"stage{k}", f"s{k}", None, "rgb") for k in range(1, 6)}
    blocks = model.blocks
    if kind == "slowfast":
        n = sum(type(b).__name__ == "MultiPathWayWithFuse" for b in blocks)
        out: dict[str, LayerInfo] = {}
        for k in range(n):
            for p, stream in enumerate(("slow", "fast")):
                out[f"{stream}.stage{k + 1}"] = LayerInfo(
                    f"{stream}.stage{k + 1}", f"blocks.{k}.multipathway_blocks.{p}", None, stream
                )
            fusion = blocks[k].multipathway_fusion
            if fusion is not None and not isinstance(fusion, nn.Identity):  # no lateral after the last stage
                out[f"fused.stage{k + 1}"] = LayerInfo(
                    f"fused.stage{k + 1}", f"blocks.{k}.multipathway_fusion", None, "fused", select=_select_slow
                )
        out[f"cat.stage{n}"] = LayerInfo(f"cat.stage{n}", f"blocks.{n - 1}", None, "cat", "flat", select=cat_pathways)
        return out
    out, stage = {}, 0
    for k, block in enumerate(blocks):
        if type(block).__name__ in ("ResNetBasicStem", "ResStage"):
            stage += 1
            out[f"stage{stage}"] = LayerInfo(f"stage{stage}", f"blocks.{k}", None, "rgb")
    return out


def _head_paths(model: Any, kind: str) -> list[str]:
    """Module paths of everything after the last canonical stage (where the fixed pools are)."""
    if kind == "efficient_x3d":
        return ["head"]
    stage_types = ("MultiPathWayWithFuse",) if kind == "slowfast" else ("ResNetBasicStem", "ResStage")
    last = max(k for k, b in enumerate(model.blocks) if type(b).__name__ in stage_types)
    return [f"blocks.{k}" for k in range(last + 1, len(model.blocks))]


def _slowfast_alpha(model: Any) -> int:
    for m in model.modules():
        if type(m).__name__ == "FuseFastToSlow":
            return int(m.conv_fast_to_slow.stride[0])
    return 4


def _probe(
    model: nn.Module, kind: str, layers: dict[str, LayerInfo], frames: int, crop: int, alpha: int
) -> tuple[dict[str, int], list[tuple[int, ...]]]:
    """One forward of a random (1, 3, frames, crop, crop) clip (SlowFast: its two pathways), stopped
    after the last canonical layer (:func:`sdinterp.probe.probe_widths`).

    Returns:
        The pooled width of every layer, and the (T, H, W) of the last layer's output(s).
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    clip = torch.randn(1, 3, frames, crop, crop, generator=gen).to(device)
    x: Any = [clip[:, :, ::alpha].contiguous(), clip] if kind == "slowfast" else clip
    probe = probe_widths(model, layers, lambda: model(x), stop_after=list(layers.values())[-1].module)
    output = probe.stopped_output
    outs = output if isinstance(output, (list, tuple)) and kind != "mvit" else [output]
    shapes = [tuple(t.shape[2:]) for t in outs if isinstance(t, torch.Tensor)]
    return {n: int(w or 0) for n, w in probe.widths.items()}, shapes


def _mvit_native(model: Any) -> tuple[int, int]:
    """(frames, crop) of the MViT's native patch grid (its positional embedding's)."""
    enc = model.cls_positional_encoding
    t, h, _ = getattr(enc, "original", enc).patch_embed_shape
    stride = model.patch_embed.patch_model.stride
    return int(t * stride[0]), int(h * stride[1])


def native_size(model: Any, kind: str | None = None, alpha: int = 4) -> tuple[int, int] | None:
    """A model's native (frames of the fastest pathway, crop): MViT's from its patch grid; a CNN's
    from its head's fixed pool kernel (T x the temporal stride measured by a small probe forward,
    H x 32 px); ``None`` for an adaptive head (Efficient X3D) or no fixed pool.

    Examples:
        >>> native_size(slow_r50(pretrained=False))   # doctest: +SKIP
        (8, 224)
    """
    kind = kind or _kind(model)
    if kind == "mvit":
        return _mvit_native(model)
    if kind == "efficient_x3d":
        return None
    pools = [
        m for head in _head_paths(model, kind) for m in model.get_submodule(head).modules() if type(m) is nn.AvgPool3d
    ]
    if not pools:
        return None
    sizes = [(p.kernel_size,) * 3 if isinstance(p.kernel_size, int) else tuple(p.kernel_size) for p in pools]
    kernel = max((tuple(int(k) for k in size) for size in sizes), key=lambda k: k[0])  # the fast pathway's
    frames = 32 if 32 % alpha == 0 else 8 * alpha  # divisible by the zoo's temporal strides (<= 8) and alpha
    _, shapes = _probe(model, kind, _canonical_layers(model, kind), frames, 32, alpha)
    t_stride = frames // max(s[0] for s in shapes)
    return kernel[0] * t_stride, kernel[1] * 32


def _default_clip(
    model: nn.Module, kind: str, options: dict[str, Any]
) -> tuple[ClipPreprocessor, tuple[int, int] | None]:
    """Input settings from options, else the model's native size (see :func:`native_size`)."""
    alpha = options.get("alpha") or (_slowfast_alpha(model) if kind == "slowfast" else 1)
    try:
        native = native_size(model, kind, alpha)
    except (RuntimeError, ValueError, IndexError, AssertionError):
        native = None  # a custom backbone the stride probe cannot run: 8 x 224 unless the options say
    frames, crop = native or (PYTORCHVIDEO_MODELS["efficient_x3d_xs"][:2] if kind == "efficient_x3d" else (8, 224))
    short = options.get("short_side")
    clip = ClipPreprocessor(
        num_frames=int(options.get("num_frames") or frames),
        crop_size=int(crop_option(options) or crop),
        short_side=int(short) if short else None,
        mean=tuple(options.get("mean") or KINETICS_MEAN),
        std=tuple(options.get("std") or KINETICS_STD),
    )
    return clip, native


def build_pytorchvideo(
    name: str,
    num_frames: int | None = None,
    crop_size: int | None = None,
    short_side: int | None = None,
    weights: str | None = None,
    strict: bool = True,
    trust_weights: bool = False,
    **builder_kwargs: Any,
) -> PyTorchVideoAdapter:
    """Build a pytorchvideo hub model with random weights (``pretrained=False``) and wrap it.

    The model is built at its native size (so native weights load); another input size is handled by
    the adapter (adaptive head pools, interpolated MViT positional embedding).

    Args:
        name: one of :data:`PYTORCHVIDEO_MODELS` (:data:`PYTORCHVIDEO_REFUSED` names are refused).
        num_frames: frames of the (fast) pathway (default: the model's native number).
        crop_size: centre-crop side in pixels (default: native).
        short_side: resize the short side to this before cropping (default: native, or ``crop_size``).
        weights: a local state-dict file to load (SlowFast ``model_state`` containers accepted).
        strict: strict state-dict loading.
        trust_weights: let a weights file holding objects other than tensors be unpickled in full
            (only files you trust: unpickling can run code).
        **builder_kwargs: passed to the hub builder (e.g. ``model_num_class``).

    Returns:
        A :class:`PyTorchVideoAdapter`.

    Examples:
        >>> a = build_pytorchvideo("x3d_s", num_frames=4, crop_size=64)   # doctest: +SKIP
    """
    if name in PYTORCHVIDEO_REFUSED:
        raise ValueError(f"pytorchvideo:{name} is not supported: it is {PYTORCHVIDEO_REFUSED[name]}")
    if name not in PYTORCHVIDEO_MODELS:
        raise ValueError(f"unknown pytorchvideo model {name!r}; supported: {', '.join(PYTORCHVIDEO_MODELS)}")
    check_weights_options(f"pytorchvideo:{name}", weights, trust_weights)  # before anything is built
    hub = import_optional("pytorchvideo.models.hub", "pytorchvideo", INSTALL, ensure_pytorchvideo)
    frames, crop, short = PYTORCHVIDEO_MODELS[name]
    if builder_kwargs.pop("pretrained", False):
        raise ValueError(
            f"pytorchvideo:{name}: pretrained=True would download weights, which sdinterp never does; "
            "give a local weights file (weights=FILE, --weights FILE)"
        )
    model = getattr(hub, name)(pretrained=False, **builder_kwargs)
    if weights:
        load_state_dict_file(model, weights, strict=strict, trusted=trust_weights)
    frames_new, crop_new = num_frames or frames, crop_size or crop
    native = (frames_new, crop_new) == (frames, crop)
    clip = ClipPreprocessor(
        frames_new, crop_new, short_side if short_side else (short if native else None), KINETICS_MEAN, KINETICS_STD
    )
    return PyTorchVideoAdapter(model.eval(), clip, native=(frames, crop))


_OPTION_KEYS = ("num_frames", "crop_size", "short_side", "weights", "strict", "trust_weights")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> PyTorchVideoAdapter | None:
    """Wrap pytorchvideo models (recognised by their class's module; nothing is imported). One whose
    layers this adapter cannot name is left to the generic adapter, with a warning."""
    if not isinstance(model, nn.Module) or not type(model).__module__.startswith("pytorchvideo."):
        return None
    try:
        kind = _kind(model)
    except CannotNameLayers as exc:
        warnings.warn(
            f"sdinterp: the pytorchvideo adapter cannot name the layers of a {type(model).__name__} ({exc}); "
            "using the generic adapter (layers are module paths, widths from a probe forward)",
            stacklevel=4,
        )
        return None
    clip, native = _default_clip(model, kind, options)
    return PyTorchVideoAdapter(model, clip, alpha=options.get("alpha"), native=native)


#: ``pytorchvideo:NAME[:WEIGHTS]`` specs (parsed in the core, :mod:`sdinterp.models`).
sdinterp_load_model = family_loader("pytorchvideo", build_pytorchvideo, _OPTION_KEYS)
