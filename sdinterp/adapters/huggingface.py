"""Adapter for the video transformers of Hugging Face ``transformers``: VideoMAE, TimeSformer, ViViT
and V-JEPA 2 (built from their config classes with random weights, or read from a local folder).

Model specs (never downloaded; the hub is not contacted):

* ``hf:TYPE`` -- ``videomae``, ``timesformer``, ``vivit`` or ``vjepa2``: the model type's
  ``*ForVideoClassification`` class built from its default config, randomly initialised from the
  torch RNG (the CLI seeds it with ``--seed``). ``hf:TYPE:KEY=VALUE,...`` overrides config fields,
  e.g. ``hf:videomae:hidden_size=64,num_hidden_layers=2,num_attention_heads=2``.
* ``hf:DIR`` -- a folder written by ``save_pretrained`` (``config.json`` + weights), loaded with
  ``local_files_only=True``: the class named in its ``config.json`` ``architectures`` when it is the
  type's classifier or backbone (``*Model``), the backbone otherwise (e.g. a ``VideoMAEForPreTraining``
  checkpoint). A folder named like a model type must be written as a path (``./videomae``).

Canonical layers (``docs/huggingface.md``): ``embed`` is the output of the patch/tubelet embedding
module (after the position embeddings where the model adds them there) and ``blockK`` the output of
transformer layer K (numbered from 0, as ``blocks.K`` of the other adapters), so ``embed``/``blockK``
are ``hidden_states[0]``/``hidden_states[K + 1]`` of
``output_hidden_states=True``. Each is pooled by a mean over all tokens, CLS included (TimeSformer,
ViViT), as the paper's TimeSformer recipe (docs/method.md §3).

Examples:
    >>> adapter = build_huggingface("videomae", num_frames=4, crop_size=32,
    ...                             config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    ...                                     "intermediate_size": 64, "patch_size": 8})
    >>> list(adapter.layers())
    ['embed', 'block0', 'block1']
    >>> adapter.layers()["block1"].module
    'videomae.encoder.layer.1'
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sdinterp.adapters._clip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipPreprocessor,
    VideoClipAdapter,
    load_state_dict_file,
)
from sdinterp.adapters._compat import ensure_torchvision, import_optional
from sdinterp.errors import UnsupportedModelError
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, Sample
from sdinterp.models import check_weights_options, refuse_unknown_options, weights_file_provenance

__all__ = ["HF_MODELS", "HFModelType", "HuggingFaceVideoAdapter", "build_huggingface", "hidden_states_of"]

INSTALL = "pip install transformers==5.23.0"

_IMAGENET_DEFAULT = (IMAGENET_MEAN, IMAGENET_STD)  # transformers' IMAGENET_DEFAULT_MEAN/STD
_IMAGENET_STANDARD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # transformers' IMAGENET_STANDARD_MEAN/STD


@dataclasses.dataclass(frozen=True)
class HFModelType:
    """What the adapter needs to know about one ``transformers.models.<type>`` video model.

    Attributes:
        classifier, backbone: class names of the video classifier and of the bare encoder.
        config: the config class name.
        input_name: the forward's keyword for the (B, T, 3, H, W) clip.
        embed, blocks: module paths inside the backbone of the embedding and of the layer list.
        frames_key, size_key: config fields holding the clip length and the square input side.
        mean, std, rescale, offset: the video processor's normalisation, ``(x * rescale - offset - mean) / std``.
        resize: (shortest edge, crop) of the processor: the short side is resized to ``crop * a // b``.
        free_frames: the model accepts any clip length (rotary positions), not only its config's.
    """

    config: str
    classifier: str
    backbone: str
    input_name: str
    embed: str
    blocks: str
    frames_key: str
    size_key: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale: float = 1 / 255
    offset: float = 0.0
    resize: tuple[int, int] = (1, 1)
    free_frames: bool = False


#: Supported model types (the installed transformers must provide them; all four are in 5.23.0).
HF_MODELS: dict[str, HFModelType] = {
    # VideoMAEVideoProcessor's class default is IMAGENET_STANDARD (0.5), but VideoMAEForPreTraining.forward
    # un-normalises its input with IMAGENET_DEFAULT_MEAN/STD: the statistics the model is trained with.
    "videomae": HFModelType(
        "VideoMAEConfig",
        "VideoMAEForVideoClassification",
        "VideoMAEModel",
        "pixel_values",
        "embeddings",
        "encoder.layer",
        "num_frames",
        "image_size",
        *_IMAGENET_DEFAULT,
    ),
    # TimesformerVideoProcessor: IMAGENET_DEFAULT_MEAN/STD, shortest edge 224, crop 224.
    "timesformer": HFModelType(
        "TimesformerConfig",
        "TimesformerForVideoClassification",
        "TimesformerModel",
        "pixel_values",
        "embeddings",
        "encoder.layer",
        "num_frames",
        "image_size",
        *_IMAGENET_DEFAULT,
    ),
    # VivitVideoProcessor: rescale 1/127.5 with offset (x / 127.5 - 1), then IMAGENET_STANDARD (0.5, 0.5),
    # shortest edge 256, crop 224.
    "vivit": HFModelType(
        "VivitConfig",
        "VivitForVideoClassification",
        "VivitModel",
        "pixel_values",
        "embeddings",
        "layers",
        "num_frames",
        "image_size",
        *_IMAGENET_STANDARD,
        1 / 127.5,
        1.0,
        (256, 224),
    ),
    # VJEPA2VideoProcessor: IMAGENET_DEFAULT_MEAN/STD, shortest edge int(crop * 256 / 224), crop 256. Its
    # RoPE attention takes any clip length (VJEPA2Config: frames_per_clip "does not impact inference").
    "vjepa2": HFModelType(
        "VJEPA2Config",
        "VJEPA2ForVideoClassification",
        "VJEPA2Model",
        "pixel_values_videos",
        "encoder.embeddings",
        "encoder.layer",
        "frames_per_clip",
        "crop_size",
        *_IMAGENET_DEFAULT,
        resize=(256, 224),
        free_frames=True,
    ),
}

_PROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")


def hidden_states_of(output: Any) -> torch.Tensor:
    """The hidden-state tensor of a layer output: TimeSformer and V-JEPA 2 layers return
    ``(hidden_states, attentions)``, VideoMAE and ViViT layers the tensor itself."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _types() -> str:
    return ", ".join(HF_MODELS)


