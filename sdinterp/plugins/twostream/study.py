"""The fusion / cross-connection study (paper Sec. 5.3, Fig. 15): one bias report per two-stream
model on the same (image, flow) pairs, gathered into one table of every stream and fusion layer.

Layer-wise columns are the softmax dims (``dyn %``, ``stat %``, ``ident %``; method.md §1) and
unit-wise columns the unit categories at λ (dynamic / static / joint / residual, as % of the
categorised units) with the joint-to-dynamic ratio the paper quotes for the final fusion layer
(25.3 for CCG + U vs 47.5 for G + U).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from sdinterp.errors import ReliabilityWarning
from sdinterp.interfaces import Factor, PairProtocol, PairSampler
from sdinterp.pipeline.plan import RunPlan
from sdinterp.plugins.twostream.spec import options_for
from sdinterp.report import BiasReport

__all__ = ["run_study", "study_rows", "format_table", "missing_factors"]


def study_rows(reports: dict[str, BiasReport]) -> list[dict[str, Any]]:
    """One row per (model, layer): layer-wise percentages and unit-wise category shares."""
    rows = []
    for model, report in reports.items():
        for lb in report:
            pct, counts = lb.category_percent, lb.category_counts
            ratio = counts["joint"] / counts["dynamic"] if counts["dynamic"] else None
            rows.append(
                {
                    "model": model,
                    "layer": lb.layer,
                    "stream": lb.info.get("stream", ""),
                    "units": lb.n_units,
                    "dynamic_%": lb.percent["dynamic"],
                    "static_%": lb.percent["static"],
                    "identical_%": lb.percent["identical"],
                    "S_dynamic": lb.scores["dynamic"],
                    "S_static": lb.scores["static"],
                    **{f"units_{c}_%": round(pct[c], 1) for c in ("dynamic", "static", "joint", "residual")},
                    **{
                        f"n_{c}": counts[c]
                        for c in ("dynamic", "static", "joint", "residual", "unassigned", "constant")
                    },
                    "joint_per_dynamic": None if ratio is None else round(ratio, 2),
                }
            )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one aligned text table."""
    head = [
        "model",
        "layer",
        "units",
        "dyn %",
        "stat %",
        "ident %",
        "|",
        "u.dyn %",
        "u.stat %",
        "u.joint %",
        "u.resid %",
        "joint/dyn",
    ]
    body = [
        [
            r["model"],
            r["layer"],
            str(r["units"]),
            f"{r['dynamic_%']:.1f}",
            f"{r['static_%']:.1f}",
            f"{r['identical_%']:.1f}",
            "|",
            f"{r['units_dynamic_%']:.1f}",
            f"{r['units_static_%']:.1f}",
            f"{r['units_joint_%']:.1f}",
            f"{r['units_residual_%']:.1f}",
            "-" if r["joint_per_dynamic"] is None else f"{r['joint_per_dynamic']:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

    legend = (
        "legend: dyn/stat/ident % = layer-wise softmax dims (method.md §1); u.* = unit categories at the threshold, "
        "% of categorised units (paper Eq. 3); joint/dyn = joint units per dynamic unit (paper Sec. 5.3)"
    )
    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, body), legend])


def missing_factors(protocol: PairProtocol, n_pairs: int, seed: int = 0) -> list[str]:
    """The factors a run of ``n_pairs`` under ``protocol`` would make no pair of (its plan, no work).

    Args:
        protocol: the pair protocol.
        n_pairs: as the protocol counts them.
        seed: the run's seed (a protocol may draw the factors).

    Returns:
        ``"dynamic"`` and/or ``"static"``, in that order; empty when both get pairs.

    Examples:
        >>> from sdinterp.plugins.twostream.protocol import VosAlternating
        >>> missing_factors(VosAlternating(frames_per_item=8), n_pairs=8), missing_factors(VosAlternating(8), 9)
        (['dynamic'], [])
    """
    plan = RunPlan.build(protocol, n_sources=1, n_pairs=n_pairs, batch_size=1, seed=seed)
    made = {f for clip in plan.clips() for f in clip.factors}
    return [f.value for f in (Factor.DYNAMIC, Factor.STATIC) if f not in made]


def run_study(
    models: Sequence[str],
    data: Any,
    static_sampler: PairSampler,
    dynamic_sampler: PairSampler,
    protocol: PairProtocol,
    n_pairs: int,
    batch_size: int = 8,
    seed: int = 0,
    frame_size: tuple[int, int] | None = (480, 854),
    layers: Sequence[str] | None = None,
    threshold: float = 0.5,
    model_options: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    device: Any = None,
) -> dict[str, BiasReport]:
    """A report per model spec on the same data, pairs and seed.

    Args:
        models: model specs (``twostream:...``; any spec whose adapter takes (image, flow) works).
        data: (image, flow) samples, e.g. :class:`~sdinterp.plugins.twostream.data.TwoStreamFrames`
            (whose ``for_adapter`` gives each model the samples it reads: RTNet two frames and the
            backward flow).
        static_sampler, dynamic_sampler: the pair samplers (``flow_jitter`` and ``restyle``).
        protocol: e.g. ``VosAlternating(frames_per_item)``.
        n_pairs: as the protocol counts them.
        batch_size, seed, threshold: as :meth:`StaticDynamic.attribute`.
        frame_size: (H, W) images and flows are resized to.
        layers: layer names (default: every stream and fusion layer of each model).
        model_options: passed to the model loader (``cascades``, ``weights``...).
        log: progress lines.
        device: where the models run (a ``torch.device`` or name; default: where they are built, the
            CPU); a report off the CPU records it.

    Returns:
        ``{spec: BiasReport}`` in the order given.

    Raises:
        ValueError: ``n_pairs`` too few for ``protocol`` to make pairs of both factors (checked
            before any model is built).
    """
    import torch

    from sdinterp.adapt import adapt, load_model
    from sdinterp.pipeline import StaticDynamic

    missing = missing_factors(protocol, n_pairs, seed)
    if missing:
        raise ValueError(
            f"n_pairs={n_pairs} under protocol {protocol.describe()} makes no {' or '.join(missing)} pairs; "
            "pass more pairs (the report needs both factors)"
        )
    reports = {}
    with warnings.catch_warnings():
        warnings.simplefilter("once", ReliabilityWarning)  # the same data warns alike for every model: say it once
        for spec in models:
            torch.manual_seed(seed)  # random init is part of the run: the same seed gives the same model
            adapter = adapt(load_model(spec, **options_for(spec, model_options)), frame_size=frame_size)
            if device is not None:
                adapter.model.to(device)
            if log is not None:
                log(f"{spec}: {len(adapter.layers())} layers")
            sd = StaticDynamic(
                adapter,
                layers=layers,
                static_sampler=static_sampler,
                dynamic_sampler=dynamic_sampler,
                threshold=threshold,
            )
            # each model gets the samples it reads (RTNet: two frames and their backward flow)
            model_data = data.for_adapter(adapter) if hasattr(data, "for_adapter") else data
            report = sd.attribute(
                model_data, n_pairs=n_pairs, batch_size=batch_size, seed=seed, protocol=protocol, show_progress=False
            )
            report.identity["model"] = {"spec": spec, **report.identity.get("model", {})}
            reports[spec] = report
    return reports
