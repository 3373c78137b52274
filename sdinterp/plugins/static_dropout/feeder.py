"""Feeding StaticDropout in a training loop: each batch's frame-shuffled partner goes through the
model without gradient, and the features at every :class:`StaticDropout` input become pairs.

:class:`StaticDropoutFeeder` is a :class:`~sdinterp.interfaces.TrainingHook` for plain PyTorch loops;
the MMEngine ``StaticDropoutHook`` (:mod:`sdinterp.plugins.static_dropout.mmengine_hook`) calls the
same feeder from ``before_train_iter``. The estimating forwards run in evaluation mode, so they
neither update batch-norm statistics nor drop channels (``docs/method.md`` §5: estimated without
gradient, held fixed between estimates).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sdinterp.interfaces import TrainingHook
from sdinterp.plugins.static_dropout.module import StaticDropout

__all__ = ["StaticDropoutFeeder", "shuffle_frames", "find_static_dropouts"]


def shuffle_frames(x: torch.Tensor, time_dim: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """The static partner of a batch of clips: each clip's frames in its own random order.

    As the reference's ``torch.randperm(T)``, the identity permutation is not excluded.

    Args:
        x: a batch of clips, batch first; e.g. (B, C, T, H, W) with ``time_dim=2``, or MMAction2's
            (B, views, C, T, H, W) with ``time_dim=-3``.
        time_dim: the axis of the frames.
        generator: the random generator (default: torch's global one).

    Examples:
        >>> import torch
        >>> x = torch.arange(4.0).view(1, 1, 4, 1, 1)
        >>> sorted(shuffle_frames(x, 2).flatten().tolist())
        [0.0, 1.0, 2.0, 3.0]
    """
    axis = time_dim % x.dim()
    if axis == 0:
        raise ValueError("time_dim cannot be the batch axis")
    frames = x.shape[axis]
    perms = torch.stack([torch.randperm(frames, generator=generator) for _ in range(x.shape[0])]).to(x.device)
    moved = x.movedim(axis, 1)  # (B, T, ...)
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return moved[rows, perms].movedim(1, axis).contiguous()


def find_static_dropouts(model: nn.Module) -> list[StaticDropout]:
    """Every StaticDropout module of ``model``."""
    return [m for m in model.modules() if isinstance(m, StaticDropout)]


class StaticDropoutFeeder(TrainingHook):
    """Feeds every StaticDropout of a model with (clip, frame-shuffled clip) pairs and refreshes
    their scores on schedule.

    Call :meth:`before_iteration` before each training step with the batch's clips. When the batch
    falls in a StaticDropout's estimation window it is forwarded twice without gradient (as is,
    and frame-shuffled) and the features at the module's input are observed; at iterations 0,
    ``every``, 2·``every``, … the scores are re-estimated from the window, so the first estimate is
    made before the first step.

    Args:
        forward: ``forward(model, clips)`` runs the model far enough to reach the dropouts
            (default ``model(clips)``).
        time_dim: the frame axis of the clips (2 for (B, C, T, H, W)).
        seed: seed of the frame permutations.

    Examples:
        >>> feeder = StaticDropoutFeeder()                   # doctest: +SKIP
        >>> for it, (x, y) in enumerate(loader):             # doctest: +SKIP
        ...     feeder.before_iteration(model, it, x)
        ...     loss = criterion(model(x), y); ...
    """

    def __init__(self, forward: Callable[[nn.Module, Any], Any] | None = None, time_dim: int = 2, seed: int = 0):
        self.forward = forward or (lambda model, clips: model(clips))
        self.time_dim = int(time_dim)
        self.generator = torch.Generator().manual_seed(int(seed))
        #: Batches forwarded for estimation so far.
        self.fed = 0

    def feed(self, model: nn.Module, clips: torch.Tensor) -> None:
        """Forward ``clips`` and their frame-shuffled copies (no gradient, eval mode) and observe the pairs."""
        dropouts = find_static_dropouts(model)
        if not dropouts:
            raise ValueError(f"{type(model).__name__} has no StaticDropout module to feed")
        shuffled = shuffle_frames(clips, self.time_dim, self.generator)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), contextlib.ExitStack() as stack:
                records = [stack.enter_context(d.recording()) for d in dropouts]
                self.forward(model, clips)
                self.forward(model, shuffled)
                pairs = [list(r) for r in records]
        finally:
            model.train(was_training)
        for d, seen in zip(dropouts, pairs):
            if len(seen) != 2:
                raise RuntimeError(
                    f"a StaticDropout ran {len(seen)} times in two forwards; it must run once per forward"
                )
            d.observe(seen[0], seen[1])
        self.fed += 1

    def before_iteration(self, model: nn.Module, iteration: int, batch: Any) -> None:
        """Before training step ``iteration`` (from 0) on ``batch`` (the clips): feed and refresh on schedule."""
        dropouts = find_static_dropouts(model)
        if any(d.wants_pairs(iteration) for d in dropouts):
            self.feed(model, batch)
        for d in dropouts:
            if d.due(iteration):
                d.refresh(iteration)
