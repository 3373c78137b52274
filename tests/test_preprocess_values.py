"""The adapters' model input, built in one float pass (issue 21: the data side's own CPU time), holds
exactly the values of the plain recipe: resize (if any), centre crop, ``(x.float() - mean) / std``,
channels first. Bit for bit, for numpy and tensor clips of any strides."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdinterp.adapters._clip import ClipPreprocessor
from sdinterp.adapters.image_flow import ImageFlowPreprocessor

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)


def _plain_clip(pre: ClipPreprocessor, frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    size = pre.resized_size(*x.shape[-2:])
    if size is not None and size != tuple(x.shape[-2:]):
        x = torch.cat(
            [F.interpolate(f[None], size=size, mode="bilinear", align_corners=False, antialias=True) for f in x]
        )
    if pre.crop_size is not None:
        top, left = (x.shape[-2] - pre.crop_size) // 2, (x.shape[-1] - pre.crop_size) // 2
        x = x[..., top : top + pre.crop_size, left : left + pre.crop_size]
    if pre.mean is not None and pre.std is not None:
        mean = torch.tensor(pre.mean).view(1, 3, 1, 1) * pre.scale
        std = torch.tensor(pre.std).view(1, 3, 1, 1) * pre.scale
        x = (x - mean) / std
    elif pre.scale != 1.0:
        x = x / pre.scale
    return x.permute(1, 0, 2, 3).contiguous()


@pytest.mark.parametrize("shape", [(8, 112, 149, 3), (4, 144, 176, 3), (3, 60, 80, 3)])
@pytest.mark.parametrize(
    "options",
    [
        {"crop_size": 112},
        {"crop_size": 56, "short_side": 60},
        {"crop_size": None, "short_side": None},
        {"crop_size": None, "short_side": 64},
        {"crop_size": 56, "mean": None, "std": None},
        {"crop_size": 56, "mean": None, "std": None, "scale": 1.0},
    ],
)
def test_clip_tensor_holds_the_plain_recipes_values(shape, options):
    frames = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    pre = ClipPreprocessor(num_frames=shape[0], **options)
    if pre.crop_size is not None and pre.crop_size > min(pre.resized_size(*shape[1:3]) or shape[1:3]):
        with pytest.raises(ValueError, match="larger than the frames"):
            pre.clip_tensor(frames)
        return
    expected = _plain_clip(pre, frames)
    mirrored = frames[:, :, ::-1]  # negative strides, as view_frames can hand over
    for given, want in (
        (frames, expected),
        (torch.from_numpy(frames), expected),
        (mirrored, _plain_clip(pre, mirrored)),
    ):
        got = pre.clip_tensor(given)
        assert got.is_contiguous() and got.dtype == torch.float32
        assert torch.equal(got, want)


@pytest.mark.parametrize("frame_size", [None, (64, 96), (128, 128)])
def test_image_flow_tensor_holds_the_plain_recipes_values(frame_size):
    pre = ImageFlowPreprocessor(frame_size=frame_size)
    images = np.random.default_rng(1).integers(0, 256, (2, 144, 176, 3), dtype=np.uint8)
    for given in (images, images[:, ::-1]):
        x = torch.from_numpy(np.ascontiguousarray(given)).permute(0, 3, 1, 2).float()
        if frame_size is not None:
            x = F.interpolate(x, size=frame_size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(pre.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(pre.std).view(1, 3, 1, 1) * 255.0
        got = pre.tensor(given)
        assert got.is_contiguous() and torch.equal(got, (x - mean) / std)
