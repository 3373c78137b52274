"""Adapter for torchvision's video models: r3d_18, mc3_18, r2plus1d_18, s3d, mvit_v1_b, mvit_v2_s,
swin3d_t (always ``weights=None``).

Canonical layers:

* ResNet-18 family (``VideoResNet``): ``stage1`` = ``stem`` (no max-pool in this stem),
  ``stage2..stage5`` = ``layer1..layer4``, globally averaged over T, H, W (docs/method.md §3: the stage
  outputs, post-ReLU).
* S3D: ``stage1..stage5`` end where the resolution changes, as I3D-style Inception networks are
  usually staged [INFERRED]: ``features.0`` (Conv_1a, 64), ``features.3`` (Conv_2c, 192),
  ``features.6`` (Mixed_3c, 480), ``features.12`` (Mixed_4f, 832), ``features.15`` (Mixed_5c, 1024).
* MViT v1/v2: ``blockK`` = ``blocks[K]`` tokens, mean over tokens including CLS, before the final
  norm (docs/method.md §3, as the official MViT code).
* Swin3D: ``blockK`` = the K-th ``SwinTransformerBlock`` across the four stages (``features.0/2/4/6``),
  mean over T, H, W of its channels-last (B, T, H, W, C) output, before patch merging.

Examples:
    >>> adapter = build_torchvision("r3d_18", num_frames=8, crop_size=64)    # doctest: +SKIP
    >>> [i.channels for i in adapter.layers().values()]                        # doctest: +SKIP
    [64, 64, 128, 256, 512]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sdinterp.adapters._clip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    KINETICS_MEAN,
    KINETICS_STD,
    ClipPreprocessor,
    VideoClipAdapter,
    channels_last_pool,
    load_state_dict_file,
    module_width,
    replace_modules,
)
from sdinterp.adapters._compat import ensure_torchvision, import_optional
from sdinterp.adapters.common import crop_option
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo
from sdinterp.models import check_weights_options, family_loader

__all__ = ["TORCHVISION_MODELS", "TorchvisionVideoAdapter", "build_torchvision"]

INSTALL = "pip install torchvision (the release built for your torch; or: pip install 'sdinterp[models]')"

#: name -> native clip length. Crop, resize and mean/std come from the weights' transforms.
TORCHVISION_MODELS: dict[str, int] = {
    "r3d_18": 16,
    "mc3_18": 16,
    "r2plus1d_18": 16,
    "s3d": 16,
    "mvit_v1_b": 16,
    "mvit_v2_s": 16,
    "swin3d_t": 32,
}

_S3D_STAGES = (0, 3, 6, 12, 15)


def _tokens_of(outputs: Any) -> torch.Tensor:
    """The token tensor of an MViT block's ``(tokens, thw)`` output."""
    return outputs[0]


def _inception_width(block: nn.Module) -> int | None:
    """Channels of an Inception block: the sum of its branches' outputs (they are concatenated)."""
    branches = [m for n, m in block.named_children() if n.startswith("branch")]
    if not branches:
        return module_width(block)
    return sum(module_width(b) or 0 for b in branches)


class TorchvisionVideoAdapter(VideoClipAdapter):
    """Names the layers of a torchvision video model and builds its (B, 3, T, H, W) input.

    Args:
        model: ``VideoResNet``, ``S3D``, ``MViT`` or ``SwinTransformer3d`` from ``torchvision.models.video``.
        clip: preprocessing (see :func:`build_torchvision` for the native settings).

    Examples:
        >>> from torchvision.models.video import r3d_18                     # doctest: +SKIP
        >>> TorchvisionVideoAdapter(r3d_18(), ClipPreprocessor(16, 112, 128)).layers()  # doctest: +SKIP
    """

    family = "torchvision"
    default_pooling = "channels_first"
    model: Any  # a torchvision video network (an untyped package): its parts are reached by name

    def __init__(self, model: nn.Module, clip: ClipPreprocessor):
        super().__init__(model, clip)
        self.kind = type(model).__name__
        self._layers = self._build_layers()

    def layers(self) -> dict[str, LayerInfo]:
        return dict(self._layers)

    def _build_layers(self) -> dict[str, LayerInfo]:
        m = self.model
        out: dict[str, LayerInfo] = {}
        if self.kind == "VideoResNet":
            for k, path in enumerate(("stem", "layer1", "layer2", "layer3", "layer4"), start=1):
                out[f"stage{k}"] = LayerInfo(f"stage{k}", path, module_width(m.get_submodule(path)))
        elif self.kind == "S3D":
            for k, idx in enumerate(_S3D_STAGES, start=1):
                out[f"stage{k}"] = LayerInfo(f"stage{k}", f"features.{idx}", _inception_width(m.features[idx]))
        elif self.kind == "MViT":
            for k, block in enumerate(m.blocks):
                out[f"block{k}"] = LayerInfo(
                    f"block{k}", f"blocks.{k}", module_width(block), "rgb", "tokens", select=_tokens_of
                )
        elif self.kind == "SwinTransformer3d":
            k = 0
            for i, stage in enumerate(m.features):
                if type(stage).__name__ == "PatchMerging":
                    continue
                for j, block in enumerate(stage):
                    out[f"block{k}"] = LayerInfo(
                        f"block{k}", f"features.{i}.{j}", module_width(block), "rgb", channels_last_pool
                    )
                    k += 1
        else:
            raise TypeError(f"unsupported torchvision video model {self.kind}; use the generic adapter")
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": self.kind}


