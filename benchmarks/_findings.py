"""The measurements of findings (a)–(d) and (f) behind benchmarks/reproduce_findings.py (issue #22),
on the tiny nets of :mod:`sdinterp.plugins.tiny_models` trained from one seed.

Each ``measure_*`` function returns ``{finding: {name: number}}`` for one training seed; the script
merges the seeds and judges each finding's pre-stated criteria (:mod:`_finding_stats`). Every
number about unit scores is measured twice: with the ground-truth dynamic pairs (``synthetic_restyle``:
the same video re-rendered in another generator style; suffix ``_gt``) and with the toolkit's default
pairs (``restyle``: ``natural_colour``, anchor original; suffix ``_def``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np
from torch import nn

import sdinterp
from sdinterp.plugins.tiny_models import TinyTask, accuracy, task_clips, train_tiny
from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter
from sdinterp.plugins.tiny_models.nets import TinyVideoNet


@dataclasses.dataclass(frozen=True)
class Scale:
    """How big a run is.

    Attributes:
        train_videos, val_videos, epochs: the tiny nets' training (``val_videos`` also sizes the
            probe set the bias is measured on).
        n_pairs: pairs per factor of every bias report.
        seeds: the default training seeds.
        rates: StaticDropout rates of finding (e).
        track_every: finding (f) measures the bias every this many epochs.
        bootstrap: replicates of the within-run bootstrap of the judged reports.
        g_quick: finding (g) at its reduced size.
    """

    train_videos: int = 512
    val_videos: int = 128
    epochs: int = 30
    n_pairs: int = 128
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    rates: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
    track_every: int = 1
    bootstrap: int = 100
    g_quick: bool = False

    def task(self, arch: str, kind: str, **kw: Any) -> TinyTask:
        return TinyTask(
            arch=arch,
            kind=kind,
            train_videos=self.train_videos,
            val_videos=self.val_videos,
            epochs=self.epochs,
            classes=4 if kind == "joint" else 2,
            **kw,
        )


# The motion task needs 512 clips and 30 epochs to train reliably: the I3D-like net's validation
# accuracy over seeds 0/1/2 was 0.95/0.70/0.98 at 384 clips x 20 epochs, 0.83/0.97/0.98 at 512 x 20,
# 0.96/0.89/0.98 at 384 x 30 and 0.95/0.98/1.00 at 512 x 30 (measured); at 256 x 12 it does not learn
# (0.52), nor at 320 x 20 (0.56/0.69), 256 x 20 or 320 x 16 with batches of 8 (0.51-0.61, seeds 0/1).
# So the quick scale (two seeds, under 3 minutes) cannot train a motion net: it runs every finding
# end to end on nets trained at 256 x 20 (the appearance, joint and both-cues tasks are learned there;
# the motion task is not, which its validation accuracies show), with fewer pairs, one StaticDropout
# rate and no bootstrap. Its verdicts are indicative only.
FULL = Scale()
QUICK = Scale(
    train_videos=256,
    val_videos=48,
    epochs=20,
    n_pairs=48,
    seeds=(0, 1),
    rates=(0.5,),
    track_every=4,
    bootstrap=0,
    g_quick=True,
)

#: The two kinds of dynamic pairs: ground truth (generator re-renderings) and the toolkit's default.
PAIRS = {"gt": "synthetic_restyle", "def": "restyle"}

_TRAINED: dict[tuple[TinyTask, int], TinyVideoNet] = {}


def _embedded(task: TinyTask, seed: int) -> TinyVideoNet | None:
    """The committed seed-0 checkpoint of ``task`` when it *is* ``train_tiny(task, 0)``: the same
    training settings (the validation count does not enter training) and a machine of the kind
    that made it (torch build and CPU capability; there training regenerates it bit for bit,
    tests/test_tiny_models.py). Otherwise ``None``, and the net is trained."""
    from sdinterp.plugins.tiny_models.command import machine
    from sdinterp.plugins.tiny_models.embedded import checkpoint_name, embedded_index, load_embedded

    entry = embedded_index().get(checkpoint_name(task.arch, task.kind, 0)) if seed == 0 else None
    if not entry or machine() != {"torch": entry["torch"], "cpu_capability": entry["cpu_capability"]}:
        return None
    if TinyTask(**entry["task"]) != dataclasses.replace(task, val_videos=entry["task"]["val_videos"]):
        return None
    return cast(TinyVideoNet, load_embedded(task.arch, task.kind))


def trained(task: TinyTask, seed: int, hook: Any = None) -> TinyVideoNet:
    """``train_tiny(task, seed)``, memoised within the process (a hook that only measures, like
    BiasTracker, leaves the training unchanged, so its net is memoised too); seed 0's standard
    nets are the embedded checkpoints where those are exactly what training would give."""
    if hook is None and (task, seed) not in _TRAINED:
        embedded = _embedded(task, seed)
        if embedded is not None:
            _TRAINED[(task, seed)] = embedded
    if (task, seed) not in _TRAINED or hook is not None:
        _TRAINED[(task, seed)] = train_tiny(task, seed, hook=hook)
    return _TRAINED[(task, seed)]


def report(
    net: nn.Module, task: TinyTask, seed: int, scale: Scale, layers: list[str], pairs: str, bootstrap: bool = False
) -> Any:
    """The bias report of ``layers`` on the task's probe clips with dynamic pairs ``PAIRS[pairs]``."""
    sd = sdinterp.StaticDynamic(net, layers=layers, dynamic_sampler=PAIRS[pairs])
    return sd.attribute(
        task_clips(task, "probe", seed),
        n_pairs=scale.n_pairs,
        batch_size=32,
        seed=seed,
        show_progress=False,
        bootstrap=scale.bootstrap if bootstrap and scale.bootstrap else 0,
    )


