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

import contextlib
import dataclasses
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.adapters._clip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipPreprocessor,
    VideoClipAdapter,
    load_state_dict_file,
    uniform_indices,
)
from sdinterp.adapters._compat import ensure_mmaction, import_optional
from sdinterp.adapters._mmaction_config import (
    find_config,
    pipeline_clip,
    resize_backbone,
    shipped_configs,
    strip_pretrained,
)
from sdinterp.adapters._mmaction_layers import NoCanonicalLayers, _mro_names, named_layers
from sdinterp.adapters.common import crop_option
from sdinterp.errors import UnsupportedModelError
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, Sample
from sdinterp.models import check_weights_options, family_loader
from sdinterp.probe import probe_widths, trace

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


class MMAction2Adapter(VideoClipAdapter):
    """Names the layers of an MMAction2 recognizer and builds its input.

    Normalisation comes from the recognizer's ``data_preprocessor`` (mean/std); frames, crop and
    resize from the config's test pipeline when built with :func:`build_mmaction2`. The input is
    ``(B, 1, 3, T, H, W)`` for 3-D recognizers and ``(B, T, 3, H, W)`` for 2-D ones. SlowFast gets
    its two pathways as two views, so a static sampler shuffles them independently.

    Layers come from a table per backbone family, or structurally for any other backbone
    (``adapters/_mmaction_layers.py``); every width is read from one probe forward on first use of
    :meth:`layers`, so it is the width the report will see.

    Args:
        model: a built MMAction2 recognizer (``Recognizer3D`` or ``Recognizer2D``).
        clip: preprocessing; ``num_frames`` is the clip length fed to the model (T; for SlowFast the
            length before its internal ``resample_rate`` subsampling).
        input_format: ``"NCTHW"`` or ``"NCHW"`` (default: from the recognizer type).
        native: the config's own (frames, crop), named when the model fails at another size.
    """

    family = "mmaction2"
    device_frames = True  # prepare reshapes pathway_tensors, on the frames' device
    default_pooling = "channels_first"
    model: Any  # an MMAction2 recognizer (an untyped package): its parts are reached by name
    #: Clips in the probe forward (two, so a batch axis is told apart from a token axis).
    probe_batch = 2

    def __init__(
        self,
        model: nn.Module,
        clip: ClipPreprocessor,
        input_format: str | None = None,
        native: tuple[int, int] | None = None,
    ):
        self.backbone: Any = getattr(model, "backbone", None)  # an MMAction2 backbone (an untyped package)
        if self.backbone is None:
            raise UnsupportedModelError(f"{type(model).__name__} has no backbone; not an MMAction2 recognizer")
        names = _mro_names(model)
        if "RecognizerAudio" in names:
            raise UnsupportedModelError(
                f"{type(model).__name__} is an audio recognizer (it takes spectrogram features, not frames); "
                "sdinterp measures static and dynamic information of video models"
            )
        # The first convolution says what the backbone eats (backbone.in_channels means other things
        # in some families, e.g. MobileNetV2's last block width).
        first = next((m for m in self.backbone.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
        in_channels = int(first.in_channels) if first is not None else 3
        if in_channels != 3:
            raise UnsupportedModelError(
                f"{type(model).__name__} with a {type(self.backbone).__name__} backbone takes "
                f"{in_channels}-channel input "
                f"({'optical flow' if in_channels == 2 else 'stacked flow' if in_channels % 2 == 0 else 'not RGB'}), "
                "not RGB clips; sdinterp's action-recognition "
                "adapters feed RGB frames (two-stream flow models: docs/twostream.md)"
            )
        self.input_format = input_format or ("NCHW" if "Recognizer2D" in names else "NCTHW")
        # RecognizerOmni's own mode="tensor" rejects every call (it asserts a tuple is a tensor), so
        # its features are taken through extract_feat, which is what mode="tensor" would run.
        self._omni = "RecognizerOmni" in names
        self.kind = type(self.backbone).__name__
        ratios: Sequence[int] = (1,)
        if self.kind == "ResNet3dSlowFast":
            r, s = int(self.backbone.resample_rate), int(self.backbone.speed_ratio)
            ratios = (r, r // s)  # slow, fast: mmaction subsamples both from one clip by nearest interpolation
        super().__init__(model, clip, ratios)
        self.native = native
        self._batch = 1
        self._layers: dict[str, LayerInfo] | None = None

    # -- layers ----------------------------------------------------------------------------------
    def layers(self) -> dict[str, LayerInfo]:
        if self._layers is None:
            try:
                named = named_layers(self, lambda: self._probe(lambda run: trace(self.backbone, run)))
            except NoCanonicalLayers as exc:
                warnings.warn(
                    f"{exc}; its layers are the raw module paths that run, as the generic adapter lists them",
                    stacklevel=2,
                )
                self._layers = self._raw_layers()
                return dict(self._layers)
            widths = self._probe(lambda run: probe_widths(self.model, named, run).widths)
            self._layers = {n: dataclasses.replace(info, channels=widths[n]) for n, info in named.items()}
        return dict(self._layers)

    def _raw_layers(self) -> dict[str, LayerInfo]:
        """Every module of the recognizer that runs, named by its path, with its width (generic
        adapter style, but fed the recognizer's own input layout)."""
        ran = self._probe(lambda run: trace(self.model, run))
        folded = self.input_format == "NCHW"
        out = {}
        for path, t in sorted(ran.items(), key=lambda kv: kv[1].order):
            if t.shape is None or len(t.shape) < 2:
                continue
            pooling: Any = "flat" if len(t.shape) == 2 else (self.unfold_time_pool if folded else "channels_first")
            width = t.shape[-1] if folded and len(t.shape) == 3 else t.shape[1]
            out[path] = LayerInfo(path, path, int(width), "rgb", pooling)
        return out

    def probe_samples(self) -> list[Sample]:
        """Random clips at the adapter's input size for the probe forward."""
        side = self.clip.crop_size or self.clip.short_side or 112
        rng = np.random.default_rng(0)
        return [
            Sample(frames=rng.integers(0, 256, (self.num_frames, side, side, 3), dtype=np.uint8), video_id=f"probe{i}")
            for i in range(self.probe_batch)
        ]

    def _probe(self, use: Callable[[Callable[[], Any]], Any]) -> Any:
        """``use(run)`` with ``run`` one forward of :meth:`probe_samples`; a failing forward becomes
        one line saying why (a compiled op missing from mmcv-lite, a size the model cannot take)."""
        from sdinterp.pipeline.inputs import to_device

        samples = [self.views(s) for s in self.probe_samples()]
        was_training = self.model.training
        self.model.eval()
        try:
            x = to_device(self.prepare(samples), self.device)
            with torch.inference_mode():
                return use(lambda: self.forward(x))
        except Exception as exc:
            raise UnsupportedModelError(self._probe_failure(exc)) from exc
        finally:
            self.model.train(was_training)

    def _probe_failure(self, exc: BaseException) -> str:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        what = f"MMAction2 {self.kind} recognizer"
        if "mmcv.ops" in text or "mmcv._ext" in text:
            # The wording differs with how mmcv.ops failed to import; the op's name does not.
            op = re.search(r"mmcv\.ops\.(\w+)|`(\w+)` from `?mmcv\.ops", text)
            name = f"mmcv.ops.{op.group(1) or op.group(2)}" if op else "a compiled operator of mmcv.ops"
            return (
                f"{what} needs {name}, a compiled operator that mmcv-lite does not have; install the full mmcv "
                "built for your torch (pip install mmcv==2.1.0, with its CPU/CUDA ops) to use it"
            )
        size = f"{self.clip.num_frames} frames at {self.clip.crop_size} px"
        if self.native is not None and self.native != (self.clip.num_frames, self.clip.crop_size):
            return (
                f"{what} fails on {size} ({type(exc).__name__}: {text}); its config's native input is "
                f"{self.native[0]} frames at {self.native[1]} px: use those sizes (--frames/--crop-size)"
            )
        return f"{what} fails on a probe clip of {size} ({type(exc).__name__}: {text})"

    def unfold_time_pool(self, x: torch.Tensor) -> torch.Tensor:
        """(B·T, C, H, W) or (B·T, L, C) -> (B, C): unfold time from the batch, then average over T
        and space (or tokens), so a 2-D backbone's features pool like a 3-D one's."""
        if x.shape[0] % self._batch:
            raise ValueError(f"cannot unfold {x.shape[0]} rows into a batch of {self._batch}")
        y = x.float().reshape(self._batch, x.shape[0] // self._batch, *x.shape[1:])
        if x.dim() == 3:  # tokens (B·T, L, C)
            return y.mean(dim=(1, 2))
        return y.mean(dim=(1,) + tuple(range(3, y.dim())))

    def unfold_seq_first_pool(self, x: torch.Tensor) -> torch.Tensor:
        """(L, B·T, C) -> (B, C): sequence-first tokens with time in the batch (UniFormerV2's local
        blocks), averaged over tokens (CLS included) and time."""
        if x.dim() != 3 or x.shape[1] % self._batch:
            raise ValueError(f"expected (L, B*T, C) tokens with B={self._batch}, got {tuple(x.shape)}")
        return x.float().reshape(x.shape[0], self._batch, x.shape[1] // self._batch, x.shape[2]).mean(dim=(0, 2))

    # -- input -----------------------------------------------------------------------------------
    def views(self, sample: Sample) -> Sample:
        """``num_frames`` uniform frames; for SlowFast the slow and fast pathways are every
        ``resample_rate``-th and every ``resample_rate // speed_ratio``-th of them, exactly what
        mmaction's nearest-neighbour temporal interpolation picks from an in-order clip."""
        if sample.views is not None:
            return sample
        base = uniform_indices(sample.num_frames, self.num_frames)
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
            if self._omni:
                return self.model.extract_feat(inputs, stage="backbone")
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


#: Backbones mmaction2 registers only if an optional package imports (mmaction/models/backbones).
_OPTIONAL_BACKBONES = {"MobileOneTSM": "mmpretrain"}


@contextlib.contextmanager
def _quiet_mmengine() -> Iterator[None]:
    import logging

    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _preprocessor_stats(model: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std on the [0, 1] scale from the recognizer's data preprocessor (ImageNet if absent)."""
    dp = getattr(model, "data_preprocessor", None)
    mean, std = getattr(dp, "mean", None), getattr(dp, "std", None)
    if mean is None or std is None:
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(float(v) / 255.0 for v in mean.flatten()), tuple(float(v) / 255.0 for v in std.flatten())


def _backbone_defaults(backbone: Any) -> tuple[int, int]:
    """Frames and crop a built backbone expects when no pipeline is known."""
    kind = type(backbone).__name__
    frames = int(
        getattr(backbone, "num_frames", 0)
        or getattr(backbone, "num_segments", 0)
        or (32 if kind == "ResNet3dSlowFast" else 8)
    )
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
    check_weights_options(f"mmaction2:{config}", weights, trust_weights)  # before anything is built
    registry = _mmaction()
    from mmengine.config import Config

    cfg = Config.fromfile(str(find_config(config)))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    piped, fmt = pipeline_clip(cfg)
    model_cfg = strip_pretrained(cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model))
    if num_frames or crop_size:
        resize_backbone(model_cfg["backbone"], num_frames, crop_size)
    if model_cfg.get("type") == "RecognizerAudio":
        raise UnsupportedModelError(
            f"mmaction2 config {Path(str(config)).name}: an audio recognizer (it takes spectrogram features, not "
            "frames); sdinterp measures static and dynamic information of video models"
        )
    try:
        with _quiet_mmengine():  # some backbones (TANet, TIN) log every parameter's init from __init__
            model = registry.MODELS.build(model_cfg)
    except ImportError as exc:  # mmcls/mmpretrain/timm backbones
        raise UnsupportedModelError(f"mmaction2 config {Path(str(config)).name}: {exc}") from exc
    except KeyError as exc:  # a module mmaction registers only when an optional package imports
        name = str(exc).strip("'\"").split(" is not in ")[0]
        needs = _OPTIONAL_BACKBONES.get(name, "the package that defines it")
        raise UnsupportedModelError(
            f"mmaction2 config {Path(str(config)).name}: {name} is not registered in this install; mmaction2 "
            "defines it "
            f"only when {needs} is installed (pip install {needs.split()[0]})"
        ) from None
    if weights:
        load_state_dict_file(model, weights, strict=strict, trusted=trust_weights)
    mean, std = _preprocessor_stats(model)
    frames, crop = _backbone_defaults(model.backbone)
    crop = crop_size or piped.get("crop_size", crop)
    short = short_side or (piped.get("short_side") if crop_size is None else None)
    clip = ClipPreprocessor(int(num_frames or piped.get("num_frames", frames)), int(crop), short, mean, std)
    native = (int(piped.get("num_frames", frames)), int(piped.get("crop_size", _backbone_defaults(model.backbone)[1])))
    return MMAction2Adapter(model.eval(), clip, input_format=fmt, native=native)


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> MMAction2Adapter | None:
    """Wrap built MMAction2 recognizers (recognised by their class's module; nothing is imported)."""
    if not isinstance(model, nn.Module) or not type(model).__module__.startswith("mmaction."):
        return None
    if not any("Recognizer" in n for n in _mro_names(model)):
        return None
    frames, crop = _backbone_defaults(model.backbone)
    mean, std = _preprocessor_stats(model)
    crop_opt = crop_option(options)
    clip = ClipPreprocessor(
        int(options.get("num_frames") or frames),
        int(crop_opt or crop),
        options.get("short_side"),
        tuple(options.get("mean") or mean),
        tuple(options.get("std") or std),
    )
    return MMAction2Adapter(model, clip, options.get("input_format"), native=(frames, crop))


_OPTION_KEYS = ("weights", "cfg_options", "num_frames", "crop_size", "short_side", "strict", "trust_weights")


#: ``mmaction2:NAME[:WEIGHTS]`` specs (parsed in the core, :mod:`sdinterp.models`).
sdinterp_load_model = family_loader("mmaction2", build_mmaction2, _OPTION_KEYS)
