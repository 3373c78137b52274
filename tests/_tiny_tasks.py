"""Tiny synthetic video tasks and models, trained in the suite in seconds (tests of the
bias-control tools: neuron removal, StaticDropout, tracking, dataset-bias studies).

Two tasks on the same kind of clip — a square blob moving across a flat background:

* ``"motion"``: the label is the blob's horizontal direction (0 = left, 1 = right); blob and
  background colours are random, so only the dynamics carry the class;
* ``"colour"``: the label is the blob's colour family (0 = reddish, 1 = bluish); the direction is
  random, so only the statics carry the class.

:class:`TinyNet` is a two-layer 3-D CNN with a named pooled layer ``feat`` (the layer the tools
act on) and a linear classifier. :func:`trained` trains one per task (cached for the session).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
from torch import nn

from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.interfaces import Restyler, Sample
from sdinterp.plugins.samplers.basic import Restyle
from sdinterp.plugins.tiny_models import accuracy as tiny_accuracy

FRAMES, SIZE, BLOB = 8, 16, 4


def make_clips(task: str, n: int, seed: int = 0) -> list[Sample]:
    """``n`` clips of ``FRAMES`` frames of ``SIZE`` x ``SIZE`` pixels.

    Every clip has a direction (``meta["direction"]``: 0 = left, 1 = right) and a colour family
    (``meta["colour"]``: 0 = reddish, 1 = bluish), drawn independently; ``meta["label"]`` is the
    one ``task`` asks for. The blob is brighter than the background in every channel, so the
    direction is a linear spatio-temporal feature (with random polarity a net this small does not
    learn it in seconds).
    """
    if task not in ("motion", "colour"):
        raise ValueError(task)
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        direction, colour = (int(v) for v in rng.integers(2, size=2))
        low, high = rng.integers(100, 161, 3), rng.integers(200, 256)
        blob = low.copy()
        blob[0 if colour == 0 else 2] = high
        background = rng.integers(0, 80, 3)
        step = 1 if direction else -1
        y = int(rng.integers(1, SIZE - BLOB - 1))
        span = FRAMES - 1
        x0 = int(rng.integers(0, SIZE - BLOB - span + 1)) + (span if step < 0 else 0)
        frames = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
        frames[:] = background.astype(np.uint8)
        for t in range(FRAMES):
            x = x0 + step * t
            frames[t, y : y + BLOB, x : x + BLOB] = blob.astype(np.uint8)
        meta = {"direction": direction, "colour": colour, "label": direction if task == "motion" else colour}
        clips.append(Sample(frames=frames, video_id=f"{task}{seed}-{i}", meta=meta))
    return clips


class ChannelCurves(Restyler):
    """A style = a channel permutation and an increasing power curve per channel: colours change
    (red becomes blue...) but every channel keeps its order, so the blob stays brighter than the
    background and the motion a unit sees is the same in both styles of a dynamic pair."""

    name = "channel_curves"

    def __call__(self, frames: np.ndarray, style: int | str) -> np.ndarray:
        rng = self.style_rng(style)
        perm, gamma = rng.permutation(3), rng.uniform(0.4, 2.5, 3)
        x = frames[..., perm].astype(np.float32) / 255.0
        return np.round(255.0 * x**gamma).astype(np.uint8)


def dynamic_sampler() -> Restyle:
    """The dynamic-pair sampler of the tiny tasks (restyling with :class:`ChannelCurves`)."""
    return Restyle(restyler=ChannelCurves())


class TinyNet(nn.Module):
    """conv3d(3->8) - ReLU - conv3d(8->width, stride 2 in space) - ReLU - global mean = ``feat`` -
    ``dropout`` (identity unless replaced) - ``fc``. ``aux`` is a second head on ``feat``, trained
    only when an auxiliary label is asked for (see :func:`train_model`)."""

    def __init__(self, width: int = 16, classes: int = 2):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv3d(8, width, 3, stride=(1, 2, 2), padding=1)
        self.act = nn.ReLU()
        self.feat = nn.Identity()
        self.dropout = nn.Identity()
        self.fc = nn.Linear(width, classes)
        self.aux = nn.Linear(width, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv2(self.act(self.conv1(x))))
        return self.feat(x.mean(dim=(2, 3, 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


def adapter_for(model: nn.Module) -> GenericVideoAdapter:
    """The adapter every tiny test uses (the default generic preprocessing, no resize)."""
    return GenericVideoAdapter(model)


def inputs_and_labels(adapter: GenericVideoAdapter, clips: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
    x = adapter.prepare([adapter.views(c) for c in clips])
    y = torch.tensor([int(c.meta["label"]) for c in clips])
    return x, y


# Top-1 accuracy on labelled clips (``meta["label"]``): the tiny-models plugin's metric, not a copy.
accuracy = tiny_accuracy


def train_model(
    clips: Sequence[Sample],
    epochs: int = 8,
    seed: int = 0,
    width: int = 16,
    model: nn.Module | None = None,
    hook: object | None = None,
    aux: str | None = None,
) -> TinyNet:
    """Train a TinyNet on labelled clips (Adam, full CPU determinism from ``seed``).

    ``aux``: a second label (``"colour"``) the ``aux`` head learns at the same time, so the model's
    ``feat`` layer also holds units of that factor (as real action models encode statics too).
    ``hook``: an optional :class:`~sdinterp.interfaces.TrainingHook`, called as a plain loop calls one.
    """
    torch.manual_seed(seed)
    net = model if model is not None else TinyNet(width)
    adapter = adapter_for(net)
    x, y = inputs_and_labels(adapter, clips)
    y_aux = torch.tensor([int(c.meta[aux]) for c in clips]) if aux else None
    opt = torch.optim.Adam(net.parameters(), lr=0.003)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    if hook is not None:
        hook.before_train(net)
    it = 0
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 16):
            idx = order[start : start + 16]
            if hook is not None and hasattr(hook, "before_iteration"):
                hook.before_iteration(net, it, x[idx])
            if y_aux is None:
                loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            else:
                z = net.embed(x[idx])
                loss = nn.functional.cross_entropy(net.fc(net.dropout(z)), y[idx]) + nn.functional.cross_entropy(
                    net.aux(z), y_aux[idx]
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            if hook is not None:
                hook.after_iteration(net, it, x[idx])
            it += 1
        if hook is not None:
            hook.after_epoch(net, epoch)
    if hook is not None:
        hook.after_train(net)
    return net.eval()


@cache
def trained(task: str, width: int = 16) -> TinyNet:
    """A TinyNet trained on 192 clips of ``task`` (cached: trained once per test session). The
    motion model also learns the colour with its ``aux`` head: its ``feat`` layer then holds static
    units beside the dynamic ones its task needs."""
    return train_model(make_clips(task, 192, seed=1), width=width, aux="colour" if task == "motion" else None)


def prepared_accuracy(adapter: GenericVideoAdapter, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Top-1 accuracy on inputs prepared once (``data = inputs_and_labels(adapter, clips)``): the
    metric of a removal sweep, which evaluates it dozens of times."""
    x, y = data
    with torch.no_grad():
        return float((adapter.forward(x).argmax(1) == y).float().mean())


