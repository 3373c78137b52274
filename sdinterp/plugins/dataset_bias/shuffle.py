"""The shuffled-frame experiments: does a dataset (or a model) need the order of the frames?

* :func:`shuffle_test` — one model evaluated on normal and on frame-shuffled clips; relative
  accuracy Acc_shuf / Acc_normal (StaticDropout evaluation, paper Fig. 13 left; ``docs/method.md`` §7).
* :func:`shuffled_training_drop` — the same training function run on normal and on frame-shuffled
  clips, each model validated the way it was trained; relative drop
  (Acc_std − Acc_shuf) / Acc_std × 100 (paper Sec. 4.2.1, Fig. 6 right).

Shuffling for evaluation permutes the model's own frames (each view of the clip, as the
``frame_shuffle`` sampler makes static pairs); shuffling for training permutes all frames of each
clip, so a training function with its own temporal sampling still sees no order. Clip i's
permutation comes from ``numpy.random.default_rng([seed, i])``.

A metric must return a finite number: a nan or an infinity (or something that is not a number) is
refused where it is returned, never recorded as a result. A ratio with a zero denominator is
undefined and written as ``null``, not as nan.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sdinterp.interfaces import ModelAdapter, Sample
from sdinterp.pipeline.inputs import as_samples
from sdinterp.task_metric import finite_metric

__all__ = [
    "ShuffleResult",
    "TrainingDrop",
    "shuffle_test",
    "shuffled_training_drop",
    "shuffled_views",
    "shuffled_frames",
]


def shuffled_views(adapter: ModelAdapter, clips: Any, seed: int = 0) -> list[Sample]:
    """Each clip with the frames the model takes put in a random order (every view its own permutation)."""
    from sdinterp.plugin_manager import get_registry

    shuffle = get_registry().create("sampler", "sdinterp:frame_shuffle")  # the built-in, whatever else is installed
    samples = as_samples(clips)
    return [shuffle.partner(adapter.views(samples[i]), np.random.default_rng([seed, i])) for i in range(len(samples))]


def shuffled_frames(clips: Any, seed: int = 0) -> list[Sample]:
    """Each clip with all of its frames (and flow) in a random order (for training on shuffled clips)."""
    samples = as_samples(clips)
    out = []
    for i in range(len(samples)):
        s = samples[i]
        perm = np.random.default_rng([seed, i]).permutation(s.num_frames)
        out.append(
            s.replace(
                frames=s.frames[perm],
                flow=None if s.flow is None else s.flow[perm],
                views=None,
                frame_indices=None if s.frame_indices is None else np.asarray(s.frame_indices)[perm],
                meta=dict(s.meta, shuffled=True),
            )
        )
    return out


@dataclasses.dataclass
class ShuffleResult:
    """A metric on normal and on frame-shuffled clips.

    Attributes:
        normal: the metric on the clips as they are.
        shuffled: the metric on the same clips with their frames shuffled.
        n_clips: how many clips.
        seed: the seed of the permutations.
    """

    normal: float
    shuffled: float
    n_clips: int
    seed: int

    @property
    def relative(self) -> float:
        """Acc_shuf / Acc_normal: near 1, the model does not use the order of the frames."""
        return self.shuffled / self.normal if self.normal else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready numbers; ``relative`` is ``None`` where it is undefined."""
        return {
            "normal": self.normal,
            "shuffled": self.shuffled,
            "relative": self.relative if math.isfinite(self.relative) else None,
            "n_clips": self.n_clips,
            "seed": self.seed,
        }

    def table(self) -> str:
        relative = (
            f"{self.relative:.4f}" if math.isfinite(self.relative) else "undefined (the metric is 0 on normal clips)"
        )
        return (
            f"normal clips: {self.normal:.4f}\nshuffled clips: {self.shuffled:.4f}\n"
            f"relative (shuffled / normal): {relative}  ({self.n_clips} clips, seed {self.seed})"
        )


def shuffle_test(
    adapter: ModelAdapter, clips: Any, metric: Callable[[ModelAdapter, Sequence[Sample]], float], seed: int = 0
) -> ShuffleResult:
    """Evaluate ``metric`` on normal and on frame-shuffled clips.

    Args:
        adapter: the model's adapter.
        clips: the (labelled) clips; ``metric`` reads their labels.
        metric: ``metric(adapter, samples) -> float``; the shuffled samples carry the views the model
            takes (permuted), the normal ones have ``adapter.views`` applied too.
        seed: seed of the permutations.

    Examples:
        >>> result = shuffle_test(adapter, val_clips, top1)   # doctest: +SKIP
        >>> result.relative                                    # doctest: +SKIP
        0.31
    """
    samples = as_samples(clips)
    normal = [adapter.views(samples[i]) for i in range(len(samples))]
    return ShuffleResult(
        normal=finite_metric(metric(adapter, normal), metric, "on normal clips"),
        shuffled=finite_metric(
            metric(adapter, shuffled_views(adapter, samples, seed)), metric, "on frame-shuffled clips"
        ),
        n_clips=len(normal),
        seed=int(seed),
    )


@dataclasses.dataclass
class TrainingDrop:
    """Training on shuffled vs normal clips (paper Fig. 6 right).

    Attributes:
        standard: the metric of the model trained and validated on normal clips.
        shuffled: the metric of the model trained and validated on frame-shuffled clips.
    """

    standard: float
    shuffled: float
    seed: int

    @property
    def relative_drop(self) -> float:
        """(Acc_std − Acc_shuf) / Acc_std × 100: large when the dataset needs the order of the frames."""
        return 100.0 * (self.standard - self.shuffled) / self.standard if self.standard else float("nan")

    def to_dict(self) -> dict[str, Any]:
        drop = self.relative_drop
        return {
            "standard": self.standard,
            "shuffled": self.shuffled,
            "relative_drop_percent": drop if math.isfinite(drop) else None,
            "seed": self.seed,
        }


def shuffled_training_drop(
    train: Callable[[Sequence[Sample]], Any],
    train_clips: Any,
    val_clips: Any,
    metric: Callable[[ModelAdapter, Sequence[Sample]], float],
    seed: int = 0,
    adapter_options: dict[str, Any] | None = None,
) -> TrainingDrop:
    """Train once on normal and once on frame-shuffled clips; validate each the way it was trained.

    Args:
        train: ``train(clips) -> model or adapter``, the user's training (same hyper-parameters both
            times, as the paper initialises both runs alike).
        train_clips: labelled training clips.
        val_clips: labelled validation clips.
        metric: ``metric(adapter, samples) -> float``.
        seed: seed of the permutations.
        adapter_options: options of :func:`sdinterp.adapt` for trained models that are not adapters.

    Returns:
        TrainingDrop with the relative drop.
    """
    from sdinterp.adapt import adapt

    standard = adapt(train(list(as_samples(train_clips))), **(adapter_options or {}))
    shuffled = adapt(train(shuffled_frames(train_clips, seed)), **(adapter_options or {}))
    val = as_samples(val_clips)
    acc_std = finite_metric(
        metric(standard, [standard.views(val[i]) for i in range(len(val))]), metric, "trained normally"
    )
    acc_shuf = finite_metric(metric(shuffled, shuffled_views(shuffled, val, seed)), metric, "trained on shuffled clips")
    return TrainingDrop(standard=acc_std, shuffled=acc_shuf, seed=int(seed))
