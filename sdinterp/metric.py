"""``BiasMetric``: the stateful, torchmetrics-style face of the estimator, for features a user
computes in their own loop (training-dynamics tracking, custom pipelines)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from sdinterp.interfaces import ESTIMATED_FACTORS, Factor
from sdinterp.report import LayerBias
from sdinterp.scoring import SCORERS, score_layer
from sdinterp.stats import PairMoments

__all__ = ["BiasMetric"]


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


class BiasMetric:
    """Accumulates pairs of pooled features per factor; ``compute()`` scores them.

    State is two :class:`~sdinterp.stats.PairMoments` (dynamic, static): exact, mergeable, and
    reducible over ``torch.distributed`` — never the features themselves.

    Args:
        method: ``"official"`` (default) or ``"pearson"``.
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

    def __init__(self, method: str = "official", threshold: float = 0.5, layer: str = "features"):
        if method not in SCORERS:
            raise ValueError(f"unknown scoring method {method!r}; valid: {', '.join(SCORERS)}")
        self.method, self.threshold, self.layer = method, float(threshold), layer
        self.reset()

    def reset(self) -> None:
        self.moments: dict[Factor, PairMoments] = {f: PairMoments(name=self.layer) for f in ESTIMATED_FACTORS}
        self._batches = 0

    def update(self, z1: Any, z2: Any, factors: Sequence[Any] | Any) -> "BiasMetric":
        """Add pairs: ``z1``, ``z2`` (N, C); ``factors`` N labels or one label for all rows."""
        a, b = _numpy(z1), _numpy(z2)
        if a.ndim != 2 or a.shape != b.shape:
            raise ValueError(f"z1 and z2 must both be (N, C), got {a.shape} and {b.shape}")
        if isinstance(factors, (str, Factor, int, np.integer)):
            factors = [factors] * a.shape[0]
        labels = [Factor.parse(f) for f in factors]
        if len(labels) != a.shape[0]:
            raise ValueError(f"got {len(labels)} factor labels for {a.shape[0]} pairs")
        if any(f is Factor.IDENTICAL for f in labels):
            raise ValueError("pairs cannot be labelled 'identical': that factor is the constant S = 1 baseline")
        codes = np.array([f.code for f in labels])
        for f in ESTIMATED_FACTORS:
            rows = codes == f.code
            if rows.any():
                self.moments[f].update(a[rows], b[rows], batch=self._batches)
        self._batches += 1
        return self

    def compute(self, info: Mapping[str, Any] | None = None) -> LayerBias:
        return score_layer(self.layer, self.moments, self.method, self.threshold, info)

    def merge(self, other: "BiasMetric") -> "BiasMetric":
        for f in ESTIMATED_FACTORS:
            self.moments[f].merge(other.moments[f])
        return self

    def sync(self, group: Any = None) -> "BiasMetric":
        """All-reduce the state over a torch.distributed group (no-op when not distributed)."""
        for pm in self.moments.values():
            pm.all_reduce(group)
        return self

    def state_dict(self) -> dict[str, Any]:
        return {f.value: pm.state_dict() for f, pm in self.moments.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> "BiasMetric":
        self.moments = {Factor.parse(f): PairMoments.from_state_dict(s) for f, s in state.items()}
        return self
