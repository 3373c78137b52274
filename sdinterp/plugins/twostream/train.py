"""A tiny CPU trainer for two-stream segmentation models on synthetic moving squares.

Binary cross-entropy on the mask logits, Adam (or SGD with momentum 0.9 and the "poly" policy,
power 0.9, weight decay 1e-4: the paper's FusionSeg recipe, Sec. 4.1.2). Inputs are built by the
model's adapter (:class:`~sdinterp.plugins.twostream.adapter.TwoStreamAdapter`), so training and
analysis preprocess alike. Float (u, v) flow is encoded with a fixed saturation magnitude.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from sdinterp.plugins.twostream.adapter import TwoStreamAdapter
from sdinterp.plugins.twostream.synthetic import synthetic_batch

__all__ = ["TrainResult", "train_synthetic"]


@dataclasses.dataclass
class TrainResult:
    """Losses per step, the wall time and the mean IoU of the last steps' predictions."""

    losses: list[float]
    seconds: float
    iou: float


def _iou(logits: torch.Tensor, masks: torch.Tensor) -> float:
    pred, gt = logits > 0, masks > 0.5
    inter = (pred & gt).flatten(1).sum(1).float()
    union = (pred | gt).flatten(1).sum(1).float()
    return float(torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).mean())


def train_synthetic(
    adapter: TwoStreamAdapter,
    steps: int = 100,
    batch_size: int = 8,
    size: int = 64,
    lr: float = 1e-3,
    optimizer: Literal["adam", "sgd"] = "adam",
    seed: int = 0,
    camouflage: float = 0.5,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``adapter.model`` in place on synthetic moving squares.

    Args:
        adapter: a two-stream adapter (its ``frame_size`` should be ``(size, size)`` or ``None``).
        steps: optimiser steps (stops earlier at ``time_limit`` seconds).
        batch_size: samples per step (at least 2: batch norm needs them).
        size: frame side of the synthetic samples.
        lr: learning rate.
        optimizer: ``"adam"`` or ``"sgd"`` (momentum 0.9, poly decay, weight decay 1e-4).
        seed: seeds the data and ``torch``.
        camouflage: probability that a square is camouflaged.
        time_limit: wall-clock budget in seconds.
        log: called with a progress line every 10 % of the steps.

    Returns:
        :class:`TrainResult`.

    Examples:
        >>> result = train_synthetic(adapter, steps=5, batch_size=2, size=32)   # doctest: +SKIP
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (batch norm), got {batch_size}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 0x7EA])
    model = adapter.model
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    poly = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - s / steps) ** 0.9) if optimizer == "sgd" else None
    model.train()
    losses, ious, start = [], [], time.perf_counter()
    for step in range(steps):
        samples = synthetic_batch(rng, batch_size, size, camouflage)
        image, flow = adapter.prepare([adapter.views(s) for s in samples])
        masks = torch.from_numpy(np.stack([s.meta["mask"] for s in samples])).float()[:, None]
        logits = adapter.forward((image.to(adapter.device), flow.to(adapter.device)))
        masks = F.interpolate(masks, size=logits.shape[-2:], mode="nearest").to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if poly is not None:
            poly.step()
        losses.append(loss.detach().item())
        ious.append(_iou(logits.detach(), masks))
        if log is not None and (step + 1) % max(1, steps // 10) == 0:
            log(f"step {step + 1}/{steps}  loss {np.mean(losses[-10:]):.4f}  IoU {np.mean(ious[-10:]):.3f}")
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    model.eval()
    return TrainResult(losses, time.perf_counter() - start, float(np.mean(ious[-10:])))
