"""Adapter for RTNet (OliverRensu/RTNet ``model_RX50/interactive.py`` and ``model_R34/interactive.py``,
and the study's copy in YorkUCVIL/Static-Dynamic-Interpretability), recognised by its attribute paths
(``docs/method.md`` §8), with the paper's layer names (Sec. 4.1.2; ``spatial_net`` = appearance,
``temporal_net`` = motion):

=====================  ===========================================  =================================
name                   captured                                     why there
=====================  ===========================================  =================================
``appearance.stage1``  output of ``spatial_net.inconv.0``           conv1 before BN (first call)
``appearance.stage2``  ``input:spatial_net.encoder2``               level-1 features after the
                                                                    interaction modules: computed inline
``appearance.stage3``  ``input:spatial_net.encoder3``               after level 2
``appearance.stage4``  ``input:spatial_net.encoder4``               after level 3
``appearance.stage5``  ``input:spatial_net.dilation0``              after level 4
``motion.stageK``      the same paths in ``temporal_net``
``fusion2..4``         outputs of ``Transformerstafm1..3``          STAFM 1-3 (method.md §3)
``fusion5``            output of ``spatial_net.decoder4``           the paper's "fusion 5"
=====================  ===========================================  =================================

**Two variants.** RX50 (ResNeXt-50 streams) has ``bridge1..3`` (which feed the STAFMs) and
``dilation0..4``; R34 (ResNet-34 streams, ``model_R34``) has neither ``bridge1..3`` nor
``dilation0``: its STAFMs read the encoder features directly and its level-4 features are the input
of ``dilation1`` (stage 5 = ``input:{spatial,temporal}_net.dilation1``). Any other layout with
RTNet's stream and interaction modules is refused by name (:func:`rtnet_variant`), never handed to
the generic adapter.

**One sample per forward.** RTNet folds its two frames into the batch, ``(2B, C, H, W)``, and after
each level re-stacks them in an order that the next level reads back differently, so samples are
mixed when B > 1. This adapter therefore calls the model once per sample (``B = 1``) and pools
each layer with :class:`~sdinterp.adapters._per_sample.PerSampleRows`; a module that runs more than
once for one sample (the study's copy calls ``inconv[0]`` twice) contributes its first call. Each
layer's (2, C, ...) activation holds the sample's two frames; the current frame's row (the first)
is the sample's features (``frame_pooling="current"``), or the two rows are averaged (``"both"``).

Input: ``Sample.frames`` = (current frame, second frame) — the reference takes the second at an
offset drawn from [-10, 10) — with their forward flow in ``Sample.flow`` and backward flow in
``meta["backward_flow"]`` (RGB-encoded or float (u, v)). Without a backward flow,
``backward_flow="forward"`` feeds the forward flow image twice (an approximation, said in
``describe()``). The model is called as ``model(img, flow, train_flow=False)`` (the temporal
decoder holds no reported layer), or ``model({"Image": img, "Flow": flow}, stages=[])`` for the
study's copy.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from sdinterp.adapters._clip import module_width
from sdinterp.adapters._per_sample import PerSampleRows, PerSampleState, run_each
from sdinterp.adapters.common import has_modules
from sdinterp.adapters.image_flow import (
    CLIP_SIZE_OPTIONS,
    REFERENCE_SIZE,
    TwoStreamAdapter,
    image_flow_options,
    refuse_options,
)
from sdinterp.capture import pool
from sdinterp.errors import UnsupportedModelError
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import LayerInfo, ModelAdapter, Sample

__all__ = ["RTNetAdapter", "is_rtnet", "looks_like_rtnet", "rtnet_variant"]

#: What makes a module RTNet-like: two streams with these, and the interaction / fusion modules.
_CORE_STREAM = ("inconv", "encoder1", "encoder2", "encoder3", "encoder4", "decoder4")
_MODEL_ATTRS = ("Transformerstafm1", "Transformerstafm2", "Transformerstafm3", "SSTransformer1", "STTransformer1")
#: Stream attributes of each published variant beyond the core (docs/segmentation.md).
_VARIANT_ATTRS = {
    "RX50": ("bridge1", "bridge2", "bridge3", "dilation0"),
    "R34": ("dilation1", "dilation2", "dilation3", "dilation4"),
}


def _streams(model: Any) -> list[Any]:
    return [getattr(model, n, None) for n in ("spatial_net", "temporal_net")]


def looks_like_rtnet(model: Any) -> bool:
    """Whether ``model`` has RTNet's streams and interaction modules, whatever its variant."""
    return (
        isinstance(model, nn.Module)
        and has_modules(model, _MODEL_ATTRS)
        and all(isinstance(s, nn.Module) and has_modules(s, _CORE_STREAM) for s in _streams(model))
    )


