"""The one (image, flow) input path of every two-stream adapter: MATNet, RTNet, the fusion/cross
study's variants and the trainable ``twostream:`` family.

Convention: a :class:`~sdinterp.interfaces.Sample` of a two-stream model holds the image(s) in
``frames`` and, aligned with them, the optical flow in ``flow`` — RGB-encoded uint8 (T, H, W, 3), as
the ``FlowImages_gap1`` PNGs of Stylized-DAVIS, or float (u, v) (T, H, W, 2), which is encoded with
the Middlebury colour wheel first (:func:`sdinterp.data.flow.flow_to_rgb`). RTNet also takes the
backward flow: ``meta["backward_flow"]``, aligned with the frames the same way.

Preprocessing (:class:`ImageFlowPreprocessor`) follows the reference VOS transform
(``docs/method.md`` §2): image and flow image resized alike to (H, W) (bilinear; antialiased, as the
reference's PIL resize), values / 255, ImageNet mean/std normalisation — **the flow image is
normalised too**. :class:`TwoStreamAdapter` is the base the two-stream adapters share: one viewed
frame per sample, ``model(image, flow)``, the shared options (``frame_size``, ``mean``, ``std``,
``flow_max_magnitude``) and their ``describe()`` entries.

Examples:
    >>> import numpy as np
    >>> from sdinterp.interfaces import Sample
    >>> pre = ImageFlowPreprocessor(frame_size=(8, 8))
    >>> s = Sample(frames=np.zeros((1, 4, 4, 3), np.uint8), flow=np.zeros((1, 4, 4, 2), np.float32))
    >>> s = s.replace(views=(np.array([0]),))
    >>> tuple(pre.images([s]).shape), tuple(pre.flows([s]).shape)
    ((1, 1, 3, 8, 8), (1, 1, 3, 8, 8))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdinterp.adapters._clip import IMAGENET_MEAN, IMAGENET_STD
from sdinterp.adapters.common import refuse_options
from sdinterp.interfaces import ModelAdapter, Sample

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "REFERENCE_SIZE",
    "ImageFlowPreprocessor",
    "TwoStreamAdapter",
    "image_flow_options",
    "refuse_options",
    "rgb_flow",
    "CLIP_SIZE_OPTIONS",
]

#: (H, W) the reference resizes Stylized-DAVIS frames and flow to for estimation (method.md §2).
REFERENCE_SIZE = (480, 854)
#: Clip options a two-stream model has no use for (it reads one image and its flow per sample).
CLIP_SIZE_OPTIONS = ("num_frames", "crop_size", "short_side")


def rgb_flow(
    flow: np.ndarray, video_id: str = "", what: str = "flow", max_magnitude: float | None = None
) -> np.ndarray:
    """Flow as uint8 RGB (..., H, W, 3): RGB flow is returned as is, float (u, v) flow is encoded
    (``max_magnitude``: see :func:`sdinterp.data.flow.flow_to_rgb`; ``None`` normalises per frame).

    Raises:
        ValueError: the flow is neither, naming the video.
    """
    flow = np.asarray(flow)
    if flow.shape[-1] == 3 and flow.dtype == np.uint8:
        return flow
    if flow.shape[-1] == 2 and np.issubdtype(flow.dtype, np.floating):
        from sdinterp.data.flow import flow_to_rgb

        return flow_to_rgb(flow, max_magnitude)
    raise ValueError(
        f"{what} of video {video_id!r} must be uint8 RGB (T, H, W, 3) or float (u, v) (T, H, W, 2), "
        f"got {flow.dtype} {flow.shape}"
    )


@dataclasses.dataclass(frozen=True)
class ImageFlowPreprocessor:
    """How images and RGB flow images become model input.

    Attributes:
        frame_size: (H, W) every image and flow image is resized to (``None`` keeps their size). The
            reference estimation resizes to 480 x 854; MATNet's own test size is 473 x 473.
        mean, std: per-channel normalisation on the [0, 1] scale (ImageNet by default), applied to
            images and flow images alike.
        flow_max_magnitude: magnitude shown fully saturated when a float (u, v) flow is encoded
            (``None``: each frame's own largest magnitude).
    """

    frame_size: tuple[int, int] | None = REFERENCE_SIZE
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    flow_max_magnitude: float | None = None

    def __post_init__(self) -> None:
        if self.frame_size is not None:
            size = tuple(self.frame_size)
            if len(size) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in size):
                raise ValueError(f"frame_size must be two positive integers (H, W), got {self.frame_size!r}")
            object.__setattr__(self, "frame_size", (int(size[0]), int(size[1])))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    def tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, H', W'), resized and normalised."""
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        if self.frame_size is not None and tuple(x.shape[-2:]) != self.frame_size:
            x = F.interpolate(x.float(), size=self.frame_size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(1, 3, 1, 1) * 255.0
        # One float copy straight into (N, 3, H, W), normalised in place: the values of
        # (x.float() - mean) / std, without two more passes and a strided copy in prepare.
        out = torch.empty(x.shape, dtype=torch.float32)
        out.copy_(x)
        return out.sub_(mean).div_(std)

    def images(self, samples: Sequence[Sample], frames: Sequence[int] | None = None) -> torch.Tensor:
        """Each sample's viewed frames: (B, T, 3, H', W') (``frames`` picks positions in the view)."""
        # host frames: this adapter does not declare device_frames, so a run never hands it tensors
        return self._stack([np.asarray(s.frames)[_picked(s, frames)] for s in samples], samples, "frames")

    def flows(
        self, samples: Sequence[Sample], frames: Sequence[int] | None = None, key: str | None = None
    ) -> torch.Tensor:
        """Each sample's flow images at its viewed frames: (B, T, 3, H', W'); ``key`` reads
        ``meta[key]`` (e.g. ``"backward_flow"``) instead of ``Sample.flow``."""
        out = []
        for s in samples:
            flow = s.flow if key is None else s.meta.get(key)
            what = "flow" if key is None else f"meta[{key!r}]"
            if flow is None:
                raise ValueError(
                    f"video {s.video_id!r} has no {what}: two-stream models take (image, flow); compute it with "
                    "sdinterp.data.flow.clip_flow, read flow images (sdinterp.data.flow.read_flow_images), or build "
                    "the samples with the two-stream data tools (TwoStreamFrames), which compute and cache it"
                )
            flow = np.asarray(flow)
            if flow.shape[:3] != s.frames.shape[:3]:
                raise ValueError(f"{what} of video {s.video_id!r} has shape {flow.shape}, frames {s.frames.shape}")
            out.append(rgb_flow(flow[_picked(s, frames)], s.video_id, what, self.flow_max_magnitude))
        return self._stack(out, samples, "flow")

    def describe(self) -> dict[str, Any]:
        """The settings as the adapters' ``describe()`` reports them."""
        return {
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "mean": list(self.mean),
            "std": list(self.std),
            "flow_max_magnitude": self.flow_max_magnitude,
        }

    def _stack(self, arrays: list[np.ndarray], samples: Sequence[Sample], what: str) -> torch.Tensor:
        if not arrays:
            raise ValueError("prepare() needs at least one sample")
        tensors = [self.tensor(a) for a in arrays]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            detail = ", ".join(f"{s.video_id or i}: {a.shape}" for i, (s, a) in enumerate(zip(samples, arrays)))
            raise ValueError(
                f"{what} in one batch must have one shape after resizing; got {detail} (set frame_size=(H, W))"
            )
        return torch.stack(tensors)


def _picked(sample: Sample, frames: Sequence[int] | None) -> np.ndarray:
    view = sample.view_indices()[0]
    return view if frames is None else view[np.asarray(frames, dtype=np.int64)]


class TwoStreamAdapter(ModelAdapter):
    """Base adapter of ``model(image, flow)`` networks; subclasses implement :meth:`layers`.

    One frame per sample (the ``frame``-th of the clip; its flow comes with it), preprocessed by an
    :class:`ImageFlowPreprocessor`. Subclasses that feed more (RTNet: two frames and backward flow)
    override :meth:`views` / :meth:`prepare` / :meth:`forward` and keep the preprocessor.

    Args:
        model: the two-stream network.
        frame_size: (H, W) every image and flow is resized to (bilinear, antialiased), or ``None``
            to keep the frames' size. The reference uses 480 × 854 (:data:`REFERENCE_SIZE`).
        mean, std: per-channel normalisation of image and flow after dividing by 255 (``None``:
            ImageNet).
        flow_max_magnitude: magnitude shown fully saturated when a float (u, v) flow is encoded
            (``None``: each frame's own maximum; see :func:`sdinterp.data.flow.flow_to_rgb`).
        frame: which frame of each sample is the image (default the first).

    Examples:
        >>> adapter = TwoStreamFamilyAdapter(model, frame_size=(64, 64))   # doctest: +SKIP
        >>> image, flow = adapter.prepare([adapter.views(s) for s in samples])   # doctest: +SKIP
    """

    family = "twostream"
    #: Whether :meth:`prepare` makes its tensors contiguous. The preprocessor's tensors keep the
    #: channels-last strides of the (H, W, 3) frames; the convolution kernels chosen differ with the
    #: layout, and so do the last bits of the features. Each family keeps the layout its reports were
    #: made with (MATNet, RTNet: channels-last; the trainable family: contiguous).
    contiguous_input = False
    #: Frames each sample must hold, and whether it needs ``meta["backward_flow"]``: the two-stream
    #: data tools (``TwoStreamFrames.for_adapter``) build samples to match.
    frames_per_sample = 1
    needs_backward_flow = False

    def __init__(
        self,
        model: nn.Module,
        frame_size: Sequence[int] | int | None = REFERENCE_SIZE,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        flow_max_magnitude: float | None = None,
        frame: int = 0,
    ):
        super().__init__(model)
        if isinstance(frame_size, int) and not isinstance(frame_size, bool):
            frame_size = (frame_size, frame_size)  # one number: a square, as --size 128 means
        self.preprocessor = ImageFlowPreprocessor(
            tuple(frame_size) if frame_size is not None else None,  # type: ignore[arg-type]
            tuple(mean) if mean is not None else IMAGENET_MEAN,  # type: ignore[arg-type]
            tuple(std) if std is not None else IMAGENET_STD,  # type: ignore[arg-type]
            flow_max_magnitude,
        )
        self.frame = int(frame)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        return self.preprocessor.frame_size

    def views(self, sample: Sample) -> Sample:
        """One view: the sample's ``frame``-th frame (the image; its flow comes with it). A view
        already set is kept and its first index is the frame used."""
        if sample.views is not None:
            return sample
        if not 0 <= self.frame < sample.num_frames:
            raise ValueError(
                f"frame {self.frame} is out of range for video {sample.video_id!r} with {sample.num_frames} frames"
            )
        return sample.replace(views=(np.array([self.frame], dtype=np.int64),))

    def working_size(self, height: int, width: int) -> tuple[int, int] | None:
        """``frame_size`` where it shrinks frames of (height, width) (no side enlarged): pairs of
        flow-carrying samples are then made at the size the model sees, their flow resized with them
        (docs/method.md, "Pairs at the model's resolution"); ``prepare`` leaves such frames as they are."""
        from sdinterp.data.flow import shrink_size

        return shrink_size(height, width, self.frame_size)

    def prepare(self, samples: Sequence[Sample]) -> Any:
        """``(image (B, 3, H, W), flow (B, 3, H, W))``, both normalised alike (a subclass whose model
        takes another layout, e.g. RTNet's per-sample list, returns that)."""
        image, flow = self.preprocessor.images(samples, [0])[:, 0], self.preprocessor.flows(samples, [0])[:, 0]
        return (image.contiguous(), flow.contiguous()) if self.contiguous_input else (image, flow)

    def forward(self, inputs: Any) -> Any:
        image, flow = inputs
        return self.model(image, flow)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.preprocessor.describe()}


def image_flow_options(options: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The adapter options among ``options``; an int ``size`` (the command line's ``--size``) means a
    square ``frame_size``.

    Examples:
        >>> image_flow_options({"size": 64, "mean": None, "other": 1}, ("frame_size", "mean"))
        {'mean': None, 'frame_size': (64, 64)}
    """
    out = {k: v for k, v in options.items() if k in names}
    if options.get("size") is not None and "frame_size" not in out:
        out["frame_size"] = (int(options["size"]), int(options["size"]))
    return out