# -- command-line fixtures: a model spec and a metric the CLI tests name as python:_tiny_tasks:... --


def motion_model() -> TinyNet:
    """``python:_tiny_tasks:motion_model`` — the trained motion model."""
    return trained("motion")


def write_task_videos(folder: os.PathLike[str] | str, n: int, task: str = "motion", seed: int = 5) -> list[Sample]:
    """``n`` clips written as lossless videos ``<label>_<i>.mkv`` (the label in the name, for
    :func:`video_name_accuracy`)."""
    from pathlib import Path

    from _videotools import write_video

    clips = make_clips(task, n, seed=seed)
    for i, c in enumerate(clips):
        write_video(Path(folder) / f"{c.meta['label']}_{i}.mkv", c.frames)
    return clips


def video_name_accuracy(adapter: GenericVideoAdapter, clips: Sequence[Sample]) -> float:
    """``python:_tiny_tasks:video_name_accuracy`` — accuracy on clips read from
    :func:`write_task_videos`' files (label = the digit the file name starts with)."""

    items = [clips[i] for i in range(len(clips))]
    labels = [int(os.path.basename(str(s.video_id))[0]) for s in items]
    return accuracy(adapter, [s.replace(meta={**s.meta, "label": y}) for s, y in zip(items, labels)])


# -- MMAction2 / MMEngine: a tiny Recognizer3D on the same clips, trained by a Runner from a config --


class TinyTaskClips(torch.utils.data.Dataset):
    """The clips of a task as MMAction2 training items: ``inputs`` (1, 3, T, H, W) uint8 and an
    ``ActionDataSample`` with the label (registered in MMEngine's ``DATASETS`` by
    :func:`mmaction_config`)."""

    metainfo: dict = {}

    def __init__(self, task: str = "motion", n: int = 24, seed: int = 0):
        self.clips = make_clips(task, n, seed=seed)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        from mmaction.structures import ActionDataSample

        clip = self.clips[i]
        x = torch.from_numpy(clip.frames).permute(3, 0, 1, 2).unsqueeze(0).contiguous()  # (1, 3, T, H, W)
        return {"inputs": x, "data_samples": ActionDataSample().set_gt_label(int(clip.meta["label"]))}


def mmaction_config(
    work_dir: os.PathLike[str] | str,
    epochs: int = 1,
    custom_hooks: Sequence[dict] = (),
    imports: Sequence[str] = (),
    n: int = 24,
    dropout_ratio: float = 0.5,
) -> dict:
    """A Runner config: a Recognizer3D with an 18-layer ResNet3d of base width 4 (64 channels at the
    head), random init, SGD, ``n`` clips in batches of 4, a checkpoint every epoch."""
    from mmengine.registry import DATASETS

    from sdinterp.adapters.mmaction2 import _mmaction

    _mmaction()  # mmaction's modules, with the project's compatibility fixes
    if "TinyTaskClips" not in DATASETS.module_dict:
        DATASETS.register_module(name="TinyTaskClips", module=TinyTaskClips)
    return dict(
        model=dict(
            type="Recognizer3D",
            backbone=dict(type="ResNet3d", depth=18, pretrained=None, pretrained2d=False, base_channels=4),
            cls_head=dict(type="I3DHead", num_classes=2, in_channels=32, dropout_ratio=dropout_ratio),
            data_preprocessor=dict(
                type="ActionDataPreprocessor", mean=[114.75] * 3, std=[57.375] * 3, format_shape="NCTHW"
            ),
        ),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type="TinyTaskClips", task="motion", n=n),
            batch_size=4,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="pseudo_collate"),
        ),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=epochs, val_interval=10**6),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=1), logger=dict(type="LoggerHook", interval=1000)
        ),
        custom_hooks=list(custom_hooks),
        custom_imports=dict(imports=list(imports), allow_failed_imports=False),
        default_scope="mmaction",
        randomness=dict(seed=0),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend="gloo")),
        log_level="WARNING",
        launcher="none",
    )


def tracking_clips() -> list[Sample]:
    """``python:_tiny_tasks:tracking_clips`` — the clips a StaticDynamicHook config names."""
    return make_clips("motion", 8, seed=9)
