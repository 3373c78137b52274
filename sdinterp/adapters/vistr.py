"""Adapter for VisTR (Epiphqny/VisTR ``models/vistr.py``, ``transformer.py``, ``segmentation.py``),
recognised by its attribute paths (``docs/method.md`` §8), with the paper's layers 1-12 (Sec. 4.1.3):

==================  ================================================  ===========================
name                captured                                          pooling
==================  ================================================  ===========================
``encoder1..6``     outputs of ``[vistr.]transformer.encoder.layers[0..5]``  mean over the T·h·w tokens
                                                                      that are not padding
``decoder1..6``     outputs of ``[vistr.]transformer.decoder.layers[0..5]``  mean over the queries,
                                                                      before ``decoder.norm``
==================  ================================================  ===========================

Tokens are sequence-first, (L, B, d_model) (``tokens_seq_first``, method.md §3). The encoder's
padding mask (``src_key_padding_mask``, True on padded positions) is read from the call of
``transformer.encoder`` during each forward, so padded positions are left out of the token mean.

The model may be a ``VisTRsegm`` (with ``.vistr``) or a ``VisTR``. **One clip per forward**: VisTRsegm
takes batch 1, so the adapter calls the model once per sample (pooling through
:class:`~sdinterp.adapters._per_sample.PerSampleRows`). Input: the clip's ``num_frames`` frames
(``model.num_frames``, 36 for the published models) **consecutive** from the sample's first frame,
cycled when the sample is shorter — as ``inference.py`` (Epiphqny/VisTR@445c9e4, lines 184-193)
takes ``file_names[:num_frames]``, repeating the video when it has fewer frames — so give samples of
``num_frames`` frames (``--clip-length 36``); a longer sample contributes only its first
``num_frames``. The short side is resized to 300 with no cap on the long side and ImageNet
normalisation is applied, as ``inference.py``'s ``T.Resize(300)`` (the ``max_size=540`` cap is in
the *train* transform, ``datasets/ytvos.py``); the frames are fed as a (T, 3, H, W) tensor, which
VisTR's forward turns into a NestedTensor with no padding. Set ``short_side`` for other sizes. Pairs
follow the clip protocol (``frame_shuffle`` / ``restyle``, method.md §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from sdinterp.adapters._clip import IMAGENET_MEAN, IMAGENET_STD, ClipPreprocessor
from sdinterp.adapters._per_sample import PerSampleRows, PerSampleState, run_each
from sdinterp.adapters.common import find_wrapped, has_modules, refuse_options
from sdinterp.capture import pool
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, ModelAdapter, Sample

__all__ = ["VisTRAdapter", "find_vistr", "masked_token_mean"]

_VISTR_ATTRS = ("backbone", "input_proj", "query_embed", "transformer")


def _is_vistr(module: Any) -> bool:
    if not isinstance(module, nn.Module) or not has_modules(module, _VISTR_ATTRS):
        return False
    t = module.transformer
    enc, dec = getattr(t, "encoder", None), getattr(t, "decoder", None)
    return (
        isinstance(getattr(enc, "layers", None), nn.ModuleList)
        and isinstance(getattr(dec, "layers", None), nn.ModuleList)
        and hasattr(module, "num_frames")
    )


def find_vistr(model: Any) -> str | None:
    """``""`` if ``model`` is a VisTR, ``"vistr"`` if ``model.vistr`` is one (VisTRsegm), else ``None``."""
    return find_wrapped(model, _is_vistr, "vistr")


def masked_token_mean(tokens: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    """(L, B, C) sequence-first tokens -> (B, C), averaging only positions where ``padding`` (B, L) is False.

    Examples:
        >>> x = torch.tensor([[[1.0]], [[3.0]], [[100.0]]])        # L = 3, B = 1, C = 1
        >>> masked_token_mean(x, torch.tensor([[False, False, True]])).tolist()
        [[2.0]]
    """
    if padding is None:
        return tokens.float().mean(dim=0)
    keep = (~padding.bool()).t().unsqueeze(-1).to(tokens.dtype)  # (L, B, 1)
    count = keep.sum(dim=0).clamp_min(1.0)
    return ((tokens * keep).sum(dim=0) / count).float()


class VisTRAdapter(ModelAdapter):
    """VisTR / VisTRsegm with the paper's encoder and decoder layers, one clip per forward.

    Args:
        model: a ``VisTRsegm`` or ``VisTR``.
        num_frames: frames per clip (default ``model.num_frames``; the model's own value is the only one
            its reshapes accept).
        short_side: the frames' short side after resizing (300, as VisTR's test transform).
        mean, std: normalisation (ImageNet).

    Examples:
        >>> adapter = VisTRAdapter(vistr_segm)                     # doctest: +SKIP
        >>> adapter.resolve("encoder1").module                     # doctest: +SKIP
        'vistr.transformer.encoder.layers.0'
    """

    family = "vistr"
    device_frames = True  # prepare is ClipPreprocessor.clip_tensor, on the frames' device
    default_pooling = "tokens_seq_first"

    def __init__(
        self,
        model: nn.Module,
        num_frames: int | None = None,
        short_side: int | None = 300,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__(model)
        prefix = find_vistr(model)
        if prefix is None:
            raise ValueError(f"{type(model).__name__} has neither VisTR's attribute paths nor a .vistr that has them")
        self.prefix = prefix
        # VisTR (the public repository's code, untyped here): its parts are reached by name.
        self.vistr: Any = cast(Any, model.get_submodule(prefix) if prefix else model)
        native = int(self.vistr.num_frames)
        if num_frames is not None and int(num_frames) != native:
            raise ValueError(
                f"num_frames={num_frames}: this VisTR was built for {native} frames per clip and takes no other"
            )
        self.clip = ClipPreprocessor(native, None, short_side, tuple(mean or IMAGENET_MEAN), tuple(std or IMAGENET_STD))
        self.state = PerSampleState()
        self._padding: torch.Tensor | None = None
        self._layers = self._build_layers()

    def _path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def _rows(self, reduce: Any, name: str) -> PerSampleRows:
        return PerSampleRows(reduce, self.state, f"{name}_per_clip")

    def _build_layers(self) -> dict[str, LayerInfo]:
        t = self.vistr.transformer
        width = int(getattr(t, "d_model", 0)) or None
        out: dict[str, LayerInfo] = {}
        for k in range(len(t.encoder.layers)):
            out[f"encoder{k + 1}"] = LayerInfo(
                name=f"encoder{k + 1}",
                module=self._path(f"transformer.encoder.layers.{k}"),
                channels=width,
                stream="encoder",
                pooling=self._rows(lambda x: masked_token_mean(x, self._padding), f"encoder{k + 1}"),
                call="all",
            )
        for k in range(len(t.decoder.layers)):
            out[f"decoder{k + 1}"] = LayerInfo(
                name=f"decoder{k + 1}",
                module=self._path(f"transformer.decoder.layers.{k}"),
                channels=width,
                stream="decoder",
                pooling=self._rows(lambda x, n=f"decoder{k + 1}": pool(x, "tokens_seq_first", n), f"decoder{k + 1}"),
                call="all",
            )
        return out

    def layers(self) -> dict[str, LayerInfo]:
        """``encoder1..6`` and ``decoder1..6`` (see the module docstring)."""
        return dict(self._layers)

    def resolve(self, name: str) -> LayerInfo:
        """As :meth:`ModelAdapter.resolve`; a raw module path is pooled per clip too: sequence-first
        tokens by their mean, (T, C, h, w) backbone maps by the mean over frames and space."""
        info = super().resolve(name)
        if name in self._layers:
            return info

        def reduce(x: torch.Tensor) -> torch.Tensor:
            # transformer tokens are (L, 1, C); backbone maps are (T, C, h, w): average the frames' rows
            rows = pool(x, "tokens_seq_first" if x.dim() == 3 else "channels_first", name)
            return rows.mean(dim=0, keepdim=True)

        return LayerInfo(
            name=info.name,
            module=info.module,
            channels=info.channels,
            stream=info.stream,
            where=info.where,
            select=info.select,
            pooling=self._rows(reduce, name),
            call="all",
        )

    def views(self, sample: Sample) -> Sample:
        """One view of ``num_frames`` consecutive frames from the first, cycled when the sample is
        shorter (as VisTR's ``inference.py`` builds a clip; see the module docstring)."""
        if sample.views is not None:
            return sample
        frames = self.clip.num_frames
        assert frames is not None  # __init__ sets it from the model
        return sample.replace(views=(np.arange(frames, dtype=np.int64) % sample.num_frames,))

    def prepare(self, samples: Sequence[Sample]) -> list[torch.Tensor]:
        """One (T, 3, H, W) frame tensor per sample (the frames are VisTR's backbone batch)."""
        if not samples:
            raise ValueError("prepare() needs at least one sample")
        return [self.clip.clip_tensor(s.view_frames(0)).permute(1, 0, 2, 3).contiguous() for s in samples]

    def forward(self, inputs: Sequence[Any]) -> list[Any]:
        """Run the model once per clip, reading the encoder's padding mask of each forward."""

        def keep_mask(_module: nn.Module, _args: tuple, kwargs: dict) -> None:
            self._padding = kwargs.get("src_key_padding_mask")

        handle = self.vistr.transformer.encoder.register_forward_pre_hook(keep_mask, with_kwargs=True)
        try:
            return run_each(self.state, list(inputs), self.model)
        finally:
            handle.remove()
            self._padding = None

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "frames_per_clip": self.clip.num_frames,
            "short_side": self.clip.short_side,
            "mean": list(self.clip.mean or ()),
            "std": list(self.clip.std or ()),
            "samples_per_forward": 1,
            "note": "VisTRsegm takes one clip per forward: the model is run once per sample",
        }


_OPTIONS = ("num_frames", "short_side", "mean", "std")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """A VisTR or VisTRsegm (recognised by its attribute paths)."""
    if find_vistr(model) is None:
        return None
    refuse_options(options, ("crop_size", "size"), "VisTR (it takes whole frames; set short_side)")
    return VisTRAdapter(model, **{k: v for k, v in options.items() if k in _OPTIONS})
