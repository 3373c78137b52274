"""The measurements behind benchmarks/reproduce_findings.py: one function per finding of the paper,
each measured on the tiny nets of :mod:`sdinterp.plugins.tiny_models` trained from one seed.

Every function returns ``{name: number}`` for one training seed; the script aggregates them over
seeds (mean, std) and applies each finding's pass criterion.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

import sdinterp
from sdinterp.plugins.tiny_models import TinyTask, accuracy, build, task_clips, train_tiny
from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter


@dataclasses.dataclass(frozen=True)
class Scale:
    """How big a run is: ``quick`` trims clips, epochs and pairs."""

    train_videos: int = 384
    val_videos: int = 128
    epochs: int = 20
    n_pairs: int = 128

    def task(self, arch: str, kind: str) -> TinyTask:
        return TinyTask(arch=arch, kind=kind, train_videos=self.train_videos, val_videos=self.val_videos, epochs=self.epochs)


# The motion task needs ~384 clips to generalise (256 overfit: 0.63 val accuracy); training is cheap,
# so --quick keeps the training and trims the measurement clips, the pairs and (e)'s rates.
QUICK = Scale(val_videos=64, n_pairs=64)
FULL = Scale()


_TRAINED: dict[tuple[TinyTask, int], nn.Module] = {}


def _trained(task: TinyTask, seed: int, hook: Any = None) -> nn.Module:
    """``train_tiny(task, seed)``, memoised: several findings measure the same net (a hook that only
    measures, like BiasTracker, leaves the training unchanged, so its net is memoised too)."""
    if (task, seed) not in _TRAINED or hook is not None:
        _TRAINED[(task, seed)] = train_tiny(task, seed, hook=hook)
    return _TRAINED[(task, seed)]


def _report(net: nn.Module, task: TinyTask, seed: int, scale: Scale, layers: Any = None) -> Any:
    sd = sdinterp.StaticDynamic(net, layers=layers)
    return sd.attribute(task_clips(task, "probe", seed), n_pairs=scale.n_pairs, batch_size=32, seed=seed, show_progress=False)


def _dyn_units(bias: Any) -> int:
    return int(bias.category_counts["dynamic"])


def measure_a_f(seed: int, scale: Scale) -> dict[str, float]:
    """(a) motion- vs appearance-class I3D-like nets at the last layer; (f) the motion net's
    last-layer dynamic share tracked every epoch (same training: the tracker does not touch the
    weights or the batch order)."""
    from sdinterp.plugins.tracking import BiasTracker

    out: dict[str, float] = {}
    for kind in ("motion", "appearance"):
        task = scale.task("i3d", kind)
        tracker = None
        if kind == "motion":
            tracker = BiasTracker(task_clips(task, "probe", seed), layers=["stage3"], every=1,
                                  n_pairs=scale.n_pairs, batch_size=32, seed=seed)
        net = _trained(task, seed, hook=tracker)
        out[f"{kind}_val_acc"] = accuracy(TinyModelAdapter(net), task_clips(task, "val", seed))
        bias = _report(net, task, seed, scale, ["stage3"])["stage3"]
        out[f"{kind}_dyn_pct"], out[f"{kind}_dyn_units"] = bias.dynamic_percent, _dyn_units(bias)
        if tracker is not None:
            curve = np.array([r["stage3"].dynamic_percent for r in tracker.reports])
            final = curve[-1]
            # settled: the first epoch after which the share stays within 10 points of its final value
            off = np.nonzero(np.abs(curve - final) > 10.0)[0]
            settle = int(off[-1]) + 2 if len(off) else 1  # steps are 1-based epochs
            out["f_settle_epoch"], out["f_epochs"] = settle, len(curve)
            out["f_settle_fraction"] = settle / len(curve)
    return out


def measure_b(seed: int, scale: Scale) -> dict[str, float]:
    """(b) C2D-like nets (both tasks): static minus dynamic share at their most dynamic layer; the
    motion-class SlowFast-like net: fast minus slow dynamic share at the last stage."""
    out: dict[str, float] = {}
    margins = []
    for kind in ("motion", "appearance"):
        task = scale.task("c2d", kind)
        report = _report(_trained(task, seed), task, seed, scale)
        margins += [lb.static_percent - lb.dynamic_percent for lb in report]
    out["c2d_min_static_minus_dynamic"] = float(min(margins))
    task = scale.task("slowfast", "motion")
    net = _trained(task, seed)
    report = _report(net, task, seed, scale, ["slow.stage3", "fast.stage3"])
    out["slowfast_val_acc"] = accuracy(TinyModelAdapter(net), task_clips(task, "val", seed))
    out["slow_dyn_pct"], out["fast_dyn_pct"] = report["slow.stage3"].dynamic_percent, report["fast.stage3"].dynamic_percent
    return out


def measure_c(seed: int, scale: Scale) -> dict[str, float]:
    """(c) relative accuracy drop from training (and validating) on frame-shuffled clips, per task."""
    from sdinterp.plugins.dataset_bias import shuffled_training_drop

    out: dict[str, float] = {}
    for kind in ("motion", "appearance"):
        task = scale.task("i3d", kind)
        train_clips = task_clips(task, "train", seed)

        def train(clips: Any, task: TinyTask = task, train_clips: list = train_clips) -> nn.Module:
            same = len(clips) == len(train_clips) and all(np.array_equal(a.frames, b.frames) for a, b in zip(clips, train_clips))
            return _trained(task, seed) if same else train_tiny(task, seed, clips=clips)

        drop = shuffled_training_drop(train, train_clips,
                                      task_clips(task, "val", seed), accuracy, seed=seed)
        out[f"{kind}_std_acc"], out[f"{kind}_shuf_acc"], out[f"{kind}_rel_drop"] = drop.standard, drop.shuffled, drop.relative_drop
    return out


def measure_d(seed: int, scale: Scale, percent: float = 25.0) -> dict[str, float]:
    """(d) accuracy drop of the motion-class I3D-like net when ``percent`` % of its last layer's
    units are zeroed: the top dynamic ones, the top static ones, or random ones (5 draws)."""
    from sdinterp.plugins.ablation import removal_sweep

    task = scale.task("i3d", "motion")
    net = _trained(task, seed)
    adapter = sdinterp.adapt(net)
    bias = _report(net, task, seed, scale, ["stage3"])["stage3"]
    curves = removal_sweep(adapter, "stage3", bias, accuracy, task_clips(task, "val", seed), percents=[percent],
                           seeds=range(5))
    return {"baseline_acc": curves.baseline, **{f"drop_{k}": curves.drop(k)[0] for k in ("top_dynamic", "top_static", "random")}}


def measure_e(seed: int, scale: Scale, rates: tuple[float, ...] | None = None) -> dict[str, float]:
    """(e) dynamic-unit ratio of the last layer of motion-class I3D-like nets trained with a
    StaticDropout of rate r before the classifier (paper Sec. 5.2)."""
    from scipy.stats import spearmanr

    from sdinterp.plugins.static_dropout import StaticDropout, StaticDropoutFeeder

    rates = rates or ((0.0, 0.5) if scale == QUICK else (0.0, 0.1, 0.3, 0.5))
    out: dict[str, float] = {}
    ratios = []
    for r in rates:
        task = scale.task("i3d", "motion")
        if r == 0:
            bias = _report(_trained(task, seed), task, seed, scale, ["stage3"])["stage3"]
            ratios.append(_dyn_units(bias) / bias.n_units)
            out["ratio_r0"] = ratios[-1]
            continue
        torch.manual_seed(seed)  # the same init for every rate
        net = build(task.arch, task.classes, task.frames, task.size)
        net.fc = nn.Sequential(StaticDropout(rate=r, every=10), net.fc)
        hook = StaticDropoutFeeder(seed=seed)
        net = train_tiny(task, seed, model=net, hook=hook)
        bias = _report(net, task, seed, scale, ["stage3"])["stage3"]
        ratios.append(_dyn_units(bias) / bias.n_units)
        out[f"ratio_r{r:g}"] = ratios[-1]
    out["spearman"] = float(spearmanr(rates, ratios).statistic) if len(set(ratios)) > 1 else 0.0
    return out
