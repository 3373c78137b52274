""":class:`LayerBias`: the static/dynamic bias of one layer, with lossless JSON and pandas export."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["LayerBias", "CATEGORIES", "FACTOR_COLUMNS"]

#: Unit categories. The first four are Eq. 3 of the paper (strict inequalities, as the official
#: code); ``unassigned`` holds units with a score exactly at the threshold (the official code drops
#: them silently), ``constant`` units with zero variance (the official code yields NaN).
CATEGORIES = ("dynamic", "static", "joint", "residual", "unassigned", "constant")
#: Column order of ``unit_softmax`` (the official code's factor indices 0, 1, 2).
FACTOR_COLUMNS = ("dynamic", "static", "identical")


def _arr(x: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


#: Pooling layouts whose channel axis is the last one (the names adapters record in ``info``).
_CHANNELS_LAST = ("tokens", "tokens_seq_first", "channels_last", "channels_last_pool")


def _per_unit(a: Any, pooling: Any, layer: str, n_units: int) -> Any:
    """One value per unit: the attribution summed over everything but the layer's channel axis."""
    if a.dim() <= 1:
        return a
    if callable(pooling):
        out = pooling(a)
        return out.sum(0) if out.dim() == 2 else out
    if pooling in ("channels_first", "flat"):
        return a.sum(dim=tuple(i for i in range(a.dim()) if i != 1))
    if pooling in _CHANNELS_LAST:
        return a.sum(dim=tuple(range(a.dim() - 1)))
    # A custom pooling known only by name (e.g. a 2D model's time unfolding, (B*T, C, H, W)): a sum
    # needs only the channel axis, found by the layer's width when it is unambiguous.
    axes = [i for i in (1, a.dim() - 1) if a.shape[i] == n_units]
    if len(set(axes)) == 1:
        return a.sum(dim=tuple(i for i in range(a.dim()) if i != axes[0]))
    raise ValueError(
        f"layer {layer!r} is pooled by a custom function ({pooling!r}) and its channel axis cannot be told "
        f"from the shape {tuple(a.shape)}; pass pooling= (adapter.resolve(layer).pooling)"
    )


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
        intervals: bootstrap intervals (``None`` unless the run had ``bootstrap=B``; then written to
            the JSON, and absent from it otherwise). A plain dict::

                {"level": 0.95,                 # two-sided level
                 "replicates": B, "scored": B', # replicates drawn / scored (B' < B only if some were degenerate)
                 "method": "poisson bootstrap over clips, percentile intervals",
                 "percent": {"dynamic": [lo, hi], "static": [lo, hi], "identical": [lo, hi]},
                 "scores": {"dynamic": [lo, hi], "static": [lo, hi]},
                 "category_percent": {"dynamic": [lo, hi], "static": .., "joint": .., "residual": ..},
                 "category_stability": [s_0, ..., s_{D-1}]}  # per unit: share of replicates giving
                                                             # it the category in :attr:`categories`

            (docs/confidence.md).
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
    intervals: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Plain Python strings: ``report[l].categories[0]`` prints 'static', not np.str_('static').
        self.categories = np.array([str(c) for c in np.asarray(self.categories).ravel()], dtype=object)

    # -- convenience ----------------------------------------------------------------------------
    @property
    def unit_softmax_by_factor(self) -> dict[str, np.ndarray]:
        """The per-unit softmax as ``{"dynamic": (D,), "static": (D,), "identical": (D,)}``."""
        return {f: self.unit_softmax[:, k] for k, f in enumerate(FACTOR_COLUMNS)}

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

    def join_attributions(self, attributions: Any, name: str = "attribution", pooling: Any = None) -> Any:
        """Put a per-unit attribution beside the per-unit bias, one row per unit.

        The attribution is reduced to one value per unit the way the layer is pooled: summed over
        every position (and the batch) with the channel axis taken from the layer's layout —
        axis 1 for channels-first (B, C, T, H, W), the last axis for tokens (B, L, C), sequence-
        first (L, B, C) and channels-last (B, T, H, W, C) layers. For a layer pooled by a custom
        function (e.g. a 2D model that folds time into the batch, (B*T, C, H, W)) the channel axis is
        the one (axis 1 or last) with the layer's width; pass ``pooling`` (a callable reducing to
        (B, C), e.g. ``adapter.resolve(layer).pooling``) where that is ambiguous.

        Args:
            attributions: a Captum layer attribution of this layer (same shape as its activation),
                or already one value per unit, shape (C,).
            name: the column name.
            pooling: the layer's pooling (a name or a callable); default: the one recorded in
                :attr:`info`.

        Returns:
            :meth:`units_frame` with the extra column.

        Examples:
            >>> from captum.attr import LayerGradientXActivation                               # doctest: +SKIP
            >>> module = adapter.layer_module("stage5")             # the module of a canonical layer  # doctest: +SKIP
            >>> attr = LayerGradientXActivation(adapter.model, module).attribute(x, target=0)  # doctest: +SKIP
            >>> report["stage5"].join_attributions(attr).sort_values("attribution")            # doctest: +SKIP
        """
        a = (
            attributions.detach().cpu().double()
            if hasattr(attributions, "detach")
            else torch.as_tensor(np.asarray(attributions, float))
        )
        per_unit = _per_unit(
            a, pooling if pooling is not None else self.info.get("pooling", "channels_first"), self.layer, self.n_units
        )
        if per_unit.shape != (self.n_units,):
            raise ValueError(
                f"layer {self.layer!r}: attributions reduce to shape {tuple(per_unit.shape)}, expected "
                f"({self.n_units},); "
                "pass the attribution of the same layer (and its pooling, adapter.resolve(layer).pooling, if custom)"
            )
        frame = self.units_frame()
        frame[name] = per_unit.numpy()
        return frame

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
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
        if self.intervals is not None:  # only then, so a report without the bootstrap is unchanged
            out["intervals"] = self.intervals
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerBias:
        return cls(
            layer=d["layer"],
            scorer=d["scorer"],
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
            intervals=dict(d["intervals"]) if d.get("intervals") is not None else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerBias):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)
