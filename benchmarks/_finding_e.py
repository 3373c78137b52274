"""Finding (e) (issue #22): StaticDropout debiases a net toward dynamics, dose-dependently, and
helps where the appearance is a shortcut (paper Sec. 5.2, Figs. 13 and 14).

Arms, each trained from the same init and batch order, then fine-tuned for 2 epochs without any
dropout at lr 1e-5 (the paper's last step, after InfoDrop): no dropout (rate 0), standard dropout at
each rate r, and StaticDropout at each rate r, in the paper's place (the pooled features before the
classifier), with :data:`SD_OPTIONS`. The training data is the shortcut split's training set: the
class is the direction of motion and the appearance (hue, texture, shape) agrees with it in every
clip (``cue = 1``), which is the both-cues task; the net is measured on

* the shortcut split's validation clips, where the appearance is independent of the class (Fig. 14:
  a net that took the appearance shortcut is at chance there, one that reads the motion is right);
* its probe clips (unseen, training distribution): accuracy on frame-shuffled vs ordered clips
  (Fig. 13 left: lower = more reliant on the frame order), and stage3's bias (Fig. 13 right: the
  dynamic-unit ratio dyn / (dyn + stat), and the continuous layer scores S_dyn − S_stat).

Why ``cue = 1``: with ``cue = 0.9`` the pilot net (seed 100, not a findings seed) learned the motion
fully (validation accuracy 1.000 without any dropout), leaving nothing to debias; at ``cue = 1`` it
reached 0.734 (seed 100) and 0.758 (seed 101).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from _findings import PAIRS, Scale, layer_numbers, report
from sdinterp.plugins.static_dropout import StaticDropout, StaticDropoutFeeder
from sdinterp.plugins.tiny_models import TinyTask, accuracy, build, task_clips, train_tiny
from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter
from sdinterp.plugins.tiny_models.nets import TinyVideoNet, place_dropout
from sdinterp.plugins.tiny_models.train import finetune_without_dropout

__all__ = ["measure_e", "arms", "SD_OPTIONS", "derive_e", "FINETUNE_EPOCHS", "FINETUNE_LR"]

#: StaticDropout's options in finding (e): the module's documented defaults (temperature 0.1,
#: softmax, without replacement, before the classifier) except the schedule: re-estimated every 10
#: of the 32 iterations of an epoch (three estimates per epoch; the paper's 30 iterations are a small
#: share of an SSv2 epoch) from the 5 batches before each estimate (80 pairs for 32 channels; feeding
#: every batch cost 70% more training time, measured).
SD_OPTIONS: dict[str, Any] = {"every": 10, "window": 5}
#: The dropout-free fine-tune after every arm (the paper: 2 epochs at lr 1e-5 on SSv2).
FINETUNE_EPOCHS, FINETUNE_LR = 2, 1e-5


def arms(scale: Scale) -> list[tuple[str, str, float]]:
    """``(name, kind, rate)`` of every arm: ``none``, ``drop{r}`` and ``sd{r}`` per rate."""
    out = [("none", "none", 0.0)]
    for r in scale.rates:
        out += [(f"drop{r:g}", "dropout", r), (f"sd{r:g}", "static", r)]
    return out


def _task(scale: Scale) -> TinyTask:
    return scale.task("i3d", "shortcut", cue=1.0)


def _shuffled(clips: list, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [dataclasses.replace(c, frames=c.frames[rng.permutation(len(c.frames))]) for c in clips]


def train_arm(scale: Scale, seed: int, kind: str, rate: float) -> tuple[TinyVideoNet, dict[str, float]]:
    """One arm's net, trained and fine-tuned, and its StaticDropout selectivity (the most likely
    channel's drop probability over the median one's, at the last estimate)."""
    task = _task(scale)
    clips = task_clips(task, "train", seed)
    torch.manual_seed(seed)  # the same init for every arm (train_tiny seeds the same again)
    net = build(task.arch, task.classes, task.frames, task.size)
    hook = None
    if kind == "dropout":
        place_dropout(net, nn.Dropout(rate))
    elif kind == "static":
        place_dropout(net, StaticDropout(rate=rate, **SD_OPTIONS))
        hook = StaticDropoutFeeder(seed=seed)
    net = train_tiny(task, seed, clips=clips, hook=hook, model=net)
    extra = {}
    if kind == "static":
        probs = cast(StaticDropout, net.dropout).probs
        extra["selectivity"] = float(probs.max() / probs.median())
    net = finetune_without_dropout(net, task, seed, epochs=FINETUNE_EPOCHS, lr=FINETUNE_LR, clips=clips)
    return net, extra


def measure_e(seed: int, scale: Scale, part: int = 0, parts: int = 1) -> dict[str, dict[str, float]]:
    """The arms ``part::parts`` of one training seed (the script spreads a seed's arms over cores).

    Returns:
        ``{"e": {"{arm}_{name}": number}}``: ``val_acc`` (shortcut split, cue independent),
        ``probe_acc``, ``rel_shuf`` (shuffled / ordered probe accuracy), ``selectivity`` and the
        stage3 layer numbers of :func:`_findings.layer_numbers` per pair kind.
    """
    task = _task(scale)
    probe, val = task_clips(task, "probe", seed), task_clips(task, "val", seed)
    out: dict[str, float] = {}
    for name, kind, rate in arms(scale)[part::parts]:
        net, extra = train_arm(scale, seed, kind, rate)
        adapter = TinyModelAdapter(net)
        out.update({f"{name}_{k}": v for k, v in extra.items()})
        out[f"{name}_val_acc"] = accuracy(adapter, val)
        out[f"{name}_probe_acc"] = probe_acc = accuracy(adapter, probe)
        out[f"{name}_rel_shuf"] = accuracy(adapter, _shuffled(probe, seed)) / probe_acc if probe_acc else 0.0
        for p in PAIRS:
            bias = report(net, task, seed, scale, ["stage3"], p)["stage3"]
            out.update({f"{name}_{k}": v for k, v in layer_numbers(bias, p).items()})
    return {"e": out}


def _slope(x: list[float], y: list[float]) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(set(x)) > 1 else 0.0


def derive_e(row: dict[str, float], rates: tuple[float, ...]) -> dict[str, float]:
    """Per-seed quantities across arms: the dose-response slopes over r ∈ {0 (no dropout)} ∪ rates
    of StaticDropout's stage3 S_dyn − S_stat and dynamic-unit ratio, and StaticDropout minus
    standard dropout at the same rate (mean over the rates) of the validation accuracy on the
    shortcut split, of the shuffled/ordered accuracy and of S_dyn − S_stat."""
    out = dict(row)
    xs = [0.0, *rates]
    for p in PAIRS:
        for arm in ["none"] + [f"{k}{r:g}" for r in rates for k in ("sd", "drop")]:
            out[f"{arm}_margin_{p}"] = row[f"{arm}_{p}_sdyn"] - row[f"{arm}_{p}_sstat"]
        sd = ["none"] + [f"sd{r:g}" for r in rates]
        out[f"slope_margin_{p}"] = _slope(xs, [out[f"{a}_margin_{p}"] for a in sd])
        out[f"slope_ratio_{p}"] = _slope(xs, [row[f"{a}_{p}_ratio"] for a in sd])
        out[f"sd_minus_drop_margin_{p}"] = float(
            np.mean([out[f"sd{r:g}_margin_{p}"] - out[f"drop{r:g}_margin_{p}"] for r in rates])
        )
    for k in ("val_acc", "rel_shuf"):
        out[f"sd_minus_drop_{k}"] = float(np.mean([row[f"sd{r:g}_{k}"] - row[f"drop{r:g}_{k}"] for r in rates]))
    return out