def _module(model_type: str) -> Any:
    # transformers' image utilities import torchvision, whose CPU wheel needs the _compat fix first.
    return import_optional(f"transformers.models.{model_type}", "huggingface", INSTALL, ensure_torchvision)


def _model_type_of(model: nn.Module) -> str | None:
    """``videomae`` for a ``transformers.models.videomae.*`` module, None for other classes."""
    parts = type(model).__module__.split(".")
    if len(parts) >= 3 and parts[:2] == ["transformers", "models"] and parts[2] in HF_MODELS:
        return parts[2]
    return None


def _side(value: Any, what: str) -> int:
    """A square side from an int or an (h, w) pair; non-square inputs are refused (centre crops are square)."""
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ValueError(f"{what} {list(value)} is not square; the sdinterp clip preprocessor crops squares")
        value = value[0]
    return int(value)


def _patch(cfg: Any) -> tuple[int, int]:
    """(temporal, spatial) patch of a config: ViViT's ``tubelet_size`` is (t, h, w); VideoMAE's and
    V-JEPA 2's an int beside ``patch_size``; TimeSformer embeds each frame on its own."""
    tubelet = getattr(cfg, "tubelet_size", 1)
    if isinstance(tubelet, (list, tuple)):
        return int(tubelet[0]), _side(tubelet[1:], "tubelet_size")
    return int(tubelet), _side(cfg.patch_size, "patch_size")


def _processor_stats(folder: Path, spec: HFModelType, model_type: str) -> tuple[Any, Any, float, float]:
    """mean, std, rescale and offset from a processor saved beside the model (local JSON), else the
    processor class defaults of :data:`HF_MODELS`."""
    for name in _PROCESSOR_FILES:
        path = folder / name
        if path.is_file():
            p = json.loads(path.read_text())
            rescale = float(p.get("rescale_factor", spec.rescale)) if p.get("do_rescale", True) else 1.0
            # ViViT's processors subtract 1 after rescaling (VivitImageProcessor(offset=True)).
            offset = 1.0 if model_type == "vivit" and p.get("do_rescale", True) and p.get("offset", True) else 0.0
            if not p.get("do_normalize", True):
                return (0.0,) * 3, (1.0,) * 3, rescale, offset
            return p.get("image_mean", spec.mean), p.get("image_std", spec.std), rescale, offset
    return spec.mean, spec.std, spec.rescale, spec.offset


