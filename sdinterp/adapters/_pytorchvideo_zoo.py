"""The video classifiers of ``pytorchvideo.models.hub`` (0.1.5) and their native input sizes, and the
hub builders that are refused, with why (tests/test_pytorchvideo_zoo.py checks that every builder is
in one of the two tables)."""

from __future__ import annotations

__all__ = ["PYTORCHVIDEO_MODELS", "PYTORCHVIDEO_REFUSED"]

#: Every video classifier of ``pytorchvideo.models.hub`` -> native (frames of the fastest pathway,
#: crop, short side): the model zoo's test settings, consistent with each builder's head-pool kernel
#: (kernel T x temporal stride = frames, ceil(crop / 32) = kernel H; checked in
#: tests/test_pytorchvideo_zoo.py). Efficient X3D has an adaptive head; its sizes are X3D-XS/S's.
PYTORCHVIDEO_MODELS: dict[str, tuple[int, int, int]] = {
    "slow_r50": (8, 224, 256),
    "slowfast_r50": (32, 224, 256),
    "slowfast_r101": (32, 224, 256),
    "slowfast_16x8_r101_50_50": (64, 224, 256),
    "x3d_xs": (4, 160, 182),
    "x3d_s": (13, 160, 182),
    "x3d_m": (16, 224, 256),
    "x3d_l": (16, 312, 356),
    "efficient_x3d_xs": (4, 160, 182),
    "efficient_x3d_s": (13, 160, 182),
    "c2d_r50": (8, 224, 256),
    "i3d_r50": (8, 224, 256),
    "csn_r101": (32, 224, 256),
    "r2plus1d_r50": (16, 224, 256),
    "mvit_base_16x4": (16, 224, 256),
    "mvit_base_32x3": (32, 224, 256),
}

#: Hub builders that are not video classifiers, with the reason they are refused.
PYTORCHVIDEO_REFUSED: dict[str, str] = {
    "slow_r50_detection": "an AVA action-detection network (DetectionBBoxNetwork) whose forward takes person "
    "boxes besides the clip; use pytorchvideo:slow_r50",
    "slowfast_r50_detection": "an AVA action-detection network (DetectionBBoxNetwork) whose forward takes person "
    "boxes besides the clip; use pytorchvideo:slowfast_r50",
    "mvit_base_16": "an ImageNet image classifier (2-D patches, temporal_size=1) with no time axis, so static and "
    "dynamic information cannot be told apart; use pytorchvideo:mvit_base_16x4 or mvit_base_32x3",
}
