""":class:`BiasTracker`: a :class:`~sdinterp.interfaces.TrainingHook` recording a bias report every
N epochs of a plain PyTorch training loop (the MMEngine ``StaticDynamicHook`` wraps it).

The pairs are drawn and the inputs prepared once, before training (:class:`PreparedPairs`), so
every report uses the same data, pairs and seed (paper Sec. 4.3) and equals the single
``StaticDynamic`` report of the weights at that epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from sdinterp.interfaces import ModelAdapter, TrainingHook
from sdinterp.pipeline import RunConfig, StaticDynamic
from sdinterp.plugins.tracking.prepared import PreparedPairs
from sdinterp.plugins.tracking.series import BiasSeries
from sdinterp.report import BiasReport

__all__ = ["BiasTracker"]


class BiasTracker(TrainingHook):
    """Records the model's bias every ``every`` epochs (after epochs ``every``, 2·``every``, …).

    Steps are completed epochs (1 after the first epoch), as MMEngine names its checkpoints
    ``epoch_1.pth``, so a tracked run and its checkpoints line up.

    Args:
        data: the clips the reports are measured on.
        layers: the layers (default: every canonical layer).
        every: report every this many epochs.
        out_dir: if given, each report is written there as ``epoch_<n>.json`` and the series as
            ``series.json`` when training ends.
        adapter: a ready adapter of the trained model (default: ``sdinterp.adapt(model, **adapter_options)``
            at ``before_train``).
        adapter_options: options of :func:`sdinterp.adapt` (``num_frames``, ``crop_size``…).
        at_start: also record a report before the first epoch (step 0).
        n_pairs, batch_size, seed, protocol: the run's options, the same for every report
            (default: those of ``config``, else RunConfig's).
        config: a :class:`~sdinterp.RunConfig` for the other run options (e.g. ``bootstrap``).
        **sd_options: :class:`~sdinterp.StaticDynamic` options (samplers, scorer, threshold).

    Examples:
        >>> tracker = BiasTracker(val_clips, layers=["stage5"], every=5, out_dir="bias")  # doctest: +SKIP
        >>> tracker.before_train(model)                                                  # doctest: +SKIP
        >>> for epoch in range(epochs):                                                  # doctest: +SKIP
        ...     train_one_epoch(model); tracker.after_epoch(model, epoch)
        >>> tracker.series().series("stage5")                                            # doctest: +SKIP
    """

    def __init__(
        self,
        data: Any,
        layers: Any = None,
        every: int = 1,
        out_dir: str | Path | None = None,
        adapter: ModelAdapter | None = None,
        adapter_options: dict[str, Any] | None = None,
        at_start: bool = False,
        n_pairs: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        protocol: Any = None,
        config: RunConfig | None = None,
        **sd_options: Any,
    ):
        if isinstance(every, bool) or int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.data, self.layers, self.every = data, layers, int(every)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.adapter, self.adapter_options = adapter, dict(adapter_options or {})
        self.at_start = bool(at_start)
        given = {"n_pairs": n_pairs, "batch_size": batch_size, "seed": seed, "protocol": protocol}
        self.run_options = {"show_progress": False, **{k: v for k, v in given.items() if v is not None}}
        self.config = config
        self.sd_options = sd_options
        self.prepared: PreparedPairs | None = None
        self.steps: list[int] = []
        self.reports: list[BiasReport] = []

    def before_train(self, model: nn.Module) -> None:
        """Draw the pairs and prepare the inputs (once)."""
        from sdinterp.adapt import adapt

        target = self.adapter if self.adapter is not None else adapt(model, **self.adapter_options)
        if target.model is not model:
            raise ValueError("BiasTracker: the adapter given wraps another model than the one trained")
        sd = StaticDynamic(target, layers=self.layers, **self.sd_options)
        self.prepared = PreparedPairs(sd, self.data, self.config, **self.run_options)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.at_start:
            self.record(0)

    def record(self, step: int) -> BiasReport:
        """Measure the model's current weights now, as step ``step``."""
        if self.prepared is None:
            raise RuntimeError("BiasTracker.record before before_train(model)")
        report = self.prepared.report()
        self.steps.append(int(step))
        self.reports.append(report)
        if self.out_dir is not None:
            report.to_json(self.out_dir / f"epoch_{int(step)}.json", indent=1)
        return report

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        """After epoch ``epoch`` (from 0): a report when ``epoch + 1`` is a multiple of ``every``."""
        if (int(epoch) + 1) % self.every == 0:
            self.record(int(epoch) + 1)

    def after_train(self, model: nn.Module) -> None:
        if self.out_dir is not None and self.reports:
            self.series().to_json(self.out_dir / "series.json", indent=1)

    def series(self) -> BiasSeries:
        """The reports so far, as a series over epochs."""
        return BiasSeries(
            steps=list(self.steps), unit="epoch", reports=list(self.reports), sources=["training"] * len(self.reports)
        )
