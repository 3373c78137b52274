"""The removal sweep: remove k% of a layer's units by each selection rule and evaluate a user metric
(accuracy, mIoU, any callable) — paper Sec. 5.1, Fig. 11.

Stochastic rules (``random``, ``segmentation_baseline``) are repeated over seeds and summarised by
their mean, standard deviation and range; unit draws of seed s at percentage x come from
``numpy.random.default_rng([s, round(1000 x)])`` and every chosen unit is recorded with the result.

A metric must return a finite number: a nan or an infinity (or something that is not a number)
stops the sweep with a :class:`MetricError` naming the rule, percentage and seed, rather than being
written into the result as a number.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sdinterp.capture import resolve_layer
from sdinterp.interfaces import ModelAdapter
from sdinterp.plugins.ablation.intervention import ZeroUnits, intervene
from sdinterp.plugins.ablation.selection import UnitSelection, get_selection, units_for_percent
from sdinterp.report import LayerBias
from sdinterp.task_metric import Metric, MetricError, finite_metric

__all__ = ["RemovalCurves", "removal_sweep", "Metric", "MetricError", "finite_metric"]


def _rng(seed: int, percent: float) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(round(1000 * percent))])


@dataclasses.dataclass
class RemovalCurves:
    """Metric against removal percentage, one curve per selection rule, for one layer.

    Attributes:
        layer: the layer's name.
        n_units: its width D.
        percents: the removal percentages x.
        counts: units removed at each percentage, k = ⌊x/100 · D⌋.
        baseline: the metric with nothing removed.
        curves: selection name -> metric per percentage (the mean over seeds for stochastic rules).
        spread: stochastic selection name -> ``{"std", "min", "max", "per_seed"}`` per percentage.
        seeds: the seeds stochastic rules were repeated over.
        units: selection name -> per percentage the removed units (stochastic: one list per seed).
        selections: each rule's description.
        metric: the metric's name.
    """

    layer: str
    n_units: int
    percents: list[float]
    counts: list[int]
    baseline: float
    curves: dict[str, list[float]]
    spread: dict[str, dict[str, Any]]
    seeds: list[int]
    units: dict[str, list[Any]]
    selections: dict[str, dict[str, Any]]
    metric: str = ""

    def drop(self, selection: str) -> list[float]:
        """Baseline minus the metric at each percentage (how much the removal costs)."""
        return [self.baseline - v for v in self.curves[selection]]

    def to_frame(self) -> Any:
        """One row per (selection, percentage): metric, drop, and for stochastic rules std/min/max."""
        import pandas as pd

        rows = []
        for name, values in self.curves.items():
            for i, (x, k, v) in enumerate(zip(self.percents, self.counts, values)):
                spread = self.spread.get(name)
                rows.append(
                    {
                        "layer": self.layer,
                        "selection": name,
                        "percent": x,
                        "units_removed": k,
                        "metric": v,
                        "drop": self.baseline - v,
                        "std": spread["std"][i] if spread else float("nan"),
                        "min": spread["min"][i] if spread else float("nan"),
                        "max": spread["max"][i] if spread else float("nan"),
                    }
                )
        return pd.DataFrame(rows)

    def table(self) -> str:
        """A printed table: one row per selection, one column per percentage (mean ± std)."""
        head = ["selection"] + [f"{x:g}% ({k})" for x, k in zip(self.percents, self.counts)]
        body = []
        for name, values in self.curves.items():
            spread = self.spread.get(name)
            cells = [f"{v:.4f}" + (f" ± {spread['std'][i]:.4f}" if spread else "") for i, v in enumerate(values)]
            body.append([name] + cells)
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

        def line(r: list[str]) -> str:
            return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

        seeds = f"; stochastic rules: mean ± std over {len(self.seeds)} seeds" if self.spread else ""
        out = [
            f"layer {self.layer} ({self.n_units} units); metric {self.metric or '?'} with nothing removed: "
            f"{self.baseline:.4f}{seeds}",
            line(head),
            "  ".join("-" * w for w in widths),
        ]
        return "\n".join(out + [line(r) for r in body])

    def to_dict(self) -> dict[str, Any]:
        return {"format": "sdinterp.RemovalCurves/1", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RemovalCurves:
        if str(d.get("format", "")).split("/")[0] != "sdinterp.RemovalCurves":
            raise ValueError(f"not a removal sweep (format {d.get('format')!r})")
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})

    def to_json(self, path: str | Path | None = None, indent: int | None = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=True, default=_plain)
        if path is not None:
            Path(path).write_text(text)
        return text


def _plain(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def removal_sweep(
    adapter: ModelAdapter,
    layer: str,
    bias: LayerBias,
    metric: Metric,
    data: Any = None,
    percents: Sequence[float] = (10, 20, 40),
    selections: Iterable[str | UnitSelection] = ("top_dynamic", "top_static", "random"),
    seeds: Iterable[int] = range(5),
) -> RemovalCurves:
    """Remove ``percents`` % of ``layer``'s units by each selection rule and evaluate ``metric``.

    Args:
        adapter: the model's adapter (:func:`sdinterp.adapt`).
        layer: the layer to remove units from (canonical name, module path or ``input:<path>``).
        bias: that layer's :class:`~sdinterp.report.LayerBias` (``report[layer]``), which ranks the units.
        metric: ``metric(adapter, data) -> float``, evaluated once per removal with the units zeroed
            (higher is better; a drop is ``baseline - metric``).
        data: passed to ``metric`` unchanged (e.g. labelled validation clips).
        percents: removal percentages x; k = ⌊x/100 · D⌋ units each.
        selections: registered rule names or :class:`UnitSelection` objects.
        seeds: the seeds stochastic rules are repeated over (the random baseline's spread).

    Returns:
        RemovalCurves.

    Examples:
        >>> curves = removal_sweep(adapter, "stage5", report["stage5"], accuracy, val_clips,  # doctest: +SKIP
        ...                        percents=[10, 20, 40])
        >>> print(curves.table())                                                            # doctest: +SKIP
    """
    info = resolve_layer(adapter, layer)
    if info.channels is not None and info.channels != bias.n_units:
        raise ValueError(
            f"layer {layer!r} has {info.channels} units but the bias given has {bias.n_units} "
            f"(of layer {bias.layer!r}); pass report[{layer!r}]"
        )
    rules = [get_selection(s) for s in selections]
    names = [r.name or type(r).__name__ for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"selection rules must have distinct names, got {names}")
    seed_list = [int(s) for s in seeds]
    if any(r.stochastic for r in rules) and not seed_list:
        raise ValueError("stochastic selection rules need at least one seed")
    xs = [float(x) for x in percents]
    counts = [units_for_percent(x, bias.n_units) for x in xs]

    def evaluate(units: np.ndarray, where: str) -> float:
        with intervene(adapter, info, ZeroUnits(units, n_units=bias.n_units)):
            return finite_metric(metric(adapter, data), metric, where)

    baseline = finite_metric(metric(adapter, data), metric, "with nothing removed")
    curves: dict[str, list[float]] = {}
    spread: dict[str, dict[str, Any]] = {}
    chosen: dict[str, list[Any]] = {}
    for rule, name in zip(rules, names):
        if not rule.stochastic:
            picks = [rule.select(bias, x, _rng(0, x)) for x in xs]
            curves[name] = [evaluate(u, f"with {x:g}% removed by {name}") for u, x in zip(picks, xs)]
            chosen[name] = [u.tolist() for u in picks]
            continue
        per_seed = [[rule.select(bias, x, _rng(s, x)) for s in seed_list] for x in xs]
        values = np.array(  # (percents, seeds)
            [
                [evaluate(u, f"with {x:g}% removed by {name}, seed {sd}") for u, sd in zip(row, seed_list)]
                for row, x in zip(per_seed, xs)
            ]
        )
        curves[name] = values.mean(axis=1).tolist()
        spread[name] = {
            "std": values.std(axis=1).tolist(),
            "min": values.min(axis=1).tolist(),
            "max": values.max(axis=1).tolist(),
            "per_seed": values.tolist(),
        }
        chosen[name] = [[u.tolist() for u in row] for row in per_seed]
    return RemovalCurves(
        layer=layer,
        n_units=bias.n_units,
        percents=xs,
        counts=counts,
        baseline=baseline,
        curves=curves,
        spread=spread,
        seeds=seed_list if spread else [],
        units=chosen,
        selections={n: r.describe() for n, r in zip(names, rules)},
        metric=getattr(metric, "__name__", type(metric).__name__),
    )
