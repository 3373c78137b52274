"""Adapter for MATNet (tfzhou/MATNet ``modules/MATNet.py``) and the fusion/cross study's MATNet
variants (YorkUCVIL/Static-Dynamic-Interpretability ``models/vos_models/MATNet.py``), recognised by
their attribute paths (``docs/method.md`` §8), with the paper's layer names (Sec. 4.1.2):

=====================  ==========================================  ==============================
name                   captured                                    why there
=====================  ==========================================  ==============================
``appearance.stage1``  output of ``conv1_1``                       conv1 before BN (method.md §3)
``appearance.stage2``  output of ``res2_1``                        no cross connection at stage 2
``appearance.stage3``  ``input:res4_1``                            after ``coa_res3``: computed inline,
                                                                   it exists only as res4's input
``appearance.stage4``  ``input:res5_1``                            after ``coa_res4``
``appearance.stage5``  ``input:gated_res5`` (appearance part)      after ``coa_res5``: only the fusion reads it
``motion.stageK``      the same on ``conv1_2``, ``res2_2``, ...    motion half / second input
``fusion2..5``         outputs of ``gated_res2..5``                twice the stream channels
=====================  ==========================================  ==============================

``gated_res5`` takes the two streams concatenated (``fusion_type="gated"``: appearance channels
first) or as two inputs (the study's ``"convex_gated"``); the selector handles both at run time.

The model may be the ``Encoder`` itself (``forward(image, flow)``; the study's ``Encoder.forward(
image, flow, stages)`` is called with no stages) or any module with such an ``.encoder`` (e.g. the
study's ``MATNet(args)``, called as ``model({"Image": image, "Flow": flow}, [])``; another wrapper as
``model(image, flow)``). Input: one image per sample (``Sample.frames``, the first viewed frame) and
its RGB flow (``Sample.flow``), prepared by the shared two-stream input path
(:mod:`sdinterp.adapters.image_flow`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from sdinterp.adapters._clip import module_width
from sdinterp.adapters.common import find_wrapped, has_modules
from sdinterp.adapters.image_flow import (
    CLIP_SIZE_OPTIONS,
    REFERENCE_SIZE,
    TwoStreamAdapter,
    image_flow_options,
    refuse_options,
)
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, ModelAdapter

__all__ = ["MATNetAdapter", "find_matnet_encoder", "StreamPart"]

#: Attributes an object must have to be taken for a MATNet encoder (method.md §8).
ENCODER_ATTRS = (
    *(f"{p}_{s}" for s in (1, 2) for p in ("conv1", "bn1", "relu", "maxpool", "res2", "res3", "res4", "res5")),
    "coa_res3",
    "coa_res4",
    "coa_res5",
    "gated_res2",
    "gated_res3",
    "gated_res4",
    "gated_res5",
)
#: Size of MATNet's own test input (method.md §7).
MATNET_TEST_SIZE = (473, 473)


def _is_encoder(module: Any) -> bool:
    return isinstance(module, nn.Module) and has_modules(module, ENCODER_ATTRS)


def find_matnet_encoder(model: Any) -> str | None:
    """``""`` if ``model`` is a MATNet encoder, ``"encoder"`` if ``model.encoder`` is one, else ``None``."""
    return find_wrapped(model, _is_encoder, "encoder")


def _positional_count(fn: Any) -> int:
    params = inspect.signature(fn).parameters.values()
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


class StreamPart:
    """Selects one stream's features from a fusion module's positional inputs: the ``index``-th
    input when the fusion takes the streams separately, else that part of the channels of the one
    concatenated input (appearance first)."""

    def __init__(self, index: int, channels: int):
        self.index, self.channels = int(index), int(channels)
        self.__name__ = ("appearance" if self.index == 0 else "motion") + "_part"

    def __call__(self, args: tuple) -> torch.Tensor:
        if len(args) >= 2:
            return args[self.index]
        x = args[0]
        return x[:, : self.channels] if self.index == 0 else x[:, self.channels :]


class MATNetAdapter(TwoStreamAdapter):
    """MATNet-structured two-stream encoders with the paper's layer names.

    Args:
        model: a MATNet ``Encoder`` or a module with one as ``.encoder``.
        frame_size: (H, W) the image and flow are resized to (default 480 x 854, the reference
            estimation size, method.md §2; MATNet's own test size is :data:`MATNET_TEST_SIZE`);
            ``None`` keeps the frames' size. Through ``sdinterp.adapt`` an int ``size=S`` means (S, S).
        mean, std: normalisation of image and flow image (ImageNet).
        frame: which frame of each sample's view is the image (default the first).
        flow_max_magnitude: saturation magnitude when a float (u, v) flow is RGB-encoded (``None``:
            per frame).

    Examples:
        >>> from sdinterp import adapt
        >>> adapter = adapt(encoder, frame_size=(473, 473))            # doctest: +SKIP
        >>> adapter.resolve("appearance.stage3").module          # doctest: +SKIP
        'res4_1'
    """

    family = "matnet"

    def __init__(
        self,
        model: nn.Module,
        frame_size: Sequence[int] | None = REFERENCE_SIZE,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        frame: int = 0,
        flow_max_magnitude: float | None = None,
    ):
        prefix = find_matnet_encoder(model)
        if prefix is None:
            missing = [a for a in ENCODER_ATTRS if not hasattr(model, a)]
            raise ValueError(
                f"{type(model).__name__} is not a MATNet encoder (missing {missing[:4]}...) and has no .encoder that is"
            )
        super().__init__(model, frame_size, mean, std, flow_max_magnitude, frame)
        self.prefix = prefix
        self.encoder = model.get_submodule(prefix) if prefix else model
        self._study_encoder = _positional_count(self.encoder.forward) >= 3
        self._layers = self._build_layers()

    def _path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def _build_layers(self) -> dict[str, LayerInfo]:
        enc = self.encoder
        out: dict[str, LayerInfo] = {}
        widths: dict[tuple[str, int], int | None] = {}
        for s, stream in ((1, "appearance"), (2, "motion")):
            widths[(stream, 1)] = int(getattr(enc, f"conv1_{s}").out_channels)
            for k in (2, 3, 4, 5):
                widths[(stream, k)] = module_width(getattr(enc, f"res{k}_{s}"))
            where: dict[int, tuple[str, Literal["output", "input"], StreamPart | None]] = {
                1: (f"conv1_{s}", "output", None),
                2: (f"res2_{s}", "output", None),
                3: (f"res4_{s}", "input", None),
                4: (f"res5_{s}", "input", None),
                5: ("gated_res5", "input", StreamPart(s - 1, widths[("appearance", 5)] or 0)),
            }
            for k, (module, kind, select) in where.items():
                out[f"{stream}.stage{k}"] = LayerInfo(
                    name=f"{stream}.stage{k}",
                    module=self._path(module),
                    channels=widths[(stream, k)],
                    stream=stream,
                    where=kind,
                    select=select,
                    stride=(2, 4, 8, 16, 32)[k - 1],
                )
        for k in (2, 3, 4, 5):
            a, m = widths[("appearance", k)], widths[("motion", k)]
            out[f"fusion{k}"] = LayerInfo(
                name=f"fusion{k}",
                module=self._path(f"gated_res{k}"),
                channels=(a + m) if a and m else None,
                stream="fused",
                stride=(4, 8, 16, 32)[k - 2],
            )
        order = [f"{st}.stage{k}" for st in ("appearance", "motion") for k in range(1, 6)] + [
            f"fusion{k}" for k in (2, 3, 4, 5)
        ]
        return {n: out[n] for n in order}

    def layers(self) -> dict[str, LayerInfo]:
        """``appearance.stage1..5``, ``motion.stage1..5``, ``fusion2..5`` (see the module docstring)."""
        return dict(self._layers)

    def resolve(self, name: str) -> LayerInfo:
        """As :meth:`ModelAdapter.resolve`, except that a raw path such as ``input:gated_res5`` means the
        module's whole first input, not the stream part a canonical layer selects from it."""
        if name in self._layers:
            return self._layers[name]
        info = super().resolve(name)
        return dataclasses.replace(info, select=None, channels=None) if info.select is not None else info

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> Any:
        image, flow = inputs
        if not self.prefix:
            return self.model(image, flow, []) if self._study_encoder else self.model(image, flow)
        if self._study_encoder:  # the study's MATNet(args).forward(x, stage)
            return self.model({"Image": image, "Flow": flow}, [])
        return self.model(image, flow)

    def describe(self) -> dict[str, Any]:
        # ModelAdapter's entries, then the encoder, then the shared input settings (the order reports had)
        return {
            **ModelAdapter.describe(self),
            "encoder": self.prefix or "(model)",
            **self.preprocessor.describe(),
            "frame": self.frame,
            "input": "image = Sample.frames[view], flow = Sample.flow (RGB-encoded; float (u, v) is encoded)",
        }


_OPTIONS = ("frame_size", "mean", "std", "flow_max_magnitude", "frame")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """A MATNet encoder, or a module whose ``.encoder`` is one."""
    if find_matnet_encoder(model) is None:
        return None
    refuse_options(options, CLIP_SIZE_OPTIONS, "MATNet (one image and its flow per sample; set frame_size)")
    return MATNetAdapter(model, **image_flow_options(options, _OPTIONS))