def _clip_stats(mean: Sequence[float], std: Sequence[float], rescale: float, offset: float) -> tuple[tuple, tuple]:
    """ClipPreprocessor's ``(x / 255 - M) / S`` equal to the processor's ``(x * rescale - offset - mean) / std``:
    ``S = std / (255 rescale)``, ``M = (offset + mean) / (255 rescale)`` (ViViT: M = 0.75, S = 0.25)."""
    k = 255.0 * rescale
    m3, s3 = [list(map(float, v)) * (3 if len(v) == 1 else 1) for v in (mean, std)]  # a processor may give one value
    return tuple((offset + m) / k for m in m3), tuple(s / k for s in s3)


def _clip_for(cfg: Any, model_type: str, options: dict[str, Any], stats: tuple | None = None) -> ClipPreprocessor:
    """The clip a model of config ``cfg`` takes: the config's frames and side; other sizes are refused
    (the position embeddings are built for them), except V-JEPA 2's clip length."""
    spec = HF_MODELS[model_type]
    native_t, side = int(getattr(cfg, spec.frames_key)), _side(getattr(cfg, spec.size_key), spec.size_key)
    for key in ("num_frames", "crop_size", "short_side"):  # 0 must not read as "not given"
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"{key} must be a positive integer, got {value!r}")

    def given(key: str, default: int) -> int:
        return int(options[key]) if options.get(key) is not None else default

    frames, crop = given("num_frames", native_t), given("crop_size", side)
    rebuild = f"build it from its config (hf:{model_type}) with the options instead"
    if crop != side:
        raise ValueError(
            f"this {model_type} model takes {side}x{side} frames ({spec.size_key}={side}); "
            f"crop_size={crop} would need other position embeddings: {rebuild}"
        )
    if frames != native_t and not spec.free_frames:
        raise ValueError(
            f"this {model_type} model takes {native_t} frames ({spec.frames_key}={native_t}); "
            f"num_frames={frames} would need other temporal embeddings: {rebuild}"
        )
    t, s = _patch(cfg)
    if frames % t or crop % s:
        raise ValueError(
            f"{model_type}: num_frames={frames} must be a multiple of the tubelet length {t} and "
            f"crop_size={crop} of the patch size {s} (else frames or pixels are dropped)"
        )
    if (options.get("mean") is None) != (options.get("std") is None):
        raise ValueError("give both mean and std, or neither")
    if options.get("mean") is not None:  # user statistics, on the [0, 1] scale
        mean, std = _clip_stats(options["mean"], options["std"], 1 / 255, 0.0)
    else:
        mean, std = _clip_stats(*(stats or (spec.mean, spec.std, spec.rescale, spec.offset)))
    return ClipPreprocessor(frames, crop, given("short_side", crop * spec.resize[0] // spec.resize[1]), mean, std)


class HuggingFaceVideoAdapter(VideoClipAdapter):
    """Names the layers of a ``transformers`` video model and feeds it (B, T, 3, H, W) clips.

    Args:
        model: a VideoMAE, TimeSformer, ViViT or V-JEPA 2 classifier (``*ForVideoClassification``) or
            backbone (``*Model``).
        clip: the preprocessing (:func:`build_huggingface` derives it from the config and processor).
        source: where the weights come from, for :meth:`describe` (``"random init"``, a folder, a file).

    Examples:
        >>> from transformers import TimesformerConfig, TimesformerModel                  # doctest: +SKIP
        >>> model = TimesformerModel(TimesformerConfig(num_frames=4, image_size=64))      # doctest: +SKIP
        >>> HuggingFaceVideoAdapter(model, ClipPreprocessor(4, 64)).layers()["block11"].module     # doctest: +SKIP
        'encoder.layer.11'
    """

    family = "huggingface"
    device_frames = True  # prepare reshapes pathway_tensors, on the frames' device
    default_pooling = "tokens"
    model: Any  # a transformers model: its config and layer lists are reached by name

    def __init__(self, model: nn.Module, clip: ClipPreprocessor, source: str = "model object"):
        super().__init__(model, clip)
        model_type = _model_type_of(model)
        name = type(model).__name__
        if model_type is None or name not in (HF_MODELS[model_type].classifier, HF_MODELS[model_type].backbone):
            raise UnsupportedModelError(
                f"the huggingface adapter drives the video classifiers and backbones of {_types()}, not {name}"
                + (f"; load {HF_MODELS[model_type].backbone} from the same weights instead" if model_type else "")
            )
        self.model_type, self.source, self.spec = model_type, source, HF_MODELS[model_type]
        # A classifier holds its backbone under base_model_prefix (``videomae.``); a backbone is the model.
        base = getattr(model, "base_model", model)
        self.prefix = "" if base is model else f"{model.base_model_prefix}."
        # VJEPA2Model also runs its predictor (a second network) unless told not to; its classifier skips it.
        self._extra = {"skip_predictor": True} if name == "VJEPA2Model" else {}
        self._layers = self._build_layers()

    def _build_layers(self) -> dict[str, LayerInfo]:
        width = int(self.model.config.hidden_size)
        blocks = self.model.get_submodule(self.prefix + self.spec.blocks)
        out = {
            "embed": LayerInfo("embed", self.prefix + self.spec.embed, width, "rgb", "tokens", select=hidden_states_of)
        }
        # blockK is the layer list's item K, numbered from 0 as every other adapter's transformer blocks.
        for k in range(len(blocks)):
            path = f"{self.prefix}{self.spec.blocks}.{k}"
            out[f"block{k}"] = LayerInfo(f"block{k}", path, width, "rgb", "tokens", select=hidden_states_of)
        return out

    def layers(self) -> dict[str, LayerInfo]:
        return dict(self._layers)

    def prepare(self, samples: Sequence[Sample]) -> torch.Tensor:
        """(B, T, 3, H, W): the layout of ``pixel_values`` in every supported model's forward."""
        return super().prepare(samples).permute(0, 2, 1, 3, 4).contiguous()

    def forward(self, inputs: Any) -> Any:
        """Call the model with the clip under its keyword (``pixel_values`` or V-JEPA 2's ``pixel_values_videos``)."""
        if isinstance(inputs, dict):
            return self.model(**inputs)
        return self.model(**{self.spec.input_name: inputs}, **self._extra)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model_type": self.model_type,
            "source": self.source,
            "num_frames": self.clip.num_frames,
            "crop_size": self.clip.crop_size,
            "short_side": self.clip.short_side,
            "mean": list(self.clip.mean or ()),
            "std": list(self.clip.std or ()),
        }


_OVERRIDE_SPLIT = re.compile(r",(?![^\[(]*[\])])")  # commas outside [..] and (..): tubelet_size=[2,8,8]


def _parse_overrides(text: str) -> dict[str, Any]:
    """``"hidden_size=64,tubelet_size=[2,8,8]"`` -> ``{"hidden_size": 64, "tubelet_size": [2, 8, 8]}``."""
    out: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in _OVERRIDE_SPLIT.split(text))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"config override {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()  # a plain word, e.g. hidden_act=gelu
    return out


