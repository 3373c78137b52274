""":class:`LayerBias`: the static/dynamic bias of one layer, with lossless JSON and pandas export."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["LayerBias", "CATEGORIES", "FACTOR_COLUMNS"]

#: Unit categories. The first four are Eq. 3 of the paper (strict inequalities, as the official
#: code); ``unassigned`` holds units with a score exactly at the threshold (the official code drops
#: them silently), ``constant`` units with zero variance (the official code yields NaN).
CATEGORIES = ("dynamic", "static", "joint", "residual", "unassigned", "constant")
#: Column order of ``unit_softmax`` (the official code's factor indices 0, 1, 2).
FACTOR_COLUMNS = ("dynamic", "static", "identical")


def _arr(x: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


def _unit_softmax(x: Any) -> np.ndarray:
    if isinstance(x, Mapping):  # labelled by factor (format 2)
        return np.stack([_arr(x[f]) for f in FACTOR_COLUMNS], axis=1) if x[FACTOR_COLUMNS[0]] else np.zeros((0, 3))
    return _arr(x).reshape(-1, 3)  # an unlabelled (D, 3) list (format 1)


@dataclasses.dataclass
class LayerBias:
    """Static/dynamic bias of one layer.

    Attributes:
        layer: layer name as requested.
        scorer: the registered name of the estimator that scored it (``"official"``, ``"pearson"``…).
        threshold: λ of the unit-wise categories.
        n_units: number of units D.
        n_pairs: pairs per factor, ``{"dynamic": N0, "static": N1}``.
        scores: layer scores S_F per factor (identical = 1).
        shares: softmax of the three scores.
        dims: units per factor from the softmax (int truncation, the identical factor takes the rest).
        percent: ``round(100 * dims / D, 1)``; the paper's "Dyn. %" and "Stat. %".
        unit_scores: per-unit scores ``{"dynamic": (D,), "static": (D,)}`` (0 where constant).
        unit_softmax: (D, 3) per-unit softmax, columns :data:`FACTOR_COLUMNS` = (dynamic, static,
            identical) (0 where constant); :attr:`unit_softmax_by_factor` labels them, and the JSON
            stores them labelled.
        categories: (D,) category per unit, one of :data:`CATEGORIES` (plain ``str`` objects).
        valid: (D,) False for constant (zero-variance) units, which are masked out.
        info: the layer's metadata (module path, stream, pooling…).
    """

    layer: str
    scorer: str
    threshold: float
    n_units: int
    n_pairs: dict[str, int]
    scores: dict[str, float]
    shares: dict[str, float]
    dims: dict[str, int]
    percent: dict[str, float]
    unit_scores: dict[str, np.ndarray]
    unit_softmax: np.ndarray
    categories: np.ndarray
    valid: np.ndarray
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain Python strings: ``report[l].categories[0]`` prints 'static', not np.str_('static').
        self.categories = np.array([str(c) for c in np.asarray(self.categories).ravel()], dtype=object)

    # -- convenience ----------------------------------------------------------------------------
    @property
    def unit_softmax_by_factor(self) -> dict[str, np.ndarray]:
        """The per-unit softmax as ``{"dynamic": (D,), "static": (D,), "identical": (D,)}``."""
        return {f: self.unit_softmax[:, k] for k, f in enumerate(FACTOR_COLUMNS)}
    @property
    def method(self) -> str:
        """Deprecated alias of :attr:`scorer`."""
        warnings.warn("LayerBias.method is deprecated; use LayerBias.scorer", DeprecationWarning, stacklevel=2)
        return self.scorer

    @property
    def dynamic_percent(self) -> float:
        return self.percent["dynamic"]

    @property
    def static_percent(self) -> float:
        return self.percent["static"]

    @property
    def identical_percent(self) -> float:
        return self.percent["identical"]

    @property
    def category_counts(self) -> dict[str, int]:
        return {c: int(np.sum(self.categories == c)) for c in CATEGORIES}

    @property
    def category_percent(self) -> dict[str, float]:
        """Percent of the categorised units (dynamic/static/joint/residual), as the official
        ``plot_jointencoding.py`` computes it: unassigned and constant units are excluded."""
        counts = self.category_counts
        total = sum(counts[c] for c in CATEGORIES[:4])
        return {c: (100.0 * counts[c] / total if total else 0.0) for c in CATEGORIES[:4]}

    @property
    def n_constant(self) -> int:
        return int(np.sum(~self.valid))

    def units_frame(self) -> Any:
        """Per-unit table (one row per channel, in channel order — the order of Captum's layer
        attributions for the same layer, so the two can be joined on ``unit``)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "layer": self.layer,
                "unit": np.arange(self.n_units),
                "score_dynamic": self.unit_scores["dynamic"],
                "score_static": self.unit_scores["static"],
                "softmax_dynamic": self.unit_softmax[:, 0],
                "softmax_static": self.unit_softmax[:, 1],
                "softmax_identical": self.unit_softmax[:, 2],
                "category": self.categories,
                "valid": self.valid,
            }
        )

    def join_attributions(self, attributions: Any, name: str = "attribution") -> Any:
        """Put a per-unit attribution beside the per-unit bias, one row per channel.

        Args:
            attributions: a Captum layer attribution of this layer — (B, C, ...) (summed over the
                batch and every non-channel dim, keeping the sign) or already (C,).
            name: the column name.

        Returns:
            :meth:`units_frame` with the extra column.

        Examples:
            >>> from captum.attr import LayerGradientXActivation          # doctest: +SKIP
            >>> attr = LayerGradientXActivation(model, model.layer4).attribute(x, target=0)  # doctest: +SKIP
            >>> report["layer4"].join_attributions(attr).sort_values("attribution")  # doctest: +SKIP
        """
        a = attributions.detach().cpu().double().numpy() if hasattr(attributions, "detach") else np.asarray(attributions, float)
        if a.ndim >= 2:
            a = a.sum(axis=tuple(i for i in range(a.ndim) if i != 1))
        if a.shape != (self.n_units,):
            raise ValueError(
                f"layer {self.layer!r}: attributions reduce to shape {a.shape}, expected ({self.n_units},); "
                "pass the attribution of the same layer (channels on axis 1)"
            )
        frame = self.units_frame()
        frame[name] = a
        return frame

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "scorer": self.scorer,
            "threshold": self.threshold,
            "n_units": self.n_units,
            "n_pairs": dict(self.n_pairs),
            "scores": dict(self.scores),
            "shares": dict(self.shares),
            "dims": dict(self.dims),
            "percent": dict(self.percent),
            "unit_scores": {k: v.tolist() for k, v in self.unit_scores.items()},
            "unit_softmax": {f: v.tolist() for f, v in self.unit_softmax_by_factor.items()},
            "categories": [str(c) for c in self.categories],
            "valid": [bool(v) for v in self.valid],
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LayerBias":
        return cls(
            layer=d["layer"],
            scorer=d["scorer"] if "scorer" in d else d["method"],  # "method": reports before 0.2
            threshold=float(d["threshold"]),
            n_units=int(d["n_units"]),
            n_pairs={k: int(v) for k, v in d["n_pairs"].items()},
            scores={k: float(v) for k, v in d["scores"].items()},
            shares={k: float(v) for k, v in d["shares"].items()},
            dims={k: int(v) for k, v in d["dims"].items()},
            percent={k: float(v) for k, v in d["percent"].items()},
            unit_scores={k: _arr(v) for k, v in d["unit_scores"].items()},
            unit_softmax=_unit_softmax(d["unit_softmax"]),
            categories=np.asarray([str(c) for c in d["categories"]], dtype=object),
            valid=_arr(d["valid"], bool),
            info=dict(d.get("info", {})),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerBias):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)