def layer_numbers(bias: Any, prefix: str) -> dict[str, float]:
    """A layer's continuous scores and, beside them, its Dyn.% and unit counts (``prefix_*``)."""
    c = bias.category_counts
    out = {
        f"{prefix}_sdyn": float(bias.scores["dynamic"]),
        f"{prefix}_sstat": float(bias.scores["static"]),
        f"{prefix}_unit_dyn": float(np.mean(bias.unit_scores["dynamic"][bias.valid])) if bias.valid.any() else 0.0,
        f"{prefix}_unit_stat": float(np.mean(bias.unit_scores["static"][bias.valid])) if bias.valid.any() else 0.0,
        f"{prefix}_dyn_pct": float(bias.dynamic_percent),
        f"{prefix}_stat_pct": float(bias.static_percent),
        f"{prefix}_dyn_units": float(c["dynamic"]),
        f"{prefix}_stat_units": float(c["static"]),
        f"{prefix}_ratio": c["dynamic"] / (c["dynamic"] + c["static"]) if c["dynamic"] + c["static"] else 0.0,
    }
    if bias.intervals:  # the within-run bootstrap of the layer scores (poisson over clips)
        lo, hi = bias.intervals["scores"]["dynamic"]
        out[f"{prefix}_sdyn_boot_hw"] = (float(hi) - float(lo)) / 2
    return out


def _settle_fraction(curve: np.ndarray, tolerance: float) -> float:
    """Share of training before the curve stays within ``tolerance`` of its final value."""
    off = np.nonzero(np.abs(curve - curve[-1]) > tolerance)[0]
    settle = int(off[-1]) + 2 if len(off) else 1  # steps are 1-based
    return settle / len(curve)


def measure_core(seed: int, scale: Scale) -> dict[str, dict[str, float]]:
    """(a) motion- vs appearance-class I3D-like nets at stage3; (f) the motion net's stage3 tracked
    during its training; (d) removal of its stage3 units; (c) training on frame-shuffled clips.

    One unit of work: (c) and (d) reuse the nets (a) trains."""
    from sdinterp.plugins.tracking import BiasTracker

    a: dict[str, float] = {}
    f: dict[str, float] = {}
    nets: dict[str, TinyVideoNet] = {}
    for kind in ("motion", "appearance"):
        task = scale.task("i3d", kind)
        tracker = None
        if kind == "motion":
            tracker = BiasTracker(
                task_clips(task, "probe", seed),
                layers=["stage3"],
                every=scale.track_every,
                dynamic_sampler=PAIRS["gt"],
                n_pairs=scale.n_pairs,
                batch_size=32,
                seed=seed,
            )
        nets[kind] = net = trained(task, seed, hook=tracker)
        a[f"{kind}_val_acc"] = accuracy(TinyModelAdapter(net), task_clips(task, "val", seed))
        for p in PAIRS:
            a.update(
                layer_numbers(report(net, task, seed, scale, ["stage3"], p, bootstrap=True)["stage3"], f"{kind}_{p}")
            )
        if tracker is not None:
            sdyn = np.array([r["stage3"].scores["dynamic"] for r in tracker.reports])
            pct = np.array([r["stage3"].dynamic_percent for r in tracker.reports])
            # settled: from the first report after which S_dyn stays within 10% of the curve's range
            # of its final value (pre-stated; the Dyn.% version, 10 points, is reported beside)
            f["settle_fraction"] = _settle_fraction(sdyn, 0.1 * float(np.ptp(sdyn)))
            f["settle_fraction_dyn_pct"] = _settle_fraction(pct, 10.0)
            f["reports"], f["final_sdyn"], f["sdyn_range"] = len(sdyn), float(sdyn[-1]), float(np.ptp(sdyn))
    return {"a": a, "f": f, "d": _removal(nets["motion"], seed, scale), "c": _shuffled(nets, seed, scale)}


