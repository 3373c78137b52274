"""``StaticDynamic``: the Captum-style entry point. It resolves the parts of a run (adapter, layers,
samplers, scorer, protocol) once, then hands them to :func:`~sdinterp.pipeline.accumulate.accumulate`
and scores the moments."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from sdinterp._version import __version__
from sdinterp.adapt import adapt
from sdinterp.capture import resolve_layers
from sdinterp.errors import DegenerateLayerError
from sdinterp.interfaces import Factor, LayerInfo, ModelAdapter, PairSampler, UnitScorer
from sdinterp.pipeline.accumulate import accumulate
from sdinterp.pipeline.config import RunConfig
from sdinterp.pipeline.executor import PSEUDO_PREFIX, RunObserver, resolve_pair_device
from sdinterp.pipeline.identity import bootstrap_identity, data_identity, model_identity, model_identity_later
from sdinterp.pipeline.inputs import as_samples, decode_only_views
from sdinterp.pipeline.protocols import get_protocol
from sdinterp.plugin_manager import get_registry
from sdinterp.report import BiasReport
from sdinterp.scoring.bootstrap import layer_intervals
from sdinterp.scoring.functional import check_threshold
from sdinterp.scoring.scorers import get_scorer
from sdinterp.stats import MomentStore
from sdinterp.validity import ValidityMonitor

__all__ = ["StaticDynamic"]


def _sampler(sampler: PairSampler | str, factor: Factor, role: str) -> PairSampler:
    made: PairSampler = get_registry().instance("sampler", sampler, PairSampler)
    if made.factor is not factor:
        raise ValueError(
            f"{role} must make {factor.value} pairs, but {made.describe()['name']!r} makes {made.factor.value} pairs"
        )
    return made


def _versions() -> dict[str, str]:
    return {
        "sdinterp": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


class StaticDynamic:
    """Static/dynamic bias of named layers of a video model (Kowal et al.), Captum-style.

    Args:
        model: an ``nn.Module`` (wrapped by the first adapter plugin that recognises it) or a
            :class:`~sdinterp.interfaces.ModelAdapter`.
        layers: layer names (canonical, raw module paths, or ``input:<path>``) or module objects
            (as Captum takes them); ``None`` = every canonical layer of the adapter.
        static_sampler: a PairSampler or registered name for static pairs (default ``frame_shuffle``).
        dynamic_sampler: a PairSampler or registered name for dynamic pairs (default ``restyle``).
        scorer: a registered scorer name (``"official"`` default: the reference code's estimator;
            ``"pearson"``: paper Eq. 1–2; or a plugin's) or a UnitScorer.
        threshold: λ of the unit-wise categories (0.5).
        **adapter_options: passed to :func:`sdinterp.adapt` when ``model`` is not an adapter.

    Examples:
        >>> sd = StaticDynamic(model, layers=["stage3", "stage5"])          # doctest: +SKIP
        >>> report = sd.attribute(clips, n_pairs=64, batch_size=8, seed=0)  # doctest: +SKIP
        >>> print(report)                                                   # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        layers: Iterable[str | torch.nn.Module] | str | torch.nn.Module | None = None,
        static_sampler: PairSampler | str | None = "frame_shuffle",
        dynamic_sampler: PairSampler | str | None = "restyle",
        scorer: str | UnitScorer = "official",
        threshold: float = 0.5,
        **adapter_options: Any,
    ):
        lam = check_threshold(threshold)  # as --threshold: refused before the model is probed
        self.adapter: ModelAdapter = adapt(model, **adapter_options)
        self.layer_infos: dict[str, LayerInfo] = resolve_layers(self.adapter, layers)
        self.static_sampler = _sampler(static_sampler or "frame_shuffle", Factor.STATIC, "static_sampler")
        self.dynamic_sampler = _sampler(dynamic_sampler or "restyle", Factor.DYNAMIC, "dynamic_sampler")
        self.scorer: UnitScorer = get_scorer(scorer)
        self.threshold = lam

    def attribute(
        self, data: Any, config: RunConfig | None = None, observers: Iterable[RunObserver] = (), **options: Any
    ) -> BiasReport:
        """Estimate the bias of every requested layer.

        Args:
            data: clips (see :func:`~sdinterp.pipeline.inputs.as_samples`); clip ``i`` of the run is
                ``data[i % len(data)]``.
            config: a :class:`RunConfig`; keyword ``options`` override its fields (``n_pairs``,
                ``batch_size``, ``seed``, ``protocol``, ``show_progress``, ``resume``,
                ``save_every``, ``num_workers``, ``early_exit``, ``bootstrap``, ``bootstrap_level``,
                ``prefetch``, ``validity``).
            observers: :class:`~sdinterp.pipeline.executor.RunObserver` objects that see every batch.

        Returns:
            BiasReport keyed by layer name.
        """
        config = RunConfig.from_options(config, **options)
        t0 = time.perf_counter()
        # A resumed run checks its identity before any forward; any other run only records it, so the
        # weights are hashed in the background while the first batch is prepared.
        model = None if config.resume else model_identity_later(self.adapter.model)
        identity = self.identity(data, config, model=model)
        monitor = self.validity_monitor() if config.validity else None
        t1 = time.perf_counter()
        waits: dict[str, float] = {}
        store = self._accumulate(data, config, identity, [*observers, *([monitor] if monitor else [])], waits)
        if model is not None:
            identity["model"] = model()
        t2 = time.perf_counter()
        report = self.score(store, seed=config.seed, identity=identity, level=config.bootstrap_level)
        if monitor is not None:
            report.validity = monitor.verdict(store, report)
        report.timings = {"identity": t1 - t0, "forwards": t2 - t1, **waits, "scoring": time.perf_counter() - t2}
        return report

    def validity_monitor(self) -> ValidityMonitor:
        """The validity check a run carries (docs/validity.md): controls, partner shifts and shared
        nuisances, measured on the run's own forwards (the model's output is not needed, so early
        exit stays on)."""
        return ValidityMonitor(self.adapter, self.layer_infos, use_output=False)

    def accumulate(
        self, data: Any, config: RunConfig | None = None, observers: Iterable[RunObserver] = (), **options: Any
    ) -> MomentStore:
        """Run the forwards and return the moments (mergeable; see :meth:`score`)."""
        config = RunConfig.from_options(config, **options)
        return self._accumulate(data, config, self.identity(data, config), list(observers))

    def _accumulate(
        self,
        data: Any,
        config: RunConfig,
        identity: dict[str, Any],
        observers: list[RunObserver],
        timings: dict[str, float] | None = None,
    ) -> MomentStore:
        clips = as_samples(decode_only_views(data, self.adapter, (self.static_sampler, self.dynamic_sampler)))
        protocol = get_protocol(config.protocol)
        return accumulate(
            self.adapter,
            self.layer_infos,
            self.static_sampler,
            self.dynamic_sampler,
            protocol,
            clips,
            config,
            identity,
            observers,
            timings,
        )

    def score(
        self, store: MomentStore, seed: int | None = None, identity: dict[str, Any] | None = None, level: float = 0.95
    ) -> BiasReport:
        """Score accumulated (possibly merged or reloaded) moments; moments that carry bootstrap
        replicates also get :attr:`~sdinterp.report.LayerBias.intervals` at ``level`` when their clips
        come from at least two source videos (a cluster bootstrap over one video has no spread to
        resample: the intervals would claim a certainty the data cannot give)."""
        counts = store.n_pairs()
        missing = [f for f in ("dynamic", "static") if counts.get(f, 0) == 0]
        if missing:
            raise ValueError(
                f"no {' or '.join(missing)} pairs were accumulated (pairs per factor: {counts}); increase n_pairs"
            )
        layers, skipped = {}, {}
        resample = bool(store.replicates) and len(store.clusters) != 1
        for name in store.layers():
            if name.startswith(PSEUDO_PREFIX):  # an observer's measurement, not a layer of the model
                continue
            info = self.layer_infos[name].describe() if name in self.layer_infos else {}
            try:
                layers[name] = self.scorer.score(name, store[name], self.threshold, info)
                if resample:
                    layers[name].intervals = layer_intervals(
                        self.scorer, name, store[name], layers[name], self.threshold, info, level
                    )
            except DegenerateLayerError as exc:
                skipped[name] = str(exc)
        report = BiasReport(layers=layers, identity=identity or {}, seed=seed, versions=_versions(), skipped=skipped)
        if store.clusters:
            report.sampling = {"clips": sum(store.clusters.values()), "videos": len(store.clusters)}
        return report

    def identity(
        self, data: Any, config: RunConfig, model: Callable[[], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """What makes a run this run (inputs, model and weights, adapter options, samplers, scorer,
        protocol, seed, pairs): recorded in its report and checked when resuming.

        ``model``: the model's identity being hashed (:func:`~sdinterp.pipeline.identity.model_identity_later`);
        its entry is then ``None`` until the caller fills it in. Default: hashed here."""
        try:
            n_clips = len(data)
        except TypeError:
            n_clips = None
        device = resolve_pair_device(self.adapter, self.static_sampler, self.dynamic_sampler, config.pair_device)
        return {
            "inputs": data_identity(data),
            "model": model_identity(self.adapter.model) if model is None else None,
            "protocol": get_protocol(config.protocol).describe()["name"],
            "n_pairs": config.n_pairs,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "n_clips": n_clips,
            "layers": list(self.layer_infos),
            "static_sampler": self.static_sampler.describe(),
            "dynamic_sampler": self.dynamic_sampler.describe(),
            "scorer": self.scorer.describe()["name"],
            "threshold": self.threshold,
            "adapter": self.adapter.describe(),
            **bootstrap_identity(config.bootstrap, config.bootstrap_level),
            # A resumed run must carry the check over all its batches, or over none.
            **({"validity": True} if config.validity else {}),
            # The model's device and the pairs' may change float rounding (a convolution's sums, a
            # grey level on a few pixels of a restyle): recorded, and part of what a resume must match.
            **({"device": str(self.adapter.device)} if self.adapter.device.type != "cpu" else {}),
            **({"pair_device": str(device)} if device is not None else {}),
        }
