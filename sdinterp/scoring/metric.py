"""``BiasMetric``: the stateful, torchmetrics-style face of the estimator, for features a user
computes in their own loop (training-dynamics tracking, custom pipelines).

Like torchmetrics' ``PearsonCorrCoef`` over its functional core, the class only holds state (a
:class:`~sdinterp.stats.MomentStore` of one layer) and calls the same functions
:func:`~sdinterp.scoring.estimate` uses: :func:`~sdinterp.stats.split_by_factor` to add pairs, the
registered scorer to score them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sdinterp.interfaces import Factor, UnitScorer
from sdinterp.report import LayerBias
from sdinterp.scoring.functional import check_threshold
from sdinterp.scoring.scorers import get_scorer
from sdinterp.stats import MomentStore, PairMoments, split_by_factor

__all__ = ["BiasMetric"]


class BiasMetric:
    """Accumulates pairs of pooled features per factor; ``compute()`` scores them.

    State is two :class:`~sdinterp.stats.PairMoments` (dynamic, static): exact, mergeable, and
    reducible over ``torch.distributed`` — never the features themselves.

    Args:
        scorer: a registered scorer name (``"official"`` default, ``"pearson"``, or a plugin's) or
            a UnitScorer.
        threshold: λ of the unit categories.
        layer: name used in messages and the result.

    Examples:
        >>> import numpy as np
        >>> m = BiasMetric(layer="stage5")
        >>> rng = np.random.default_rng(0)
        >>> for _ in range(3):
        ...     z1 = rng.normal(size=(8, 4)); z2 = z1 + 0.1 * rng.normal(size=(8, 4))
        ...     _ = m.update(z1, z2, ["static", "dynamic"] * 4)
        >>> m.compute().n_pairs
        {'dynamic': 12, 'static': 12}
    """

    def __init__(self, scorer: str | UnitScorer = "official", threshold: float = 0.5, layer: str = "features"):
        self.scorer = get_scorer(scorer)  # an unknown name fails here, before any update
        self.threshold, self.layer = check_threshold(threshold), layer
        self.reset()

    @property
    def moments(self) -> dict[Factor, PairMoments]:
        """The state: PairMoments per estimated factor."""
        return self.store[self.layer]

    def reset(self) -> None:
        self.store = MomentStore([self.layer])
        self._batches = 0

    def update(self, z1: Any, z2: Any, factors: Sequence[Any] | Any) -> BiasMetric:
        """Add pairs: ``z1``, ``z2`` (N, C); ``factors`` N labels or one label for all rows."""
        for factor, a, b in split_by_factor(z1, z2, factors):
            self.moments[factor].update(a, b, batch=self._batches)
        self._batches += 1
        return self

    def compute(self, info: Mapping[str, Any] | None = None) -> LayerBias:
        return self.scorer.score(self.layer, self.moments, self.threshold, info)

    def merge(self, other: BiasMetric) -> BiasMetric:
        self.store.merge(other.store)
        return self

    def all_reduce(self, group: Any = None) -> BiasMetric:
        """All-reduce the state over a torch.distributed group (no-op when not distributed)."""
        self.store.all_reduce(group)
        return self

    def state_dict(self) -> dict[str, Any]:
        return self.store.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> BiasMetric:
        store = MomentStore.from_state_dict(state)
        if store.layers() != [self.layer]:
            raise ValueError(f"BiasMetric state holds layers {store.layers()}, expected [{self.layer!r}]")
        self.store = store
        return self
