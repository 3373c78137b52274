"""Adapters of two-stream (image, flow) segmentation models.

:class:`TwoStreamAdapter` holds the input convention every two-stream adapter shares (MATNet,
RTNet, FusionSeg and the trainable family): a :class:`~sdinterp.interfaces.Sample` carries the
image as ``frames`` and the optical flow as ``flow`` (uint8 RGB-encoded, or float (u, v), which is
encoded with the Middlebury colour wheel); the adapter takes one frame per sample (the first of its
view), resizes image and flow alike, normalises both with the ImageNet statistics (the reference
normalises the flow image too, ``docs/method.md`` §2) and calls ``model(image, flow)``.

:class:`TwoStreamFamilyAdapter` names the layers of
:class:`~sdinterp.plugins.twostream.model.TwoStreamAVOS` and
:class:`~sdinterp.plugins.twostream.fusionseg.FusionSegMod` with the paper's names:
``appearance.stage1..5``, ``motion.stage1..5`` (stage 1 = ``conv1`` before BN; stages 3–5 after any
cross connection, method.md §3) and ``fusion2..5``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdinterp.interfaces import LayerInfo, ModelAdapter, Sample

__all__ = ["TwoStreamAdapter", "TwoStreamFamilyAdapter", "IMAGENET_MEAN", "IMAGENET_STD", "REFERENCE_SIZE"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: (H, W) the reference resizes Stylized-DAVIS frames and flow to (method.md §2).
REFERENCE_SIZE = (480, 854)


class TwoStreamAdapter(ModelAdapter):
    """Base adapter for ``model(image, flow)`` networks; subclasses implement :meth:`layers`.

    Args:
        model: the two-stream network.
        frame_size: (H, W) every image and flow is resized to (bilinear, antialiased), or ``None``
            to keep the frames' size. The reference uses 480 × 854.
        mean, std: per-channel normalisation of image and flow after dividing by 255.
        flow_max_magnitude: magnitude shown fully saturated when a float (u, v) flow is encoded
            (``None``: each frame's own maximum; see :func:`sdinterp.data.flow.flow_to_rgb`).

    Examples:
        >>> adapter = TwoStreamFamilyAdapter(model, frame_size=(64, 64))   # doctest: +SKIP
        >>> image, flow = adapter.prepare([adapter.views(s) for s in samples])   # doctest: +SKIP
    """

    family = "twostream"

    def __init__(
        self,
        model: nn.Module,
        frame_size: tuple[int, int] | None = REFERENCE_SIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        flow_max_magnitude: float | None = None,
    ):
        super().__init__(model)
        if frame_size is not None:
            frame_size = (int(frame_size[0]), int(frame_size[1]))
            if min(frame_size) < 1:
                raise ValueError(f"frame_size must be two positive integers (H, W), got {frame_size}")
        self.frame_size = frame_size
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        self.flow_max_magnitude = flow_max_magnitude

    # -- input --------------------------------------------------------------------------------
    def views(self, sample: Sample) -> Sample:
        """One view holding the sample's first frame (a two-stream model reads one frame and its
        flow); a view already set is kept and its first index is the frame used."""
        if sample.views is not None:
            return sample
        return sample.replace(views=(np.zeros(1, dtype=np.int64),))

    @staticmethod
    def frame_index(sample: Sample) -> int:
        return int(sample.view_indices()[0][0])

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
        if self.frame_size is not None and tuple(x.shape[-2:]) != self.frame_size:
            x = F.interpolate(x, size=self.frame_size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(1, 3, 1, 1) * 255.0
        return ((x - mean) / std)[0]

    def flow_image(self, sample: Sample) -> np.ndarray:
        """The RGB-encoded flow (H, W, 3) uint8 of the sample's frame."""
        if sample.flow is None:
            raise ValueError(
                f"video {sample.video_id!r} has no flow: two-stream models take (image, flow) samples "
                "(build them with sdinterp.plugins.twostream.data.TwoStreamFrames, which computes and caches flow)"
            )
        flow = np.asarray(sample.flow[self.frame_index(sample)])
        if flow.shape[-1] == 2:
            from sdinterp.data.flow import flow_to_rgb

            return flow_to_rgb(flow, self.flow_max_magnitude)
        if flow.dtype != np.uint8 or flow.shape[-1] != 3:
            raise ValueError(f"flow of video {sample.video_id!r} must be uint8 RGB (H, W, 3) or float (u, v), got {flow.dtype} {flow.shape}")
        return flow

    def prepare(self, samples: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image, flow)``, each (B, 3, H, W), normalised alike."""
        if not samples:
            raise ValueError("prepare() needs at least one sample")
        images = [self._tensor(s.frames[self.frame_index(s)]) for s in samples]
        flows = [self._tensor(self.flow_image(s)) for s in samples]
        shapes = {tuple(t.shape) for t in images + flows}
        if len(shapes) != 1:
            raise ValueError(f"images and flows of one batch differ in size ({sorted(shapes)}); set frame_size so they are resized alike")
        return torch.stack(images), torch.stack(flows)

    def forward(self, inputs: Any) -> Any:
        image, flow = inputs
        return self.model(image, flow)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "frame_size": list(self.frame_size) if self.frame_size else None,
                "mean": list(self.mean), "std": list(self.std), "flow_max_magnitude": self.flow_max_magnitude}


class TwoStreamFamilyAdapter(TwoStreamAdapter):
    """The paper's layer names for :class:`TwoStreamAVOS` and :class:`FusionSegMod` (any model with
    ``appearance`` / ``motion`` :class:`ResNetStream` s, optional ``cross{k}`` modules returning
    ``(appearance, motion)`` and ``fusion{k}`` modules with ``out_channels``).

    Examples:
        >>> list(TwoStreamFamilyAdapter(net).layers())[:3]                 # doctest: +SKIP
        ['appearance.stage1', 'appearance.stage2', 'appearance.stage3']
    """

    family = "twostream"

    def layers(self) -> dict[str, LayerInfo]:
        model = self.model
        widths = model.appearance.stage_channels
        out: dict[str, LayerInfo] = {}
        for index, stream in enumerate(("appearance", "motion")):
            out[f"{stream}.stage1"] = LayerInfo(f"{stream}.stage1", f"{stream}.conv1", widths[1], stream, stride=2)
            for k in range(2, 6):
                name = f"{stream}.stage{k}"
                if hasattr(model, f"cross{k}"):
                    out[name] = LayerInfo(name, f"cross{k}", widths[k], stream, select=index, stride=2 ** k)
                else:
                    out[name] = LayerInfo(name, f"{stream}.layer{k - 1}", widths[k], stream, stride=2 ** k)
        for k in range(2, 6):
            fusion = getattr(model, f"fusion{k}", None)
            if fusion is not None:
                out[f"fusion{k}"] = LayerInfo(f"fusion{k}", f"fusion{k}", int(fusion.out_channels), "fused", stride=2 ** k)
        return out

    def describe(self) -> dict[str, Any]:
        m = self.model
        return {**super().describe(), "fusion": getattr(m, "fusion_name", None), "cross": getattr(m, "cross_name", None),
                "depth": m.appearance.depth, "width": m.appearance.width}
