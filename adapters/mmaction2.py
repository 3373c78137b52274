"""Adapter for MMAction2 (1.x) recognizers, built from a config file or wrapped when already built.

Canonical layers by backbone (docs/method.md §3 and §8; all pooled to (B, C)):

* ``ResNet3d`` family (I3D, SlowOnly, CSN, R(2+1)D): ``stage1`` = stem after its max-pool
  (``backbone.maxpool``; ``backbone.conv1`` without it), ``stage2..5`` = ``backbone.layer1..4``; stage 2
  is read before I3D's temporal ``pool2``, as the reference reads ``s2`` before ``pathway0_pool``.
* ``C2D``: ``stage1`` = ``backbone.maxpool3d_1``; ``stage2`` = the input of ``backbone.maxpool3d_2``
  (layer1 already folded back to 5-D there); ``stage3..5`` = ``backbone.layer2..4``, whose
  (B·T, C, H, W) outputs are unfolded before pooling.
* ``X3D``: ``stage1`` = ``backbone.conv1_t`` (stem), ``stage2..5`` = ``backbone.layer1..4`` (``conv5``
  belongs to the head, as pytorchvideo's X3D ``s5`` ends at 192 channels for X3D-M).
* ``ResNet3dSlowFast``: ``slow.stageK`` / ``fast.stageK`` = the pathway outputs **before** the lateral
  connection (``slow_path.maxpool``/``layerK-1``, the paper's SF-Slow/SF-Fast); ``fused.stageK``
  (K = 1..4) = the input of the next slow stage, i.e. slow features concatenated with the lateral
  fast->slow features; ``cat.stage5`` = pooled slow and fast stage 5 concatenated.
* 2-D recognizers (TSN ``ResNet``, TSM ``ResNetTSM``): ``stage1`` = ``backbone.maxpool``,
  ``stage2..5`` = ``backbone.layer1..4``; (B·T, C, H, W) features are unfolded to (B, C, T, H, W)
  before the global average.
* Transformers (TimeSformer, MViT, VideoSwin): ``blockK`` = the K-th block's tokens, averaged over
  all tokens including CLS, before any final norm (docs/method.md §3).

Examples:
    >>> adapter = build_mmaction2("slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb.py",
    ...                           num_frames=16, crop_size=64)                    # doctest: +SKIP
    >>> adapter.layers()["fused.stage2"].channels                                 # doctest: +SKIP
    320
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from sdinterp.adapters._compat import ensure_mmaction, import_optional
from sdinterp.adapters._clip import (
    ClipSpec,
    cat_pathways,
    first_output,
    VideoClipAdapter,
    channels_last_pool,
    load_state_dict_file,
    module_width,
    uniform_indices,
)
from sdinterp.adapters._mmaction_config import (
    find_config,
    pipeline_clip,
    resize_backbone,
    shipped_configs,
    strip_pretrained,
)
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, Sample

__all__ = ["MMAction2Adapter", "build_mmaction2", "find_config", "shipped_configs"]

INSTALL = (
    "pip install mmengine==0.10.7 'mmcv-lite==2.1.0' importlib_metadata einops && "
    "pip install --no-deps mmaction2==1.2.0"
)


def _mmaction() -> Any:
    """Import mmaction's models (with the compat fixes) and register its modules."""
    import_optional("mmaction.models", "mmaction2", INSTALL, ensure_mmaction)
    utils = import_optional("mmaction.utils", "mmaction2", INSTALL)
    utils.register_all_modules()
    return import_optional("mmaction.registry", "mmaction2", INSTALL)


def _mro_names(obj: Any) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


