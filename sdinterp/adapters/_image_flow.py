"""Input side of the two-stream (image, flow) segmentation adapters (MATNet, RTNet).

Convention: a :class:`~sdinterp.interfaces.Sample` of a two-stream model holds the image(s) in
``frames`` and, aligned with them, the optical flow in ``flow`` — RGB-encoded uint8 (T, H, W, 3), as
the ``FlowImages_gap1`` PNGs of Stylized-DAVIS, or float (u, v) (T, H, W, 2), which is encoded with
the Middlebury colour wheel first (:func:`sdinterp.data.flow.flow_to_rgb`). RTNet also takes the
backward flow: ``meta["backward_flow"]``, aligned with the frames the same way.

Preprocessing follows the reference VOS transform (``docs/method.md`` §2): resize image and flow
image alike to (H, W) (bilinear; antialiased, as the reference's PIL resize), values / 255, ImageNet
mean/std normalisation — **the flow image is normalised too**.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sdinterp.interfaces import Sample

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImageFlowSpec", "image_flow_options", "refuse_options", "rgb_flow"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def rgb_flow(flow: np.ndarray, video_id: str = "", what: str = "flow", max_magnitude: float | None = None) -> np.ndarray:
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
class ImageFlowSpec:
    """How images and RGB flow images become model input.

    Attributes:
        size: (H, W) every image and flow image is resized to (``None`` keeps their size). The
            reference estimation resizes to 480 x 854; MATNet's own test size is 473 x 473.
        mean, std: per-channel normalisation on the [0, 1] scale (ImageNet by default), applied to
            images and flow images alike.
        flow_max_magnitude: magnitude shown fully saturated when a float (u, v) flow is encoded
            (``None``: each frame's own largest magnitude).
    """

    size: tuple[int, int] | None = (480, 854)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    flow_max_magnitude: float | None = None

    def __post_init__(self) -> None:
        if self.size is not None:
            if len(self.size) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in self.size):
                raise ValueError(f"size must be (height, width) in pixels, got {self.size!r}")
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    def tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, H', W'), resized and normalised."""
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(1, 3, 1, 1) * 255.0
        return (x - mean) / std

    def images(self, samples: Sequence[Sample], frames: Sequence[int] | None = None) -> torch.Tensor:
        """Each sample's viewed frames: (B, T, 3, H', W') (``frames`` picks positions in the view)."""
        return self._stack([s.frames[_picked(s, frames)] for s in samples], samples, "frames")

    def flows(self, samples: Sequence[Sample], frames: Sequence[int] | None = None, key: str | None = None) -> torch.Tensor:
        """Each sample's flow images at its viewed frames: (B, T, 3, H', W'); ``key`` reads
        ``meta[key]`` (e.g. ``"backward_flow"``) instead of ``Sample.flow``."""
        out = []
        for s in samples:
            flow = s.flow if key is None else s.meta.get(key)
            what = "flow" if key is None else f"meta[{key!r}]"
            if flow is None:
                raise ValueError(
                    f"video {s.video_id!r} has no {what}: two-stream models take (image, flow); compute it with "
                    "sdinterp.data.flow.clip_flow or read flow images (sdinterp.data.flow.read_flow_images)"
                )
            flow = np.asarray(flow)
            if flow.shape[:3] != s.frames.shape[:3]:
                raise ValueError(f"{what} of video {s.video_id!r} has shape {flow.shape}, frames {s.frames.shape}")
            out.append(rgb_flow(flow[_picked(s, frames)], s.video_id, what, self.flow_max_magnitude))
        return self._stack(out, samples, "flow")

    def _stack(self, arrays: list[np.ndarray], samples: Sequence[Sample], what: str) -> torch.Tensor:
        if not arrays:
            raise ValueError("prepare() needs at least one sample")
        tensors = [self.tensor(a) for a in arrays]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            detail = ", ".join(f"{s.video_id or i}: {a.shape}" for i, (s, a) in enumerate(zip(samples, arrays)))
            raise ValueError(f"{what} in one batch must have one shape after resizing; got {detail} (set size=(H, W))")
        return torch.stack(tensors)


def _picked(sample: Sample, frames: Sequence[int] | None) -> np.ndarray:
    view = sample.view_indices()[0]
    return view if frames is None else view[np.asarray(frames, dtype=np.int64)]


def image_flow_options(options: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The adapter options among ``options``; an int ``size`` (the shared option) means a square
    ``frame_size``."""
    out = {k: v for k, v in options.items() if k in names}
    if options.get("size") is not None and "frame_size" not in out:
        out["frame_size"] = (int(options["size"]), int(options["size"]))
    return out


def refuse_options(options: dict[str, Any], names: Sequence[str], family: str) -> None:
    """Raise if a size option this family cannot apply was given: an option is never ignored.

    Raises:
        ValueError: naming the option and what to set instead.
    """
    given = [n for n in names if options.get(n) is not None]
    if given:
        raise ValueError(f"option {given[0]}={options[given[0]]!r} does not apply to {family}")
