"""Unit-wise comparison of two models (e.g. one architecture trained on two datasets, paper Sec. 4.2
and Fig. 7), layer by layer, with a significance statement.

For each layer and factor F the mean unit score s̄_F of each model (over its scored units) is
compared with Fisher's z-transform, whose standard error is set by the runs' pair counts:
z = (atanh s̄_A − atanh s̄_B) / √(1/(N_A − 3) + 1/(N_B − 3)), N the pairs of factor F (inferred:
a unit score is a correlation over N pairs; the mean of a layer's scores is treated as one such
correlation, which is conservative when units are positively correlated). The share of dynamic
units among the categorised units (Eq. 3) is compared with a two-proportion z-test over units.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sdinterp.report import BiasReport, LayerBias

__all__ = ["LayerComparison", "ModelComparison", "compare_reports"]


def _two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _fisher(r: float) -> float:
    return math.atanh(max(-0.999999, min(0.999999, r)))


@dataclasses.dataclass
class LayerComparison:
    """Model A vs model B at one layer.

    Attributes:
        layer: ``"a_layer"`` or ``"a_layer vs b_layer"``.
        n_pairs: pairs per factor of each model's run.
        mean_score: factor -> (mean unit score of A, of B).
        z, p: factor -> Fisher z statistic and two-sided p-value of the difference of mean scores.
        dynamic_units: (share of dynamic units of A, of B) among the categorised units, and their p.
        percent: factor -> (layer-wise percent of A, of B).
    """

    layer: str
    n_pairs: dict[str, tuple[int, int]]
    mean_score: dict[str, tuple[float, float]]
    z: dict[str, float]
    p: dict[str, float]
    dynamic_units: tuple[float, float]
    dynamic_units_p: float
    percent: dict[str, tuple[float, float]]

    def statement(self, alpha: float = 0.05, names: Sequence[str] = ("A", "B")) -> str:
        """One sentence per factor: which model encodes more of it, and whether that is significant."""
        a, b = names
        parts = []
        for f in ("dynamic", "static"):
            sa, sb = self.mean_score[f]
            na, nb = self.n_pairs[f]
            stats = (
                f"mean {f} unit score {sa:.3f} vs {sb:.3f}, z = {self.z[f]:.2f}, p = {self.p[f]:.3g} with "
                f"{na} and {nb} pairs"
            )
            if self.p[f] < alpha:
                parts.append(f"{a if sa > sb else b} encodes more {f} information ({stats})")
            else:
                parts.append(f"no significant difference in {f} information at α = {alpha} ({stats})")
        return f"{self.layer}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ModelComparison:
    """Every compared layer, and how to read them."""

    layers: list[LayerComparison]
    names: tuple[str, str] = ("A", "B")
    alpha: float = 0.05

    def statements(self) -> list[str]:
        return [lc.statement(self.alpha, self.names) for lc in self.layers]

    def table(self) -> str:
        a, b = self.names
        head = [
            "layer",
            f"s_dyn {a}",
            f"s_dyn {b}",
            "p",
            f"s_stat {a}",
            f"s_stat {b}",
            "p",
            f"dyn units {a}",
            f"dyn units {b}",
            "p",
        ]
        rows = [
            [
                lc.layer,
                *(f"{v:.3f}" for v in lc.mean_score["dynamic"]),
                f"{lc.p['dynamic']:.3g}",
                *(f"{v:.3f}" for v in lc.mean_score["static"]),
                f"{lc.p['static']:.3g}",
                *(f"{100 * v:.1f}%" for v in lc.dynamic_units),
                f"{lc.dynamic_units_p:.3g}",
            ]
            for lc in self.layers
        ]
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

        def fmt(r: list[str]) -> str:
            return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

        return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows] + self.statements())

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "alpha": self.alpha,
            "layers": [lc.to_dict() for lc in self.layers],
            "statements": self.statements(),
        }


def _mean_score(lb: LayerBias, factor: str) -> float:
    s = np.asarray(lb.unit_scores[factor])[np.asarray(lb.valid, bool)]
    return float(s.mean()) if s.size else 0.0


def _compare(name: str, a: LayerBias, b: LayerBias) -> LayerComparison:
    n_pairs, mean, z, p, percent = {}, {}, {}, {}, {}
    for f in ("dynamic", "static"):
        na, nb = int(a.n_pairs.get(f, 0)), int(b.n_pairs.get(f, 0))
        if min(na, nb) <= 3:
            raise ValueError(
                f"layer {name}: a significance statement needs more than 3 {f} pairs per model, got {na} and {nb}"
            )
        sa, sb = _mean_score(a, f), _mean_score(b, f)
        n_pairs[f], mean[f], percent[f] = (na, nb), (sa, sb), (a.percent[f], b.percent[f])
        z[f] = (_fisher(sa) - _fisher(sb)) / math.sqrt(1.0 / (na - 3) + 1.0 / (nb - 3))
        p[f] = _two_sided(z[f])
    counts = [
        (lb.category_counts["dynamic"], sum(lb.category_counts[c] for c in ("dynamic", "static", "joint", "residual")))
        for lb in (a, b)
    ]
    share_a, share_b = (k / n if n else 0.0 for k, n in counts)
    shares = (share_a, share_b)
    (ka, na_), (kb, nb_) = counts
    pooled = (ka + kb) / (na_ + nb_) if na_ + nb_ else 0.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / max(na_, 1) + 1 / max(nb_, 1)))
    p_units = _two_sided((shares[0] - shares[1]) / se) if se > 0 else 1.0
    return LayerComparison(name, n_pairs, mean, z, p, shares, p_units, percent)


def compare_reports(
    a: BiasReport,
    b: BiasReport,
    layers: Sequence[str] | Mapping[str, str] | None = None,
    names: Sequence[str] = ("A", "B"),
    alpha: float = 0.05,
) -> ModelComparison:
    """Compare two models' reports layer by layer.

    Args:
        a, b: the reports (each run's pair counts set the significance).
        layers: layer names present in both (default: the layers they share), or a mapping from A's
            layer names to B's for models whose layers are named differently.
        names: how to call the two models in the statements.
        alpha: the significance level of the statements.

    Examples:
        >>> cmp = compare_reports(report_k400, report_ssv2, names=("K400", "SSv2"))  # doctest: +SKIP
        >>> print(cmp.table())                                                      # doctest: +SKIP
    """
    pairs = (
        dict(layers)
        if isinstance(layers, Mapping)
        else {l: l for l in (layers or [l for l in a.layers if l in b.layers])}
    )
    if not pairs:
        raise ValueError(
            f"the reports share no layer (A: {', '.join(a.layers)}; B: {', '.join(b.layers)}); pass layers={{A: B}}"
        )
    for la, lb in pairs.items():
        if la not in a.layers or lb not in b.layers:
            raise KeyError(f"layer {la!r} of A or {lb!r} of B is not in its report")
    out = [_compare(la if la == lb else f"{la} vs {lb}", a[la], b[lb]) for la, lb in pairs.items()]
    return ModelComparison(out, (str(names[0]), str(names[1])), float(alpha))
