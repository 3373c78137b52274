"""The data side of a bias report, computed once and reused for many weights of one model.

Training dynamics (paper Sec. 4.3, Fig. 10; ``docs/method.md`` §7) measures every checkpoint "with
the same stylized validation data, pairs and seed". :class:`PreparedPairs` draws the pairs and
builds every batch's model input once — exactly the batches :meth:`StaticDynamic.attribute` would
build (same clips, per-clip seeds, layout and batch boundaries) — and :meth:`PreparedPairs.report`
runs only the forwards for the weights the model holds now. Each report is therefore identical to
the single ``StaticDynamic(...).attribute(...)`` report of those weights, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sdinterp.pipeline import Executor, RunConfig, RunObserver, RunPlan, StaticDynamic
from sdinterp.pipeline.identity import model_identity
from sdinterp.pipeline.inputs import as_samples, decode_only_views
from sdinterp.pipeline.protocols import get_protocol
from sdinterp.report import BiasReport
from sdinterp.stats import MomentStore

__all__ = ["PreparedPairs"]


class PreparedPairs:
    """Pairs and prepared model inputs of one run, for re-scoring a model as its weights change.

    Args:
        sd: the :class:`~sdinterp.StaticDynamic` of the model (its adapter, layers, samplers, scorer).
        data: the clips, as :meth:`StaticDynamic.attribute` takes them.
        config: a :class:`~sdinterp.RunConfig`; keyword ``options`` override its fields (``n_pairs``,
            ``batch_size``, ``seed``, ``protocol``; resuming and distribution do not apply here).

    The prepared inputs stay in memory (CPU): about 3 · ``n_pairs`` clips of the model's input size
    under the shared-anchor protocol.

    Examples:
        >>> sd = StaticDynamic(model, layers=["stage5"])             # doctest: +SKIP
        >>> prepared = PreparedPairs(sd, clips, n_pairs=64, seed=0)   # doctest: +SKIP
        >>> for path in checkpoints:                                  # doctest: +SKIP
        ...     model.load_state_dict(torch.load(path)); reports.append(prepared.report())
    """

    def __init__(self, sd: StaticDynamic, data: Any, config: RunConfig | None = None, **options: Any):
        self.sd = sd
        self.config = RunConfig.from_options(config, **options)
        if self.config.resume is not None:
            raise ValueError("PreparedPairs does not resume runs; leave resume unset")
        adapter, cfg = sd.adapter, self.config
        clips = as_samples(decode_only_views(data, adapter, (sd.static_sampler, sd.dynamic_sampler)))
        t0 = time.perf_counter()
        #: The run's plan and executor: the same batches, streams and bootstrap weights as a single run.
        self.plan = RunPlan.build(get_protocol(cfg.protocol), len(clips), cfg.n_pairs, cfg.batch_size, cfg.seed)
        self.executor = Executor(
            adapter,
            sd.layer_infos,
            sd.static_sampler,
            sd.dynamic_sampler,
            replicates=cfg.bootstrap,
            early_exit=cfg.early_exit,
        )
        #: One entry per forward: (batch plan, prepared model input, samples, pairs, cluster keys); the
        #: samples are kept only for the validity check, which reads their frames.
        self.batches: list[tuple[Any, Any, Any, Any, list[str]]] = []
        for batch in self.plan.batches:
            inputs, pairs, keys = self.executor.prepare(self.plan, batch, [clips[c.source] for c in batch.clips])
            self.batches.append((batch, adapter.prepare(inputs), inputs if cfg.validity else None, pairs, keys))
        self.prepare_seconds = time.perf_counter() - t0
        # The run's identity without its model part, which is recomputed for every set of weights.
        self._identity = sd.identity(data, cfg)

    def identity(self) -> dict[str, Any]:
        """The identity a single run of the model's current weights records."""
        return {**self._identity, "model": model_identity(self.sd.adapter.model)}

    def accumulate(self, observers: Sequence[RunObserver] = ()) -> MomentStore:
        """The moments of every layer for the model's current weights (forwards only)."""
        store = MomentStore(self.sd.layer_infos, replicates=self.config.bootstrap)
        self.executor.observers = list(observers)
        try:
            return self.executor.run(self.plan, self.batches, store)
        finally:
            self.executor.observers = []

    def report(self) -> BiasReport:
        """The bias report of the model's current weights: the same as a single run's."""
        t0 = time.perf_counter()
        identity = self.identity()
        monitor = self.sd.validity_monitor() if self.config.validity else None
        t1 = time.perf_counter()
        store = self.accumulate([monitor] if monitor is not None else [])
        t2 = time.perf_counter()
        report = self.sd.score(store, seed=self.config.seed, identity=identity, level=self.config.bootstrap_level)
        if monitor is not None:
            report.validity = monitor.verdict(store, report)
        report.timings = {"identity": t1 - t0, "forwards": t2 - t1, "scoring": time.perf_counter() - t2}
        return report