def _native_clip(name: str, weights_enum: Any) -> ClipPreprocessor:
    """Crop, resize and normalisation of the model's published weights (read from the weights
    enum's transform preset; nothing is downloaded)."""
    t = list(weights_enum)[0].transforms()
    crop = int(t.crop_size[0])
    short = int(min(t.resize_size))
    return ClipPreprocessor(TORCHVISION_MODELS[name], crop, short, tuple(t.mean), tuple(t.std))


def _build_mvit(video: Any, name: str, frames: int, crop: int, **kwargs: Any) -> nn.Module:
    """torchvision's mvit_v1_b/mvit_v2_s hard-code a 16x224x224 input when calling the private
    ``_mvit`` (its positional embedding / relative positions depend on it); substitute the requested
    size there for the duration of one call."""
    module: Any = __import__("torchvision.models.video.mvit", fromlist=["_mvit"])
    original = module._mvit

    def sized(*args: Any, **kw: Any) -> nn.Module:
        kw["spatial_size"], kw["temporal_size"] = (crop, crop), frames
        return original(*args, **kw)

    module._mvit = sized
    try:
        return getattr(video, name)(weights=None, **kwargs)
    finally:
        module._mvit = original


def build_torchvision(
    name: str,
    num_frames: int | None = None,
    crop_size: int | None = None,
    short_side: int | None = None,
    weights: str | None = None,
    strict: bool = True,
    trust_weights: bool = False,
    **builder_kwargs: Any,
) -> TorchvisionVideoAdapter:
    """Build a torchvision video model with random weights (``weights=None``) and wrap it.

    Native input settings (crop, resize, mean/std) come from the model's weights preset; frames from
    :data:`TORCHVISION_MODELS`. At a non-native size, MViT is built for that size and S3D's fixed
    (2, 7, 7) head pool becomes ``AdaptiveAvgPool3d(1)`` (classifier only; same result natively).

    Args:
        name: one of :data:`TORCHVISION_MODELS`.
        num_frames: clip length (default: native).
        crop_size: centre-crop side in pixels (default: native).
        short_side: short side before cropping (default: native, or ``crop_size`` at a custom crop).
        weights: a local state-dict file to load (``torch.save`` or ``.safetensors``).
        strict: strict state-dict loading.
        trust_weights: let a weights file holding objects other than tensors be unpickled in full
            (only files you trust: unpickling can run code).
        **builder_kwargs: passed to the torchvision builder (e.g. ``num_classes``).

    Returns:
        A :class:`TorchvisionVideoAdapter`.

    Examples:
        >>> a = build_torchvision("mvit_v2_s", num_frames=4, crop_size=64)   # doctest: +SKIP
    """
    if name not in TORCHVISION_MODELS:
        raise ValueError(f"unknown torchvision video model {name!r}; supported: {', '.join(TORCHVISION_MODELS)}")
    check_weights_options(f"torchvision:{name}", weights, trust_weights)  # before anything is built
    video = import_optional("torchvision.models.video", "torchvision", INSTALL, ensure_torchvision)
    models = import_optional("torchvision.models", "torchvision", INSTALL)
    native = _native_clip(name, models.get_model_weights(name))
    frames, crop = num_frames or native.num_frames, crop_size or native.crop_size
    if frames is None or crop is None:
        raise ValueError(f"torchvision:{name}: its weights do not say their input size; give num_frames and crop_size")
    is_native = (frames, crop) == (native.num_frames, native.crop_size)
    if name.startswith("mvit"):
        model = _build_mvit(video, name, frames, crop, **builder_kwargs)
    else:
        model = getattr(video, name)(weights=None, **builder_kwargs)
        if name == "s3d" and not is_native:
            replace_modules(model, lambda m: m is model.avgpool, lambda m: nn.AdaptiveAvgPool3d(1))
    if weights:
        load_state_dict_file(model, weights, strict=strict, trusted=trust_weights)
    short = short_side or (native.short_side if crop == native.crop_size else None)
    clip = ClipPreprocessor(frames, crop, short, native.mean, native.std)
    return TorchvisionVideoAdapter(model.eval(), clip)


def _clip_for(model: nn.Module, options: dict[str, Any]) -> ClipPreprocessor:
    kind = type(model).__name__
    frames, crop, short = 16, (112 if kind == "VideoResNet" else 224), (128 if kind == "VideoResNet" else 256)
    enc = getattr(model, "pos_encoding", None)
    if kind == "MViT" and enc is not None:
        # The positional encoding fixes the input: (T/2, H/4, W/4) patches for torchvision's MViT.
        frames, crop = int(enc.temporal_size) * 2, int(enc.spatial_size[0]) * 4
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if kind == "SwinTransformer3d" else (KINETICS_MEAN, KINETICS_STD)
    if kind in ("VideoResNet", "S3D"):
        mean, std = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
    crop_opt = crop_option(options)
    return ClipPreprocessor(
        int(options.get("num_frames") or frames),
        int(crop_opt or crop),
        options.get("short_side") or (None if crop_opt else short),
        tuple(options.get("mean") or mean),
        tuple(options.get("std") or std),
    )


_KINDS = ("VideoResNet", "S3D", "MViT", "SwinTransformer3d")
_OPTION_KEYS = ("num_frames", "crop_size", "short_side", "weights", "strict", "trust_weights")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> TorchvisionVideoAdapter | None:
    """Wrap torchvision video models (recognised by class and module; nothing is imported)."""
    if not isinstance(model, nn.Module) or not type(model).__module__.startswith("torchvision.models.video"):
        return None
    if type(model).__name__ not in _KINDS:
        return None
    return TorchvisionVideoAdapter(model, _clip_for(model, options))


#: ``torchvision:NAME[:WEIGHTS]`` specs (parsed in the core, :mod:`sdinterp.models`).
sdinterp_load_model = family_loader("torchvision", build_torchvision, _OPTION_KEYS)
