"""Which units to remove: selection rules, registered by name (kind ``ablation_selection``).

With x the removal percentage and D the layer's units, k = ⌊x/100 · D⌋ (``docs/method.md`` §4):

* ``top_dynamic`` / ``top_static`` — the k units with the largest per-unit softmax probability of
  the factor (``LayerBias.unit_softmax``, ``docs/method.md`` §1 step 4); ties by unit index;
  constant units sort last.
* ``random`` — k units uniformly at random, without replacement (the action-recognition baseline).
* ``segmentation_baseline`` — the layer's dominant factor F* (larger layer score S); units sorted by
  their softmax probability of F*, ascending (least biased first; constant units last); k units
  drawn without replacement from the first ⌈(x + 5)/100 · D⌉ (paper Sec. 5.1, the VOS baseline).

A third party adds a rule with ``registry.add("ablation_selection", name, factory)``; the factory
returns a :class:`UnitSelection`.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from sdinterp.interfaces import Factor
from sdinterp.report import FACTOR_COLUMNS, LayerBias

__all__ = [
    "KIND",
    "UnitSelection",
    "TopFactor",
    "TopDynamic",
    "TopStatic",
    "RandomUnits",
    "SegmentationBaseline",
    "units_for_percent",
    "dominant_factor",
    "get_selection",
]

#: The registry kind of selection rules.
KIND = "ablation_selection"


def units_for_percent(percent: float, n_units: int) -> int:
    """k = ⌊x/100 · D⌋ (``docs/method.md`` §4), exact for decimal percentages such as 12.5.

    Examples:
        >>> units_for_percent(10, 2304), units_for_percent(12.5, 16)
        (230, 2)
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"a removal percentage must be in [0, 100], got {percent}")
    # A tiny tolerance: 0.29 * 100 is 28.999999999999996 in binary floating point.
    return min(n_units, int(math.floor(percent * n_units / 100.0 + 1e-9)))


def _column(factor: str) -> int:
    name = Factor.parse(factor).value
    if name not in ("dynamic", "static"):
        raise ValueError(f"units are chosen by the dynamic or the static factor, got {factor!r}")
    return FACTOR_COLUMNS.index(name)


def _ranked(bias: LayerBias, factor: str, descending: bool) -> np.ndarray:
    """Unit indices ordered by the factor's per-unit softmax; ties by index; constant units last."""
    p = np.asarray(bias.unit_softmax[:, _column(factor)], dtype=np.float64)
    key = -p if descending else p
    # lexsort sorts by the last key first: validity (valid first), then the score, then the index.
    return np.lexsort((np.arange(len(p)), key, ~np.asarray(bias.valid, bool)))


def dominant_factor(bias: LayerBias) -> str:
    """The factor the layer is biased toward: the larger of the layer scores S_dyn, S_stat."""
    return "dynamic" if bias.scores["dynamic"] >= bias.scores["static"] else "static"


class UnitSelection(abc.ABC):
    """A rule choosing the units of one layer to remove.

    Subclasses set :attr:`name` and :attr:`stochastic` (whether the choice depends on the random
    generator, so a sweep repeats it over seeds) and implement :meth:`select`.
    """

    name: str = ""
    stochastic: bool = False

    @abc.abstractmethod
    def select(self, bias: LayerBias, percent: float, rng: np.random.Generator) -> np.ndarray:
        """The indices of the units to remove for ``percent`` % of the layer's units."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name or type(self).__name__, "stochastic": self.stochastic}


class TopFactor(UnitSelection):
    """The k units most biased toward ``factor`` (per-unit softmax, descending).

    Args:
        factor: ``"dynamic"`` or ``"static"``.
    """

    def __init__(self, factor: str):
        _column(factor)
        self.factor = Factor.parse(factor).value
        self.name = f"top_{self.factor}"

    def select(self, bias: LayerBias, percent: float, rng: np.random.Generator) -> np.ndarray:
        return np.sort(_ranked(bias, self.factor, descending=True)[: units_for_percent(percent, bias.n_units)])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "factor": self.factor}


class TopDynamic(TopFactor):
    """``top_dynamic``: the units with the largest per-unit dynamic softmax."""

    def __init__(self) -> None:
        super().__init__("dynamic")


class TopStatic(TopFactor):
    """``top_static``: the units with the largest per-unit static softmax."""

    def __init__(self) -> None:
        super().__init__("static")


class RandomUnits(UnitSelection):
    """``random``: k units uniformly at random, without replacement (paper Sec. 5.1)."""

    name = "random"
    stochastic = True

    def select(self, bias: LayerBias, percent: float, rng: np.random.Generator) -> np.ndarray:
        return np.sort(rng.choice(bias.n_units, size=units_for_percent(percent, bias.n_units), replace=False))


class SegmentationBaseline(UnitSelection):
    """``segmentation_baseline``: k units drawn from the ⌈(x + margin)/100 · D⌉ least biased toward
    the layer's dominant factor (paper Sec. 5.1; ``docs/method.md`` §4).

    Args:
        factor: the factor to be least biased toward (default: the layer's dominant factor).
        margin: the extra percentage of the candidate pool (5 in the paper).
    """

    name = "segmentation_baseline"
    stochastic = True

    def __init__(self, factor: str | None = None, margin: float = 5.0):
        if factor is not None:
            _column(factor)
        self.factor = None if factor is None else Factor.parse(factor).value
        self.margin = float(margin)

    def select(self, bias: LayerBias, percent: float, rng: np.random.Generator) -> np.ndarray:
        factor = self.factor or dominant_factor(bias)
        k = units_for_percent(percent, bias.n_units)
        pool = min(bias.n_units, math.ceil((percent + self.margin) * bias.n_units / 100.0 - 1e-9))
        candidates = _ranked(bias, factor, descending=False)[: max(pool, k)]
        return np.sort(rng.choice(candidates, size=k, replace=False))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "factor": self.factor or "dominant", "margin": self.margin}


def get_selection(selection: str | UnitSelection, **options: Any) -> UnitSelection:
    """A selection rule from a registered name (built-in or a plugin's) or a UnitSelection."""
    from sdinterp.plugin_manager import get_registry

    return get_registry().instance(KIND, selection, UnitSelection, **options)