def rtnet_variant(model: Any) -> str | None:
    """``"RX50"`` (``bridge1..3``, ``dilation0``), ``"R34"`` (neither: the STAFMs read the encoder
    features), or ``None`` when ``model`` is not an RTNet the adapter can name."""
    if not looks_like_rtnet(model):
        return None
    for variant in ("RX50", "R34"):  # RX50 has dilation1..4 too: test it first
        if all(has_modules(s, _VARIANT_ATTRS[variant]) for s in _streams(model)):
            return variant
    return None


def is_rtnet(model: Any) -> bool:
    """Whether ``model`` is an RTNet of a variant this adapter names (RX50 or R34)."""
    return rtnet_variant(model) is not None


class RTNetAdapter(TwoStreamAdapter):
    """RTNet with the paper's layer names, run one sample per forward.

    Args:
        model: an RTNet ``Interactive`` (RX50 or R34, :func:`rtnet_variant`).
        frame_size: (H, W) images and flow images are resized to (default 480 x 854, the reference
            estimation size; RTNet's own test size is 384 x 672); ``None`` keeps their size.
        mean, std: normalisation of images and flow images (ImageNet).
        frame_pooling: ``"current"`` (the first frame's row) or ``"both"`` (mean of the two frames).
        backward_flow: ``"meta"`` reads ``meta["backward_flow"]``; ``"forward"`` reuses the forward flow.
        flow_max_magnitude: saturation magnitude when a float (u, v) flow is RGB-encoded (``None``:
            per frame).

    Examples:
        >>> adapter = RTNetAdapter(rtnet, frame_size=(384, 672))      # doctest: +SKIP
        >>> adapter.resolve("fusion2").module                         # doctest: +SKIP
        'Transformerstafm1'
    """

    family = "rtnet"
    model: Any  # RTNet (the public repository's code, untyped here): its parts are reached by name

    def __init__(
        self,
        model: nn.Module,
        frame_size: Sequence[int] | None = REFERENCE_SIZE,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        frame_pooling: str = "current",
        backward_flow: str = "meta",
        flow_max_magnitude: float | None = None,
    ):
        variant = rtnet_variant(model)
        if variant is None:
            raise ValueError(
                f"{type(model).__name__} does not have RTNet's attribute paths (spatial_net, temporal_net, "
                "Transformerstafm1..3; RX50's bridge1..3/dilation0 or R34's dilation1..4)"
            )
        if frame_pooling not in ("current", "both"):
            raise ValueError(f"frame_pooling must be 'current' or 'both', got {frame_pooling!r}")
        if backward_flow not in ("meta", "forward"):
            raise ValueError(f"backward_flow must be 'meta' or 'forward', got {backward_flow!r}")
        super().__init__(model, frame_size, mean, std, flow_max_magnitude)
        self.variant = variant
        self.frame_pooling, self.backward_flow = frame_pooling, backward_flow
        self.frames_per_sample = 2  # (current, second) frame
        self.needs_backward_flow = backward_flow == "meta"
        self.state = PerSampleState()
        params = inspect.signature(model.forward).parameters
        self._study = "flow" not in params
        self._layers = self._build_layers()

    def _rows(self, pooling: Any, name: str) -> PerSampleRows:
        def reduce(x: torch.Tensor) -> torch.Tensor:
            rows = pool(x, pooling, name)  # (2, C): the sample's two frames
            return rows[:1] if self.frame_pooling == "current" else rows.mean(dim=0, keepdim=True)

        return PerSampleRows(reduce, self.state, f"{name}_per_sample")

    def _info(
        self, name: str, module: str, channels: int | None, stream: str, where: Literal["output", "input"] = "output"
    ) -> LayerInfo:
        return LayerInfo(
            name=name,
            module=module,
            channels=channels,
            stream=stream,
            where=where,
            pooling=self._rows("channels_first", name),
            call="all",
        )

    def _build_layers(self) -> dict[str, LayerInfo]:
        out: dict[str, LayerInfo] = {}
        # stage 5 is the level-4 features: dilation0's input (RX50), or dilation1's (R34 has no dilation0)
        last = "dilation0" if self.variant == "RX50" else "dilation1"
        for net, stream in (("spatial_net", "appearance"), ("temporal_net", "motion")):
            s = getattr(self.model, net)
            out[f"{stream}.stage1"] = self._info(
                f"{stream}.stage1", f"{net}.inconv.0", int(s.inconv[0].out_channels), stream
            )
            for k, target in ((2, "encoder2"), (3, "encoder3"), (4, "encoder4"), (5, last)):
                out[f"{stream}.stage{k}"] = self._info(
                    f"{stream}.stage{k}",
                    f"{net}.{target}",
                    module_width(getattr(s, f"encoder{k - 1}")),
                    stream,
                    "input",
                )
        for k in (1, 2, 3):
            # a STAFM keeps the width of what it reads: the bridge's output (RX50) or the encoder's (R34)
            feeds = f"bridge{k}" if self.variant == "RX50" else f"encoder{k}"
            out[f"fusion{k + 1}"] = self._info(
                f"fusion{k + 1}", f"Transformerstafm{k}", module_width(getattr(self.model.spatial_net, feeds)), "fused"
            )
        out["fusion5"] = self._info(
            "fusion5", "spatial_net.decoder4", module_width(self.model.spatial_net.decoder4), "fused"
        )
        return out

    def layers(self) -> dict[str, LayerInfo]:
        """``appearance.stage1..5``, ``motion.stage1..5``, ``fusion2..5`` (see the module docstring)."""
        return dict(self._layers)

    def resolve(self, name: str) -> LayerInfo:
        """As :meth:`ModelAdapter.resolve`; a raw module path is pooled per sample too."""
        info = super().resolve(name)
        if name in self._layers:
            return info
        base = getattr(self, "default_pooling", "channels_first")
        return LayerInfo(
            name=info.name,
            module=info.module,
            channels=info.channels,
            stream=info.stream,
            where=info.where,
            select=info.select,
            pooling=self._rows(base, name),
            call="all",
        )

    def views(self, sample: Sample) -> Sample:
        """One view of two frames: the first two of the sample (one frame is used twice)."""
        if sample.views is not None:
            return sample
        return sample.replace(views=(np.array([0, min(1, sample.num_frames - 1)], dtype=np.int64),))

    def prepare(self, samples: Sequence[Sample]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One ``(img (1, 2, 3, H, W), flow (1, 2, 6, H, W))`` per sample (forward ⊕ backward flow)."""
        img = self.preprocessor.images(samples)
        fwd = self.preprocessor.flows(samples)
        bwd = fwd if self.backward_flow == "forward" else self._backward(samples)
        flow = torch.cat([fwd, bwd], dim=2)
        return [(img[i : i + 1], flow[i : i + 1]) for i in range(len(samples))]

    def _backward(self, samples: Sequence[Sample]) -> torch.Tensor:
        missing = [s.video_id for s in samples if s.meta.get("backward_flow") is None]
        if missing:
            raise ValueError(
                f"RTNet takes forward and backward flow; video {missing[0]!r} has no meta['backward_flow'] "
                "(give it — TwoStreamFrames(...).for_adapter(adapter) computes it — or build the adapter with "
                "backward_flow='forward' to feed the forward flow twice)"
            )
        return self.preprocessor.flows(samples, key="backward_flow")

    def forward(self, inputs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Any]:
        """Run the model once per sample (see the module docstring)."""
        if self._study:
            return run_each(self.state, list(inputs), lambda x: self.model({"Image": x[0], "Flow": x[1]}, stages=[]))
        return run_each(self.state, list(inputs), lambda x: self.model(x[0], x[1], train_flow=False))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "frame_pooling": self.frame_pooling,
            "backward_flow": self.backward_flow,
            "samples_per_forward": 1,
            "note": "RTNet folds its two frames into the batch and mixes samples when B > 1: the model is run "
            "once per sample",
        }


_OPTIONS = ("frame_size", "mean", "std", "flow_max_magnitude", "frame_pooling", "backward_flow")


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """An RTNet ``Interactive`` (recognised by its attribute paths); an RTNet-like model of a layout
    this adapter cannot name is refused by name, not left to the generic adapter."""
    if not looks_like_rtnet(model):
        return None
    if rtnet_variant(model) is None:
        have = sorted(
            a for a in ("bridge1", "bridge2", "bridge3", "dilation0", "dilation1") if hasattr(model.spatial_net, a)
        )
        raise UnsupportedModelError(
            f"{type(model).__name__} has RTNet's streams and STAFMs but neither the RX50 layout (bridge1..3, "
            "dilation0) nor "
            f"the R34 one (dilation1..4) (its spatial_net has {have or 'none of them'}); name its layers with --layers "
            "module paths through a GenericVideoAdapter subclass (docs/your_model.md)"
        )
    refuse_options(options, CLIP_SIZE_OPTIONS, "RTNet (one image and its flow per sample; set frame_size)")
    return RTNetAdapter(model, **image_flow_options(options, _OPTIONS))
