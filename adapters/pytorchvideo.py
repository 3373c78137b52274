"""Adapter for pytorchvideo's video models (slow_r50, slowfast_r50, x3d_s/m, c2d_r50, i3d_r50,
csn_r101, r2plus1d_r50, mvit_base_16x4), built with ``pretrained=False`` only.

Canonical layers (docs/method.md §3 and §8):

* 3D CNNs: ``stage1..stage5`` = ``blocks[k]`` for the stem and the four ``ResStage`` blocks, globally
  averaged over T, H, W. C2D/I3D's temporal max-pool after stage 2 (``blocks[2]``) is skipped, so
  stage 2 is read *before* it, as the reference (``pathway0_pool`` follows ``s2``).
* SlowFast: ``slow.stageK`` / ``fast.stageK`` are ``blocks[K-1].multipathway_blocks[0/1]``, i.e. the
  pathways **before** the lateral ``FuseFastToSlow`` (the paper's SF-Slow/SF-Fast, ``fuse=False``);
  ``fused.stageK`` (K = 1..4) is the slow output of ``blocks[K-1].multipathway_fusion``
  (slow + fast->slow channels); ``cat.stage5`` concatenates pooled slow and fast stage 5
  (the reference's ``slowfast_r50_8x8_cat``, 2048 + 256 units).
* MViT: ``blockK`` = ``blocks[K]`` token mean including CLS, before the final norm (docs/method.md §3).

Examples:
    >>> adapter = build_pytorchvideo("slowfast_r50", num_frames=8, crop_size=64)   # doctest: +SKIP
    >>> adapter.layers()["fused.stage1"].channels                                   # doctest: +SKIP
    80
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from sdinterp.adapters._compat import ensure_pytorchvideo, import_optional
from sdinterp.adapters._clip import (
    KINETICS_MEAN,
    KINETICS_STD,
    ClipSpec,
    cat_pathways,
    first_output,
    VideoClipAdapter,
    load_state_dict_file,
    module_width,
    replace_modules,
)
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo

__all__ = ["PYTORCHVIDEO_MODELS", "PyTorchVideoAdapter", "build_pytorchvideo"]

INSTALL = "pip install pytorchvideo==0.1.5 torchvision (or: pip install 'sdinterp[models]')"

#: name -> native (frames of the fastest pathway, crop, short side), from the pytorchvideo model zoo
#: and the hub builders' head-pool sizes (e.g. slow_r50's (8, 7, 7) pool = 8 frames at 224 px).
PYTORCHVIDEO_MODELS: dict[str, tuple[int, int, int]] = {
    "slow_r50": (8, 224, 256),
    "slowfast_r50": (32, 224, 256),
    "x3d_s": (13, 160, 182),
    "x3d_m": (16, 224, 256),
    "c2d_r50": (8, 224, 256),
    "i3d_r50": (8, 224, 256),
    "csn_r101": (32, 224, 256),
    "r2plus1d_r50": (16, 224, 256),
    "mvit_base_16x4": (16, 224, 256),
}


def _select_slow(outputs: Any) -> torch.Tensor:
    """The slow pathway of a ``[slow, fast]`` list (the fused slow tensor after FuseFastToSlow)."""
    return outputs[0]


class PyTorchVideoAdapter(VideoClipAdapter):
    """Names the layers of a pytorchvideo ``Net`` / ``MultiscaleVisionTransformers`` and builds its input.

    Args:
        model: a model from ``pytorchvideo.models`` (hub builders or ``create_*``).
        clip: preprocessing; frames are those of the fast pathway for SlowFast.
        alpha: SlowFast's frame-rate ratio (slow pathway = every ``alpha``-th fast frame); read from
            the fusion convolution's temporal stride when ``None``.

    Examples:
        >>> from pytorchvideo.models.hub import slow_r50                     # doctest: +SKIP
        >>> PyTorchVideoAdapter(slow_r50(), ClipSpec(8, 224, 256)).layers()   # doctest: +SKIP
    """

    family = "pytorchvideo"
    default_pooling = "channels_first"

    def __init__(self, model: nn.Module, clip: ClipSpec, alpha: int | None = None):
        self.kind = _kind(model)
        if self.kind == "slowfast":
            alpha = alpha or _slowfast_alpha(model)
            ratios: Sequence[int] = (alpha, 1)
        else:
            ratios = (1,)
        super().__init__(model, clip, ratios)
        self._layers = self._build_layers()

    def layers(self) -> dict[str, LayerInfo]:
        return dict(self._layers)

    def _build_layers(self) -> dict[str, LayerInfo]:
        blocks = self.model.blocks
        out: dict[str, LayerInfo] = {}
        if self.kind == "mvit":
            for k, block in enumerate(blocks):
                out[f"block{k}"] = LayerInfo(f"block{k}", f"blocks.{k}", module_width(block), "rgb", "tokens", select=first_output)
            return out
        if self.kind == "slowfast":
            widths: dict[str, list[int]] = {"slow": [], "fast": []}
            for k in range(5):
                mp = blocks[k]
                for p, stream in enumerate(("slow", "fast")):
                    width = module_width(mp.multipathway_blocks[p])
                    widths[stream].append(width)
                    name = f"{stream}.stage{k + 1}"
                    out[name] = LayerInfo(name, f"blocks.{k}.multipathway_blocks.{p}", width, stream)
            for k in range(5):
                fusion = blocks[k].multipathway_fusion
                if isinstance(fusion, nn.Identity) or fusion is None:
                    continue  # stage 5 has no lateral connection (docs/method.md §3)
                name = f"fused.stage{k + 1}"
                width = widths["slow"][k] + (module_width(fusion) or 0)
                out[name] = LayerInfo(name, f"blocks.{k}.multipathway_fusion", width, "fused", select=_select_slow)
            out["cat.stage5"] = LayerInfo(
                "cat.stage5", "blocks.4", widths["slow"][4] + widths["fast"][4], "cat", "flat", select=cat_pathways
            )
            return _ordered_slowfast(out)
        stage = 0
        for k, block in enumerate(blocks):
            if type(block).__name__ in ("ResNetBasicStem", "ResStage"):
                stage += 1
                out[f"stage{stage}"] = LayerInfo(f"stage{stage}", f"blocks.{k}", module_width(block), "rgb")
        return out

    def forward(self, inputs: Any) -> Any:
        # MultiPathWayWithFuse(inplace=True) overwrites the list it is given; pass a copy so a
        # prepared input can be reused (the conformance suite forwards the same input twice).
        if isinstance(inputs, list):
            return self.model(list(inputs))
        return self.model(inputs)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": self.kind}


def _ordered_slowfast(out: dict[str, LayerInfo]) -> dict[str, LayerInfo]:
    """Network order: per stage slow, fast, fused; cat.stage5 last."""
    order = [f"{s}.stage{k}" for k in range(1, 6) for s in ("slow", "fast", "fused")] + ["cat.stage5"]
    return {n: out[n] for n in order if n in out}


def _kind(model: nn.Module) -> str:
    cls = type(model).__name__
    if cls == "MultiscaleVisionTransformers":
        return "mvit"
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise TypeError(f"{cls} is not a pytorchvideo Net with .blocks; use the generic adapter")
    if type(blocks[0]).__name__ == "MultiPathWayWithFuse":
        return "slowfast"
    return "cnn"


def _slowfast_alpha(model: nn.Module) -> int:
    for m in model.modules():
        if type(m).__name__ == "FuseFastToSlow":
            return int(m.conv_fast_to_slow.stride[0])
    return 4


def _default_clip(model: nn.Module, options: dict[str, Any]) -> ClipSpec:
    """Input settings from options, else from the model (MViT patch grid) or the zoo's usual 8x224."""
    kind = _kind(model)
    frames, crop = (32, 224) if kind == "slowfast" else (8, 224)
    if kind == "mvit":
        enc = getattr(model, "cls_positional_encoding", None)
        shape = getattr(enc, "patch_embed_shape", None)
        stride = getattr(getattr(getattr(model, "patch_embed", None), "patch_model", None), "stride", None)
        if shape is not None and stride is not None:
            frames, crop = int(shape[0] * stride[0]), int(shape[1] * stride[1])
    return _clip_from(options, frames, crop, None)