#: The removal curve of (d): percentages of the last layer's units zeroed (paper Fig. 11 removes top-k).
REMOVAL_PERCENTS = (12.5, 25.0, 50.0, 75.0)


def _removal(net: TinyVideoNet, seed: int, scale: Scale) -> dict[str, float]:
    """(d) accuracy drop of the motion net when a share of stage3's units is zeroed (paper Sec. 5.1,
    Fig. 11): the top dynamic, the top static (ranked by each pair kind's unit softmax) or random
    ones (5 draws), averaged over :data:`REMOVAL_PERCENTS`."""
    from sdinterp.plugins.ablation import removal_sweep

    task = scale.task("i3d", "motion")
    adapter = sdinterp.adapt(net)
    val = task_clips(task, "val", seed)
    out: dict[str, float] = {}
    for p in PAIRS:
        bias = report(net, task, seed, scale, ["stage3"], p)["stage3"]
        curves = removal_sweep(adapter, "stage3", bias, accuracy, val, percents=list(REMOVAL_PERCENTS), seeds=range(5))
        out["baseline_acc"] = float(curves.baseline)
        for k in ("top_dynamic", "top_static", "random"):
            drops = [float(x) for x in curves.drop(k)]
            name = k if k == "random" else f"{k}_{p}"
            out[f"drop_{name}"] = float(np.mean(drops))
            out.update({f"drop_{name}@{q:g}": d for q, d in zip(REMOVAL_PERCENTS, drops)})
    return out


def _shuffled(nets: dict[str, TinyVideoNet], seed: int, scale: Scale) -> dict[str, float]:
    """(c) relative accuracy drop from training (and validating) on frame-shuffled clips, per task."""
    from sdinterp.plugins.dataset_bias import shuffled_training_drop

    out: dict[str, float] = {}
    for kind in ("motion", "appearance"):
        task = scale.task("i3d", kind)
        train_clips = task_clips(task, "train", seed)

        def train(clips: Any, task: TinyTask = task, train_clips: list = train_clips, kind: str = kind) -> nn.Module:
            same = len(clips) == len(train_clips) and all(
                np.array_equal(x.frames, y.frames) for x, y in zip(clips, train_clips)
            )
            return nets[kind] if same else train_tiny(task, seed, clips=clips)

        drop = shuffled_training_drop(train, train_clips, task_clips(task, "val", seed), accuracy, seed=seed)
        out[f"{kind}_std_acc"], out[f"{kind}_shuf_acc"], out[f"{kind}_rel_drop"] = (
            drop.standard,
            drop.shuffled,
            drop.relative_drop,
        )
    return out


#: Finding (b)'s nets: C2D-like on the motion and appearance tasks (every layer), and SlowFast-like
#: and SlowOnly-like on the joint task (class = colour x direction: both cues needed).
B_LAYERS = {"slowfast": ["slow.stage2", "slow.stage3", "fast.stage2", "fast.stage3"], "slowonly": ["stage2", "stage3"]}


def measure_b(seed: int, scale: Scale) -> dict[str, dict[str, float]]:
    """(b) C2D-like nets: the smallest S_stat − S_dyn over their layers and both tasks; on the joint
    task, SlowFast's fast vs slow pathway and its slow pathway vs SlowOnly (S_dyn)."""
    out: dict[str, float] = {}
    for p in PAIRS:
        margins = []
        for kind in ("motion", "appearance"):
            task = scale.task("c2d", kind)
            net = trained(task, seed)
            if p == "gt":
                out[f"c2d_{kind}_val_acc"] = accuracy(TinyModelAdapter(net), task_clips(task, "val", seed))
            for lb in report(net, task, seed, scale, list(net.canonical_layers), p):
                margins.append(lb.scores["static"] - lb.scores["dynamic"])
                out[f"c2d_{kind}_{lb.layer}_dyn_pct_{p}"] = float(lb.dynamic_percent)
                out[f"c2d_{kind}_{lb.layer}_stat_pct_{p}"] = float(lb.static_percent)
        out[f"c2d_min_margin_{p}"] = float(min(margins))
    for arch, layers in B_LAYERS.items():
        task = scale.task(arch, "joint")
        net = trained(task, seed)
        out[f"{arch}_joint_val_acc"] = accuracy(TinyModelAdapter(net), task_clips(task, "val", seed))
        for p in PAIRS:
            rep = report(net, task, seed, scale, layers, p, bootstrap=p == "gt")
            for layer in layers:
                out.update(layer_numbers(rep[layer], f"{arch}_{layer.replace('.', '_')}_{p}"))
    return {"b": out}
