"""Seeded CPU training of the tiny nets on the synthetic generator's videos (issue #13, item 2).

A :class:`TinyTask` names the data (``kind="motion"``: the class is the direction of motion,
appearance random; ``kind="appearance"``: the class is the object's hue/texture/shape, motion
random; docs/synthetic.md) and the training. :func:`train_tiny` is deterministic: the same task and
seed give the same weights bit for bit on the same machine (the init, the batch order and the data
all come from the seed; training runs on one thread, since CPU reductions split over threads round
differently: 2e-7 apart after two epochs, measured; other CPUs may still differ in the last bits).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from sdinterp.data.synthetic import Kind, SynthConfig, synthetic_samples
from sdinterp.interfaces import Sample
from sdinterp.plugins.tiny_models.nets import TinyVideoNet, build

__all__ = [
    "TinyTask",
    "task_clips",
    "train_tiny",
    "finetune_without_dropout",
    "accuracy",
    "save_checkpoint",
    "load_checkpoint",
]


#: The tasks: which factor carries the class (``both``: appearance and motion, each sufficient;
#: ``shortcut``: motion, with an appearance cue that agrees with the class in training only;
#: ``joint``: appearance x direction, both needed; docs/synthetic.md).
KINDS = ("motion", "appearance", "both", "shortcut", "joint")


@dataclasses.dataclass(frozen=True)
class TinyTask:
    """One tiny training run.

    Attributes:
        arch: a name of :data:`~sdinterp.plugins.tiny_models.nets.ARCHITECTURES`.
        kind: ``"motion"``, ``"appearance"``, ``"both"`` (which factor carries the class; with
            ``both`` either one suffices, so a net may take the static shortcut), ``"shortcut"``
            (motion carries it; an appearance cue agrees with it on a share ``cue`` of the training
            and probe clips and ``val_cue`` of the validation clips) or ``"joint"`` (class =
            appearance x direction; ``classes`` even, at least 4).
        classes: 2 by default: the two motion classes are opposite directions on one axis, so
            the set of frames says nothing and only their order does (docs/synthetic.md).
        classes, frames, size, difficulty: the generator's parameters.
        train_videos, val_videos: clips to train on / validate on (disjoint generator seeds).
        epochs, batch_size, lr: Adam training.
        cue, val_cue: ``shortcut`` only: the appearance cue's agreement with the class in the
            training/probe clips and in the validation clips (``None``: 1 / classes, independent).
    """

    arch: str = "i3d"
    kind: str = "motion"
    classes: int = 2
    frames: int = 8
    size: int = 32
    difficulty: float = 0.0
    train_videos: int = 512
    val_videos: int = 128
    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.003
    cue: float = 1.0
    val_cue: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        build(self.arch)  # fails early on an unknown architecture
        for name in ("train_videos", "val_videos", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("cue", "val_cue"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


def task_clips(task: TinyTask, split: str, seed: int) -> list[Sample]:
    """The clips of ``split`` (``"train"``, ``"val"`` or ``"probe"``: clips for the bias
    measurement, unseen in training) of training seed ``seed``, labelled in ``meta["label"]`` and
    re-renderable in other styles (the ``synthetic_restyle`` sampler's ground-truth dynamic pairs).
    A ``shortcut`` task's probe clips follow its training distribution (cue ``task.cue``), its
    validation clips ``task.val_cue``."""
    offset = {"train": 0, "val": 1, "probe": 2}[split]
    n = task.train_videos if split == "train" else task.val_videos
    cue = task.cue if split != "val" else (1.0 / task.classes if task.val_cue is None else task.val_cue)
    config = SynthConfig(
        kind=cast(Kind, task.kind),
        classes=task.classes,  # SynthConfig checks the kind
        videos=n,
        frames=task.frames,
        size=task.size,
        seed=3 * int(seed) + offset,
        difficulty=task.difficulty,
        cue=float(cue) if task.kind == "shortcut" else 1.0,
    )
    return synthetic_samples(config, id_prefix=f"{task.kind}-{split}{seed}-")


def _inputs(model: TinyVideoNet, clips: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
    from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter

    adapter = TinyModelAdapter(model)
    x = adapter.prepare([adapter.views(c) for c in clips])
    return x, torch.tensor([int(c.meta["label"]) for c in clips])


def accuracy(adapter: Any, clips: Sequence[Sample]) -> float:
    """Top-1 accuracy of an adapter's model on labelled clips (a ``metric(adapter, clips)``)."""
    x = adapter.prepare([adapter.views(c) for c in clips])
    y = torch.tensor([int(c.meta["label"]) for c in clips])
    was = adapter.model.training
    adapter.model.eval()
    with torch.no_grad():
        pred = adapter.forward(x).argmax(1)
    adapter.model.train(was)
    return float((pred == y).float().mean())


def train_tiny(
    task: TinyTask,
    seed: int = 0,
    clips: Sequence[Sample] | None = None,
    hook: Any = None,
    model: TinyVideoNet | None = None,
) -> TinyVideoNet:
    """Train a tiny net on the task's training clips (or ``clips``), deterministically from ``seed``.

    Args:
        task: what to train.
        seed: the init, batch-order and data seed.
        clips: labelled clips to train on instead of the task's (e.g. frame-shuffled ones).
        hook: an optional :class:`~sdinterp.interfaces.TrainingHook` (``before_train``,
            ``after_iteration(model, it, batch)``, ``after_epoch``, ``after_train``; also
            ``before_iteration`` if it has one).
        model: train this net (e.g. one with a StaticDropout inside) instead of a fresh one.

    Returns:
        The trained net, in eval mode.

    Examples:
        >>> net = train_tiny(TinyTask(arch="c2d", train_videos=8, epochs=1), seed=0)  # doctest: +SKIP
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(task, seed, clips, hook, model)
    finally:
        torch.set_num_threads(threads)


def _train(
    task: TinyTask, seed: int, clips: Sequence[Sample] | None, hook: Any, model: TinyVideoNet | None
) -> TinyVideoNet:
    torch.manual_seed(seed)
    net = model if model is not None else build(task.arch, task.classes, task.frames, task.size)
    x, y = _inputs(net, clips if clips is not None else task_clips(task, "train", seed))
    opt = torch.optim.Adam(net.parameters(), lr=task.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=task.epochs)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    if hook is not None:
        hook.before_train(net)
    it = 0
    for epoch in range(task.epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), task.batch_size):
            idx = order[start : start + task.batch_size]
            if hook is not None and hasattr(hook, "before_iteration"):
                hook.before_iteration(net, it, x[idx])
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if hook is not None:
                hook.after_iteration(net, it, x[idx])
            it += 1
        sched.step()
        if hook is not None:
            hook.after_epoch(net, epoch)
    if hook is not None:
        hook.after_train(net)
    return net.eval()


def finetune_without_dropout(
    net: TinyVideoNet,
    task: TinyTask,
    seed: int = 0,
    epochs: int = 2,
    lr: float = 1e-5,
    clips: Sequence[Sample] | None = None,
) -> TinyVideoNet:
    """The paper's last step after (Static)Dropout training, following InfoDrop (Sec. 5.2): every
    dropout removed (:func:`~sdinterp.plugins.tiny_models.nets.strip_dropout`), then ``epochs`` of
    training at ``lr`` (the paper: 2 epochs at 1e-5 on SSv2) on the task's training clips.

    Args:
        net: a trained net (changed in place).
        task: its task (the fine-tune keeps its batch size and clips).
        seed: the batch-order seed.
        epochs, lr: the fine-tune.
        clips: the training clips (default: the task's).

    Returns:
        The fine-tuned net, in eval mode, with no dropout left.
    """
    from sdinterp.plugins.tiny_models.nets import strip_dropout

    strip_dropout(net)
    return train_tiny(dataclasses.replace(task, epochs=int(epochs), lr=float(lr)), seed, clips=clips, model=net)


def save_checkpoint(
    model: TinyVideoNet,
    task: TinyTask,
    seed: int,
    path: os.PathLike[str] | str,
    metrics: dict[str, float] | None = None,
) -> None:
    """Write ``{"arch", "task", "seed", "metrics", "state_dict"}`` (a few tens of kB)."""
    torch.save(
        {
            "task": dataclasses.asdict(task),
            "seed": int(seed),
            "metrics": dict(metrics or {}),
            "state_dict": model.state_dict(),
        },
        str(path),
    )


def load_checkpoint(path: os.PathLike[str] | str) -> tuple[TinyVideoNet, TinyTask, int]:
    """Read a checkpoint of :func:`save_checkpoint` (weights only: no pickled code runs)."""
    data = torch.load(str(path), map_location="cpu", weights_only=True)
    task = TinyTask(**data["task"])
    net = build(task.arch, task.classes, task.frames, task.size)
    net.load_state_dict(data["state_dict"])
    return net.eval(), task, int(data["seed"])
