"""Tiny two-stream AVOS models trained on the generator's camouflage videos (issue #13, item 2).

A camouflaged object wears the background's own texture (docs/synthetic.md), so one frame barely
shows it and its motion reveals it. A sample is one frame ``t < T - 1`` of a video, its exact
forward optical flow and its mask: the background is static and the object translates at the
constant velocity the generator drew, so the flow from frame t to t + 1 is (u, v) = (vx, vy) on the
object's pixels of frame t and 0 elsewhere (u horizontal, v vertical, the convention of
:func:`sdinterp.data.flow.flow_to_rgb` and of OpenCV's DIS flow). The flow is stored RGB-encoded
(uint8, Middlebury wheel) with one fixed saturation magnitude, the generator's top speed, so the
trainer, the adapter and the ``flow_jitter`` sampler all see the same flow image (a float flow would
be re-encoded per frame by ``flow_jitter``); the float flow is kept in ``meta["flow_uv"]``.

:func:`train_avos` trains a model of the two-stream family (:mod:`sdinterp.plugins.twostream`) through
its :class:`~sdinterp.plugins.twostream.adapter.TwoStreamFamilyAdapter`, so training and analysis
preprocess alike, deterministically: the same task and seed give the same weights bit for bit on the
same machine (seeded init and batch order, one thread, as :func:`~sdinterp.plugins.tiny_models.train.train_tiny`).

:class:`~sdinterp.plugins.synthetic.SyntheticRestyle` (sampler ``synthetic_restyle``) is the
ground-truth dynamic pair of these samples: the same frame of the same video re-rendered in another
style (``render_video(..., style=k)``: a new background texture and colour, which the camouflaged
object wears; the same trajectory, shape and mask), the flow untouched.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.data.synthetic import SynthConfig, render_video
from sdinterp.interfaces import Sample

__all__ = [
    "AvosTask",
    "avos_samples",
    "camouflage_samples",
    "train_avos",
    "avos_adapter",
    "avos_predict",
    "avos_iou",
    "baseline_ious",
    "save_avos_checkpoint",
    "load_avos_checkpoint",
    "max_speed",
]


#: The variants the tiny AVOS nets are trained as: the paper's fusion/cross study, gated (G) or
#: convex-combination gated (CCG) fusion with unidirectional (U) or bidirectional (B) cross
#: connections (the two-stream family's ``STUDY_VARIANTS``; tests/test_tiny_avos.py checks they agree).
AVOS_VARIANTS = (
    "gated-unidirectional",
    "gated-bidirectional",
    "convex_gated-unidirectional",
    "convex_gated-bidirectional",
)


def _check_variant(variant: str) -> None:
    """A ``FUSION-CROSS`` variant whose parts the two-stream family has registered."""
    from sdinterp.plugin_manager import get_registry

    fusion, _, cross = str(variant).partition("-")
    registry = get_registry()
    if fusion not in registry.names("fusion") or cross not in registry.names("cross"):
        raise ValueError(
            f"AVOS variant {variant!r} is not FUSION-CROSS with FUSION one of "
            f"{', '.join(registry.names('fusion'))} and CROSS one of {', '.join(registry.names('cross'))}"
        )


@dataclasses.dataclass(frozen=True)
class AvosTask:
    """One tiny two-stream training run.

    Attributes:
        variant: ``FUSION-CROSS`` of the family, e.g. one of
            :data:`~sdinterp.plugins.twostream.spec.STUDY_VARIANTS`.
        width, depth: the streams' base width and ResNet depth (width 6: ~0.94 MB checkpoints).
        cascades, decoder_channels: co-attention cascades per cross connection; decoder width.
        size, frames, difficulty: the generator's frame side, frames per video and difficulty.
        train_videos, val_videos, probe_videos: videos per split (each gives ``frames - 1`` samples).
        epochs, batch_size, lr: Adam with a cosine schedule, binary cross-entropy on the mask logits.

    The defaults, measured on 2 shared CPU cores (seed 0, ``benchmarks/_finding_g.py``): 21–26 s of
    training per study variant, val IoU 0.70 (G+U), 0.88 (G+B), 0.79 (CCG+U), 0.91 (CCG+B) against 0
    for all-background and 0.29 for the best centred square; checkpoints 938–951 kB.
    """

    variant: str = "gated-bidirectional"
    width: int = 6
    depth: int = 18
    cascades: int = 5
    decoder_channels: int = 16
    size: int = 64
    frames: int = 8
    difficulty: float = 0.0
    train_videos: int = 48
    val_videos: int = 16
    probe_videos: int = 32
    epochs: int = 8
    batch_size: int = 16
    lr: float = 0.003

    def __post_init__(self) -> None:
        _check_variant(self.variant)  # fails early on an unknown fusion / cross connection
        for name in ("train_videos", "val_videos", "probe_videos", "epochs", "cascades", "decoder_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (batch norm), got {self.batch_size}")

    @property
    def spec(self) -> str:
        """The model spec, ``twostream:FUSION-CROSS-rDEPTH-wWIDTH``."""
        return f"twostream:{self.variant}-r{self.depth}-w{self.width}"

    def config(self, split: str, seed: int) -> SynthConfig:
        """The generator config of a split: seed ``3 * seed + offset`` (train 0, val 1, probe 2), as
        :func:`~sdinterp.plugins.tiny_models.train.task_clips`, so the splits never share a video."""
        offset = {"train": 0, "val": 1, "probe": 2}[split]
        n = {"train": self.train_videos, "val": self.val_videos, "probe": self.probe_videos}[split]
        return SynthConfig(
            kind="camouflage",
            classes=4,
            videos=n,
            frames=self.frames,
            size=self.size,
            seed=3 * int(seed) + offset,
            difficulty=self.difficulty,
        )


def max_speed(config: SynthConfig) -> float:
    """The generator's top speed (pixels per frame) for a camouflage config: the flow encoding's
    saturation magnitude (``render._motion``: ``0.6 (1 - d/2) n / 2T`` at most)."""
    return 0.6 * (1.0 - 0.5 * float(config.difficulty)) * config.size / (2.0 * config.frames)


def exact_flow(mask: np.ndarray, speed: float, direction: float) -> np.ndarray:
    """Forward flow (H, W, 2) float32 of a frame whose object (``mask``) translates by ``speed``
    along ``direction`` over a static background: (vx, vy) on the mask, 0 elsewhere."""
    flow = np.zeros(mask.shape + (2,), np.float32)
    flow[mask] = (speed * math.cos(direction), speed * math.sin(direction))
    return flow


def avos_samples(task: AvosTask, split: str, seed: int) -> list[Sample]:
    """The (image, flow, mask) samples of a split: frames ``0 .. T-2`` of each video, in video order.

    Args:
        task: the task.
        split: ``"train"``, ``"val"`` or ``"probe"`` (the bias measurement's, unseen in training).
        seed: the training seed the splits belong to.

    Returns:
        One-frame samples with uint8 RGB ``flow``; ``meta`` holds ``mask`` (H, W) bool,
        ``flow_uv`` (H, W, 2) and ``synthetic`` (the config and video index; ``frame_indices`` is
        ``[t]``) for the ``synthetic_restyle`` sampler.

    Examples:
        >>> s = avos_samples(AvosTask(train_videos=1, size=32), "train", 0)
        >>> len(s), s[0].frames.shape, s[0].flow.dtype.name, s[0].meta["mask"].shape
        (7, (1, 32, 32, 3), 'uint8', (32, 32))
    """
    config = task.config(split, seed)

    def flow(video: Any, t: int) -> np.ndarray:
        return exact_flow(video.masks[t], video.params["speed"], video.params["direction"])

    return camouflage_samples(config, split, seed, max_speed(config), flow)


def camouflage_samples(
    config: Any, split: str, seed: int, top: float, flow: Callable[[Any, int], np.ndarray]
) -> list[Sample]:
    """One-frame (image, flow, mask) samples of every video of a camouflage ``config``, frames
    ``0 .. T-2`` in video order, with ``flow(video, t)`` (H, W, 2) RGB-encoded saturating at ``top``
    pixels per frame (:func:`avos_samples` gives exact flow; a study may estimate it instead)."""
    from sdinterp.data.flow import flow_to_rgb

    fields = dict(vars(config))
    out = []
    for index in range(config.videos):
        video = render_video(config, index)
        for t in range(config.frames - 1):
            uv = flow(video, t)
            out.append(
                Sample(
                    frames=video.frames[t : t + 1],
                    flow=flow_to_rgb(uv, top)[None],
                    video_id=f"camouflage-{split}{seed}-{index}",
                    frame_indices=np.array([t]),
                    meta={"mask": video.masks[t], "flow_uv": uv, "synthetic": {"config": fields, "index": index}},
                )
            )
    return out


def avos_adapter(model: nn.Module) -> Any:
    """The family's adapter at the samples' own size (no resize), found by the adapter plugins as
    for any user's model."""
    from sdinterp.adapt import adapt

    return adapt(model, frame_size=None)


def build_avos(task: AvosTask) -> nn.Module:
    """A freshly initialised model of the task (from the current torch seed), through its
    ``twostream:`` model spec as a user would load it."""
    from sdinterp.adapt import load_model

    options: dict[str, Any] = {"decoder_channels": task.decoder_channels}
    if task.variant.partition("-")[2] != "none":  # cascades configures the cross connections
        options["cascades"] = task.cascades
    return load_model(task.spec, **options)


def _tensors(adapter: Any, samples: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    image, flow = adapter.prepare([adapter.views(s) for s in samples])
    masks = torch.from_numpy(np.stack([s.meta["mask"] for s in samples])).float()[:, None]
    return image, flow, masks


def train_avos(task: AvosTask, seed: int = 0, samples: Sequence[Sample] | None = None) -> nn.Module:
    """Train a two-stream model on the task's training samples, deterministically from ``seed``.

    Args:
        task: what to train.
        seed: the init, batch-order and data seed.
        samples: train on these instead of ``avos_samples(task, "train", seed)``.

    Returns:
        The trained model, in eval mode.

    Examples:
        >>> net = train_avos(AvosTask(train_videos=4, epochs=1), seed=0)   # doctest: +SKIP
    """
    threads = torch.get_num_threads()
    # One thread: CPU reductions split over threads round differently (train_tiny's note).
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        net = build_avos(task)
        image, flow, masks = _tensors(
            avos_adapter(net), samples if samples is not None else avos_samples(task, "train", seed)
        )
        steps = task.epochs * math.ceil(len(image) / task.batch_size)
        opt = torch.optim.Adam(net.parameters(), lr=task.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        gen = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(task.epochs):
            order = torch.randperm(len(image), generator=gen)
            for start in range(0, len(image), task.batch_size):
                idx = order[start : start + task.batch_size]
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                loss = nn.functional.binary_cross_entropy_with_logits(net(image[idx], flow[idx]), masks[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        return net.eval()
    finally:
        torch.set_num_threads(threads)


def avos_predict(model: nn.Module, samples: Sequence[Sample], batch_size: int = 64) -> np.ndarray:
    """Predicted masks (N, H, W) bool (logit > 0) of samples, in eval mode."""
    adapter = avos_adapter(model)
    was = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            image, flow, _ = _tensors(adapter, samples[start : start + batch_size])
            out.append((model(image, flow) > 0)[:, 0].numpy())
    model.train(was)
    return np.concatenate(out)


def avos_iou(model: nn.Module, samples: Sequence[Sample]) -> float:
    """Mean region IoU (Jaccard, :func:`~sdinterp.scoring.region.mean_jaccard`) of the model's
    masks on samples."""
    from sdinterp.scoring.region import mean_jaccard

    return mean_jaccard(list(avos_predict(model, samples)), [s.meta["mask"] for s in samples])


def baseline_ious(samples: Sequence[Sample]) -> dict[str, float]:
    """Mean IoU of trivial predictors: all background (0 on every non-empty mask) and the best
    centred square (its side chosen on these very samples, an upper bound of that baseline)."""
    from sdinterp.scoring.region import mean_jaccard

    gts = [s.meta["mask"] for s in samples]
    n = gts[0].shape[0]
    best = 0.0
    for side in range(2, n + 1, 2):
        box = np.zeros((n, n), bool)
        lo = (n - side) // 2
        box[lo : lo + side, lo : lo + side] = True
        best = max(best, mean_jaccard([box] * len(gts), gts))
    return {"background": mean_jaccard([np.zeros((n, n), bool)] * len(gts), gts), "centre_box": best}


def save_avos_checkpoint(
    model: nn.Module, task: AvosTask, seed: int, path: os.PathLike[str] | str, metrics: dict[str, float] | None = None
) -> None:
    """Write ``{"task", "seed", "metrics", "state_dict"}`` (~0.94 MB at width 6)."""
    torch.save(
        {
            "task": dataclasses.asdict(task),
            "seed": int(seed),
            "metrics": dict(metrics or {}),
            "state_dict": model.state_dict(),
        },
        str(path),
    )


def load_avos_checkpoint(path: os.PathLike[str] | str) -> tuple[nn.Module, AvosTask, int]:
    """Read a checkpoint of :func:`save_avos_checkpoint` (weights only: no pickled code runs)."""
    data = torch.load(str(path), map_location="cpu", weights_only=True)
    task = AvosTask(**data["task"])
    net = build_avos(task)
    net.load_state_dict(data["state_dict"])
    return net.eval(), task, int(data["seed"])