def _clip_from(options: dict[str, Any], frames: int, crop: int, short: int | None) -> ClipSpec:
    """A ClipSpec from adapter options (``num_frames``, ``crop_size``/``size``, ``short_side``,
    ``mean``, ``std``), falling back to the given defaults."""
    short = options.get("short_side") or short
    return ClipSpec(
        num_frames=int(options.get("num_frames") or frames),
        crop_size=int(options.get("crop_size") or options.get("size") or crop),
        short_side=int(short) if short else None,
        mean=tuple(options.get("mean") or KINETICS_MEAN),
        std=tuple(options.get("std") or KINETICS_STD),
    )


def build_pytorchvideo(
    name: str,
    num_frames: int | None = None,
    crop_size: int | None = None,
    short_side: int | None = None,
    weights: str | None = None,
    strict: bool = True,
    **builder_kwargs: Any,
) -> PyTorchVideoAdapter:
    """Build a pytorchvideo hub model with random weights (``pretrained=False``) and wrap it.

    At a non-native input size the fixed-size head ``AvgPool3d`` is replaced by
    ``AdaptiveAvgPool3d(1)`` (the same result at the native size; only the classifier uses it), and
    MViT is built for the requested size (its positional embedding depends on it).

    Args:
        name: one of :data:`PYTORCHVIDEO_MODELS`.
        num_frames: frames of the (fast) pathway (default: the model's native number).
        crop_size: centre-crop side in pixels (default: native).
        short_side: resize the short side to this before cropping (default: native, or ``crop_size``).
        weights: a local state-dict file to load (SlowFast ``model_state`` containers accepted).
        strict: strict state-dict loading.
        **builder_kwargs: passed to the hub builder (e.g. ``model_num_class``).

    Returns:
        A :class:`PyTorchVideoAdapter`.

    Examples:
        >>> a = build_pytorchvideo("x3d_s", num_frames=4, crop_size=64)   # doctest: +SKIP
    """
    if name not in PYTORCHVIDEO_MODELS:
        raise ValueError(f"unknown pytorchvideo model {name!r}; supported: {', '.join(PYTORCHVIDEO_MODELS)}")
    hub = import_optional("pytorchvideo.models.hub", "pytorchvideo", INSTALL, ensure_pytorchvideo)
    frames, crop, short = PYTORCHVIDEO_MODELS[name]
    frames_new, crop_new = num_frames or frames, crop_size or crop
    native = (frames_new, crop_new) == (frames, crop)
    if name == "mvit_base_16x4":
        builder_kwargs.setdefault("temporal_size", frames_new)
        builder_kwargs.setdefault("spatial_size", crop_new)
    builder_kwargs.pop("pretrained", None)  # never download
    model = getattr(hub, name)(pretrained=False, **builder_kwargs)
    if not native and name != "mvit_base_16x4":
        for head in list(model.blocks)[-2:]:
            replace_modules(head, lambda m: type(m) is nn.AvgPool3d, lambda m: nn.AdaptiveAvgPool3d(1))
    if weights:
        load_state_dict_file(model, weights, strict=strict)
    clip = ClipSpec(
        frames_new, crop_new, short_side if short_side else (short if native else None), KINETICS_MEAN, KINETICS_STD
    )
    return PyTorchVideoAdapter(model.eval(), clip)


_OPTION_KEYS = ("num_frames", "crop_size", "short_side", "weights", "strict")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> PyTorchVideoAdapter | None:
    """Wrap pytorchvideo models (recognised by their class's module; nothing is imported)."""
    if not isinstance(model, nn.Module) or not type(model).__module__.startswith("pytorchvideo."):
        return None
    return PyTorchVideoAdapter(model, _default_clip(model, options), alpha=options.get("alpha"))


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> PyTorchVideoAdapter | None:
    """``pytorchvideo:NAME[:WEIGHTS]``, e.g. ``pytorchvideo:slowfast_r50``."""
    if not spec.startswith("pytorchvideo:"):
        return None
    name, _, ckpt = spec[len("pytorchvideo:"):].partition(":")
    kwargs = {k: options[k] for k in _OPTION_KEYS if options.get(k) is not None}
    if ckpt:
        kwargs["weights"] = ckpt
    return build_pytorchvideo(name, **kwargs)