class MMAction2Adapter(VideoClipAdapter):
    """Names the layers of an MMAction2 recognizer and builds its input.

    Normalisation comes from the recognizer's ``data_preprocessor`` (mean/std); frames, crop and
    resize from the config's test pipeline when built with :func:`build_mmaction2`. The input is
    ``(B, 1, 3, T, H, W)`` for 3-D recognizers and ``(B, T, 3, H, W)`` for 2-D ones. SlowFast gets
    its two pathways as two views, so a static sampler shuffles them independently.

    Args:
        model: a built MMAction2 recognizer (``Recognizer3D`` or ``Recognizer2D``).
        clip: preprocessing; ``num_frames`` is the clip length fed to the model (T; for SlowFast the
            length before its internal ``resample_rate`` subsampling).
        input_format: ``"NCTHW"`` or ``"NCHW"`` (default: from the recognizer type).
    """

    family = "mmaction2"
    default_pooling = "channels_first"

    def __init__(self, model: nn.Module, clip: ClipSpec, input_format: str | None = None):
        self.backbone = getattr(model, "backbone", None)
        if self.backbone is None:
            raise TypeError(f"{type(model).__name__} has no backbone; not an MMAction2 recognizer")
        self.input_format = input_format or ("NCHW" if "Recognizer2D" in _mro_names(model) else "NCTHW")
        self.kind = type(self.backbone).__name__
        ratios: Sequence[int] = (1,)
        if self.kind == "ResNet3dSlowFast":
            r, s = int(self.backbone.resample_rate), int(self.backbone.speed_ratio)
            ratios = (r, r // s)  # slow, fast: mmaction subsamples both from one clip by nearest interpolation
        super().__init__(model, clip, ratios)
        self._batch = 1
        self._layers = self._build_layers()

    # -- layers ----------------------------------------------------------------------------------
    def layers(self) -> dict[str, LayerInfo]:
        return dict(self._layers)

    def _build_layers(self) -> dict[str, LayerInfo]:
        bb, names = self.backbone, _mro_names(self.backbone)
        out: dict[str, LayerInfo] = {}

        def add(name: str, module: str, width: int | None, stream: str = "rgb", **kw: Any) -> None:
            out[name] = LayerInfo(name, module, width, stream, **kw)

        res_layers = list(getattr(bb, "res_layers", []))
        if self.kind == "ResNet3dSlowFast":
            lateral = bool(getattr(bb.slow_path, "lateral", False))
            widths: dict[str, list[int]] = {}
            for path, stream in (("slow_path", "slow"), ("fast_path", "fast")):
                p = getattr(bb, path)
                mods = ["maxpool"] + list(p.res_layers)
                srcs = ["conv1"] + list(p.res_layers)  # maxpool has no width; conv1 sets it
                widths[stream] = [module_width(p.get_submodule(s)) or 0 for s in srcs]
                for k, mod in enumerate(mods):
                    add(f"{stream}.stage{k + 1}", f"backbone.{path}.{mod}", widths[stream][k], stream)
            if lateral:
                slow_layers = list(bb.slow_path.res_layers)
                for k in range(len(slow_layers)):
                    nxt = bb.slow_path.get_submodule(slow_layers[k])
                    add(f"fused.stage{k + 1}", f"backbone.slow_path.{slow_layers[k]}", _in_width(nxt), "fused", where="input")
            add("cat.stage5", "backbone", widths["slow"][-1] + widths["fast"][-1], "cat", pooling="flat", select=cat_pathways)
            order = [f"{s}.stage{k}" for k in range(1, 6) for s in ("slow", "fast", "fused")] + ["cat.stage5"]
            return {n: out[n] for n in order if n in out}
        if "ResNet3d" in names:
            stem = "maxpool" if getattr(bb, "with_pool1", True) else "conv1"
            add("stage1", f"backbone.{stem}", module_width(bb.conv1))
            for k, layer in enumerate(res_layers):
                add(f"stage{k + 2}", f"backbone.{layer}", module_width(bb.get_submodule(layer)))
        elif self.kind == "C2D":
            add("stage1", "backbone.maxpool3d_1", module_width(bb.conv1))
            add("stage2", "backbone.maxpool3d_2", module_width(bb.get_submodule(res_layers[0])), where="input")
            for k, layer in enumerate(res_layers[1:]):
                add(f"stage{k + 3}", f"backbone.{layer}", module_width(bb.get_submodule(layer)), pooling=self.unfold_time_pool)
        elif self.kind == "X3D":
            add("stage1", "backbone.conv1_t", module_width(bb.conv1_t))
            for k, layer in enumerate(res_layers):
                add(f"stage{k + 2}", f"backbone.{layer}", module_width(bb.get_submodule(layer)))
        elif "ResNet" in names and self.input_format == "NCHW":
            add("stage1", "backbone.maxpool", module_width(bb.conv1), pooling=self.unfold_time_pool)
            for k, layer in enumerate(res_layers):
                add(f"stage{k + 2}", f"backbone.{layer}", module_width(bb.get_submodule(layer)), pooling=self.unfold_time_pool)
        elif self.kind == "TimeSformer":
            pool = self.unfold_time_pool if bb.attention_type == "space_only" else "tokens"
            for k, layer in enumerate(bb.transformer_layers.layers):
                add(f"block{k}", f"backbone.transformer_layers.layers.{k}", int(bb.embed_dims), pooling=pool)
        elif self.kind == "MViT":
            for k, block in enumerate(bb.blocks):
                add(f"block{k}", f"backbone.blocks.{k}", module_width(block), pooling="tokens", select=first_output)
        elif self.kind == "SwinTransformer3D":
            k = 0
            for i, layer in enumerate(bb.layers):
                for j, block in enumerate(layer.blocks):
                    add(f"block{k}", f"backbone.layers.{i}.blocks.{j}", module_width(block), pooling=channels_last_pool)
                    k += 1
        else:
            raise TypeError(
                f"no canonical layers for MMAction2 backbone {self.kind}; supported: ResNet3d (I3D, SlowOnly, "
                "CSN, R(2+1)D), C2D, X3D, ResNet3dSlowFast, ResNet/ResNetTSM (TSN, TSM), TimeSformer, MViT, "
                "SwinTransformer3D. Use the generic adapter with raw module paths instead."
            )
        return out

    def unfold_time_pool(self, x: torch.Tensor) -> torch.Tensor:
        """(B·T, C, H, W) or (B·T, L, C) -> (B, C): unfold time from the batch, then average over T
        and space (or tokens), so a 2-D backbone's features pool like a 3-D one's."""
        if x.shape[0] % self._batch:
            raise ValueError(f"cannot unfold {x.shape[0]} rows into a batch of {self._batch}")
        y = x.float().reshape(self._batch, x.shape[0] // self._batch, *x.shape[1:])
        if x.dim() == 3:  # tokens (B·T, L, C)
            return y.mean(dim=(1, 2))
        return y.mean(dim=(1,) + tuple(range(3, y.dim())))

    # -- input -----------------------------------------------------------------------------------
    def views(self, sample: Sample) -> Sample:
        """``num_frames`` uniform frames; for SlowFast the slow and fast pathways are every
        ``resample_rate``-th and every ``resample_rate // speed_ratio``-th of them, exactly what
        mmaction's nearest-neighbour temporal interpolation picks from an in-order clip."""
        if sample.views is not None:
            return sample
        base = uniform_indices(sample.num_frames, self.clip.num_frames)
        return sample.replace(views=tuple(base[::r] for r in self.pathway_ratios))

    def prepare(self, samples: Sequence[Sample]) -> Any:
        tensors = self.pathway_tensors(samples)
        if len(tensors) > 1:
            return tensors  # [slow (B,3,Ts,H,W), fast (B,3,Tf,H,W)], substituted in forward()
        x = tensors[0]
        return x.permute(0, 2, 1, 3, 4).contiguous() if self.input_format == "NCHW" else x.unsqueeze(1)

    def forward(self, inputs: Any) -> Any:
        if not isinstance(inputs, (list, tuple)):
            self._batch = int(inputs.shape[0])
            return self.model(inputs, mode="tensor")
        slow, fast = inputs
        self._batch = int(fast.shape[0])
        # ResNet3dSlowFast derives both pathways from one tensor; feed each pathway its own view
        # by replacing the input of each pathway's first conv (prepended, so capture hooks see it).
        handles = [
            self.backbone.slow_path.conv1.register_forward_pre_hook(lambda m, a: (slow,), prepend=True),
            self.backbone.fast_path.conv1.register_forward_pre_hook(lambda m, a: (fast,), prepend=True),
        ]
        try:
            return self.model(fast.unsqueeze(1), mode="tensor")
        finally:
            for h in handles:
                h.remove()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backbone": self.kind, "input_format": self.input_format}


def _in_width(layer: nn.Module) -> int | None:
    """Input channels of a residual layer (its first convolution's in_channels)."""
    for m in layer.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return int(m.in_channels)
    return None


def _preprocessor_stats(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std on the [0, 1] scale from the recognizer's data preprocessor (ImageNet if absent)."""
    dp = getattr(model, "data_preprocessor", None)
    mean, std = getattr(dp, "mean", None), getattr(dp, "std", None)
    if mean is None or std is None:
        return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return tuple(float(v) / 255.0 for v in mean.flatten()), tuple(float(v) / 255.0 for v in std.flatten())


def _backbone_defaults(backbone: nn.Module) -> tuple[int, int]:
    """Frames and crop a built backbone expects when no pipeline is known."""
    kind = type(backbone).__name__
    frames = int(getattr(backbone, "num_frames", 0) or getattr(backbone, "num_segments", 0) or (32 if kind == "ResNet3dSlowFast" else 8))
    crop = getattr(backbone, "img_size", None) or 224
    return frames, int(crop if isinstance(crop, int) else crop[0])


def build_mmaction2(
    config: str | Path,
    weights: str | None = None,
    cfg_options: dict[str, Any] | None = None,
    num_frames: int | None = None,
    crop_size: int | None = None,
    short_side: int | None = None,
    strict: bool = True,
    trust_weights: bool = False,
) -> MMAction2Adapter:
    """Build an MMAction2 recognizer from a config (random init; pretrained paths removed) and wrap it.

    Args:
        config: a config file, or the name of a config shipped with mmaction2 (see :func:`find_config`).
        weights: a local checkpoint (MMEngine ``state_dict`` containers accepted).
        cfg_options: overrides in MMEngine dotted form, e.g. ``{"model.backbone.depth": 18}``.
        num_frames: clip length (default: the test pipeline's). TimeSformer/MViT/TSM backbones are
            configured for it.
        crop_size: centre-crop side (default: the pipeline's). TimeSformer/MViT are configured for it.
        short_side: short side before cropping (default: the pipeline's resize, or ``crop_size``).
        strict: strict state-dict loading.
        trust_weights: allow full unpickling of a checkpoint you trust (MMEngine checkpoints carry
            non-tensor metadata that ``weights_only`` loading refuses).

    Returns:
        An :class:`MMAction2Adapter`.
    """
    registry = _mmaction()
    from mmengine.config import Config

    cfg = Config.fromfile(str(find_config(config)))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    piped, fmt = pipeline_clip(cfg)
    model_cfg = strip_pretrained(cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model))
    if num_frames or crop_size:
        resize_backbone(model_cfg["backbone"], num_frames, crop_size)
    model = registry.MODELS.build(model_cfg)
    if weights:
        load_state_dict_file(model, weights, strict=strict, trusted=trust_weights)
    mean, std = _preprocessor_stats(model)
    frames, crop = _backbone_defaults(model.backbone)
    crop = crop_size or piped.get("crop_size", crop)
    short = short_side or (piped.get("short_side") if crop_size is None else None)
    clip = ClipSpec(int(num_frames or piped.get("num_frames", frames)), int(crop), short, mean, std)
    return MMAction2Adapter(model.eval(), clip, input_format=fmt)


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> MMAction2Adapter | None:
    """Wrap built MMAction2 recognizers (recognised by their class's module; nothing is imported)."""
    if not isinstance(model, nn.Module) or not type(model).__module__.startswith("mmaction."):
        return None
    if not any("Recognizer" in n for n in _mro_names(model)):
        return None
    frames, crop = _backbone_defaults(model.backbone)
    mean, std = _preprocessor_stats(model)
    crop_opt = options.get("crop_size") or options.get("size")
    clip = ClipSpec(
        int(options.get("num_frames") or frames),
        int(crop_opt or crop),
        options.get("short_side"),
        tuple(options.get("mean") or mean),
        tuple(options.get("std") or std),
    )
    return MMAction2Adapter(model, clip, options.get("input_format"))


_OPTION_KEYS = ("weights", "cfg_options", "num_frames", "crop_size", "short_side", "strict", "trust_weights")


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> MMAction2Adapter | None:
    """``mmaction2:CONFIG[:WEIGHTS]``; CONFIG may be a shipped config's name."""
    if not spec.startswith("mmaction2:"):
        return None
    rest = spec[len("mmaction2:"):]
    config, ckpt = rest, None
    if ":" in rest and not Path(rest).is_file():
        config, ckpt = rest.rsplit(":", 1)
    kwargs = {k: options[k] for k in _OPTION_KEYS if options.get(k) is not None}
    if ckpt:
        kwargs["weights"] = ckpt
    return build_mmaction2(config, **kwargs)