def build_huggingface(
    model: str,
    num_frames: int | None = None,
    crop_size: int | None = None,
    short_side: int | None = None,
    config: dict[str, Any] | None = None,
    weights: str | None = None,
    strict: bool = True,
    trust_weights: bool = False,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> HuggingFaceVideoAdapter:
    """Build a ``transformers`` video model from its config (random weights) or a local folder, and wrap it.

    Args:
        model: a model type (:data:`HF_MODELS`) or a folder written by ``save_pretrained``.
        num_frames, crop_size: clip length and square side. From a config they set the config
            (``num_frames``/``image_size``; V-JEPA 2: ``frames_per_clip``/``crop_size``); a folder's
            model is fixed, so a different size is refused (V-JEPA 2 takes any clip length).
        short_side: short side before the centre crop (default: the processor's ratio, ``crop``
            for VideoMAE/TimeSformer, ``crop * 256 // 224`` for ViViT/V-JEPA 2).
        config: config fields to override (random init only), e.g. ``{"num_hidden_layers": 2}``.
        weights: a local state-dict file of the classifier to load (``.safetensors`` or a torch file).
        strict: strict state-dict loading.
        trust_weights: let a torch weights file be unpickled fully (only files you trust).
        mean, std: normalisation on the [0, 1] scale instead of the processor's.

    Returns:
        A :class:`HuggingFaceVideoAdapter` in eval mode.

    Raises:
        UnsupportedModelError: an unknown model type, or a folder holding another kind of model.
        ValueError: a size the model cannot take, or an unknown config field.

    Examples:
        >>> a = build_huggingface("vivit", num_frames=4, crop_size=32, config={"hidden_size": 32,
        ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "tubelet_size": [2, 8, 8]})
        >>> a.clip.short_side, [round(m, 2) for m in a.clip.mean], [round(s, 2) for s in a.clip.std]
        (36, [0.75, 0.75, 0.75], [0.25, 0.25, 0.25])
    """
    check_weights_options(f"hf:{model}", weights, trust_weights)  # before anything is built
    options = {"num_frames": num_frames, "crop_size": crop_size, "short_side": short_side, "mean": mean, "std": std}
    folder = Path(model)
    if model not in HF_MODELS and (folder.is_dir() or "/" in model or model.startswith(".")):
        return _from_folder(folder, options, config, weights)
    if model not in HF_MODELS:
        raise UnsupportedModelError(
            f"unknown Hugging Face video model type {model!r}; supported: {_types()} (or a local "
            "save_pretrained folder)"
        )
    spec = HF_MODELS[model]
    module = _module(model)
    config_cls = getattr(module, spec.config)
    defaults = config_cls()
    unknown = sorted(k for k in (config or {}) if not hasattr(defaults, k))
    if unknown:
        raise ValueError(f"{spec.config} has no field(s) {', '.join(unknown)}")
    fields = dict(config or {})
    # The clip options are the config's own size: position embeddings are built for exactly that.
    for key, value in ((spec.frames_key, num_frames), (spec.size_key, crop_size)):
        if value is not None:
            fields[key] = int(value)
    cfg = config_cls(**fields)
    clip = _clip_for(cfg, model, options)  # before building: a bad size costs no model
    net = getattr(module, spec.classifier)(cfg)
    if weights:
        load_state_dict_file(net, weights, strict=strict, trusted=trust_weights)
    return HuggingFaceVideoAdapter(net.eval(), clip, source=f"weights {weights}" if weights else "random init")


def _from_folder(
    folder: Path, options: dict[str, Any], config: dict | None, weights: str | None
) -> HuggingFaceVideoAdapter:
    """Load a ``save_pretrained`` folder with ``local_files_only=True`` (nothing is fetched)."""
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(
            f"{folder}: not a folder holding config.json; expected a model type ({_types()}) "
            "or a folder written by save_pretrained"
        )
    if config or weights:
        raise ValueError(
            f"{folder}: config overrides and weights files apply to models built from a config; "
            "the folder already fixes both"
        )
    raw = json.loads(cfg_file.read_text())
    model_type = raw.get("model_type")
    if model_type not in HF_MODELS:
        raise UnsupportedModelError(
            f"{folder} holds a {model_type!r} model; the huggingface adapter supports {_types()}"
        )
    spec, module = HF_MODELS[model_type], _module(model_type)
    cfg = getattr(module, spec.config).from_pretrained(str(folder), local_files_only=True)
    archs = raw.get("architectures") or []
    cls_name = spec.classifier if spec.classifier in archs else spec.backbone
    clip = _clip_for(cfg, model_type, options, _processor_stats(folder, spec, model_type))
    # float32 whatever the saved dtype: half-precision layers do not all run on CPU, and scores are float32.
    net = getattr(module, cls_name).from_pretrained(str(folder), config=cfg, local_files_only=True, dtype=torch.float32)
    return HuggingFaceVideoAdapter(net.eval(), clip, source=str(folder))


_OPTION_KEYS = ("num_frames", "crop_size", "short_side", "config", "weights", "strict", "trust_weights", "mean", "std")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> HuggingFaceVideoAdapter | None:
    """Wrap a built VideoMAE/TimeSformer/ViViT/V-JEPA 2 model (recognised by its class's module, so
    nothing is imported for other models); its config fixes frames and size."""
    model_type = _model_type_of(model) if isinstance(model, nn.Module) else None
    if model_type is None:
        return None
    return HuggingFaceVideoAdapter(model, _clip_for(model.config, model_type, options))


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> HuggingFaceVideoAdapter | None:
    """``hf:TYPE[:KEY=VALUE,...]`` (random init) or ``hf:DIR`` (a local save_pretrained folder)."""
    if not spec.startswith("hf:"):
        return None
    refuse_unknown_options(spec, options, _OPTION_KEYS)  # an option is applied or refused, never dropped
    target = spec[len("hf:") :]
    kwargs = {k: options[k] for k in _OPTION_KEYS if options.get(k) is not None}
    name, sep, extra = target.partition(":")
    if sep and "=" in extra:
        kwargs["config"] = {**_parse_overrides(extra), **kwargs.get("config", {})}
        target = name
    adapter = build_huggingface(target, **kwargs)
    if kwargs.get("weights"):  # what a report records: the file that was loaded
        adapter.model.sdinterp_weights = weights_file_provenance(kwargs["weights"])
    return adapter
