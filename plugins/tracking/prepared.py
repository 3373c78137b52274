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
from typing import Any

import torch

from sdinterp.capture import LayerCapture
from sdinterp.pipeline import RunConfig, StaticDynamic
from sdinterp.pipeline.accumulate import _checked, build_batch
from sdinterp.pipeline.identity import model_identity
from sdinterp.pipeline.inputs import as_samples, decode_only_views, to_device
from sdinterp.pipeline.protocols import get_protocol
from sdinterp.report import BiasReport
from sdinterp.stats import MomentStore

__all__ = ["PreparedPairs"]


def _poisson(seed: int, clips: range, replicates: int) -> Any:
    from sdinterp.replicates import poisson_weights

    return poisson_weights(seed, clips, replicates)


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
        protocol = get_protocol(cfg.protocol)
        clips = as_samples(decode_only_views(data, adapter))
        n_clips = protocol.n_clips(cfg.n_pairs)
        per_batch = max(1, cfg.batch_size // protocol.max_forwards_per_clip())
        t0 = time.perf_counter()
        #: One entry per forward: (prepared input, pair plan, rows, batch index, clip indices).
        self.batches: list[tuple[Any, Any, int, int, range]] = []
        for b0 in range(0, n_clips, per_batch):
            idx = range(b0, min(b0 + per_batch, n_clips))
            sources = [clips[i % len(clips)] for i in idx]
            inputs, plan = build_batch(adapter, protocol, sd.static_sampler, sd.dynamic_sampler, sources, idx, cfg.seed)
            self.batches.append((adapter.prepare(inputs), plan, len(inputs), b0 // per_batch, idx))
        self.prepare_seconds = time.perf_counter() - t0
        # The run's identity without its model part, which is recomputed for every set of weights.
        self._identity = sd.identity(data, cfg)

    def identity(self) -> dict[str, Any]:
        """The identity a single run of the model's current weights records."""
        return {**self._identity, "model": model_identity(self.sd.adapter.model)}

    def accumulate(self) -> MomentStore:
        """The moments of every layer for the model's current weights (forwards only)."""
        adapter, cfg = self.sd.adapter, self.config
        model, device = adapter.model, adapter.device
        # Bootstrap replicates, when the run asks for them, exactly as the single run draws them:
        # a pair's Poisson counts are its clip's, keyed by the clip index (sdinterp.replicates).
        replicates = int(getattr(cfg, "bootstrap", 0) or 0)
        store = MomentStore(self.sd.layer_infos, replicates=replicates) if replicates else MomentStore(self.sd.layer_infos)
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode(), LayerCapture(model, self.sd.layer_infos, early_exit=cfg.early_exit) as cap:
                for x, plan, rows, batch, clips in self.batches:
                    cap.run(lambda: adapter.forward(to_device(x, device)))
                    feats = _checked(cap.collect(), self.sd.layer_infos, rows, batch)
                    counts = _poisson(cfg.seed, clips, replicates) if replicates else None
                    for name, z in feats.items():
                        for factor, first, second in plan:
                            if counts is None:
                                store[name][factor].update(z[first], z[second], batch=batch)
                            else:
                                store[name][factor].update(z[first], z[second], batch=batch, weights=counts[:, first])
        finally:
            model.train(was_training)
        return store

    def report(self) -> BiasReport:
        """The bias report of the model's current weights: the same as a single run's."""
        t0 = time.perf_counter()
        identity = self.identity()
        t1 = time.perf_counter()
        store = self.accumulate()
        t2 = time.perf_counter()
        level = getattr(self.config, "bootstrap_level", None)
        report = (self.sd.score(store, seed=self.config.seed, config=identity) if level is None
                  else self.sd.score(store, seed=self.config.seed, config=identity, level=level))
        report.timings = {"identity": t1 - t0, "forwards": t2 - t1, "scoring": time.perf_counter() - t2}
        return report
