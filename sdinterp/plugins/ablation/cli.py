"""``sdinterp ablate MODEL INPUT... --layer L --factor dynamic --percent 10 20 40 --metric python:pkg.mod:fn``.

Measures the layer's bias on the inputs (or reads it from ``--report``), then removes the top x % of
its units by the factor's per-unit softmax, and as many units by the baseline rule (random, over
``--seeds`` seeds), and evaluates the metric each time (paper Sec. 5.1). The metric is
``fn(adapter, clips) -> float``: ``clips`` is the run's dataset of INPUT clips (each a
``sdinterp.Sample``; labels are the metric's business, e.g. from ``sample.video_id``).

A ``--report`` must be about this model and layer: its recorded model (spec, class, weights,
parameters) and layer (module, call, width) are checked against this run, and one that differs is
refused in one line naming the difference. A metric that returns nan or an infinity fails the run.
"""

from __future__ import annotations

import argparse
from typing import Any

from sdinterp.cli_kit import (
    EVALUATION_FLAGS,
    UsageError,
    adapter_from_args,
    add_flags,
    check_flags,
    load_callable,
    load_clips,
    weights_provenance,
    write_json,
)


def _check(args: argparse.Namespace) -> None:
    check_flags(args)
    bad = [x for x in args.percent if not 0 <= x <= 100]
    if bad:
        raise UsageError(f"--percent {bad[0]:g}: percentages must be in [0, 100]")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be a positive integer, got {args.seeds}")


def run(args: argparse.Namespace) -> int:
    from sdinterp.capture import resolve_layer
    from sdinterp.pipeline.identity import model_identity
    from sdinterp.plugin_manager import get_registry
    from sdinterp.plugins.ablation.report_check import report_differences
    from sdinterp.plugins.ablation.selection import KIND
    from sdinterp.plugins.ablation.sweep import removal_sweep
    from sdinterp.report.compare import read_report

    _check(args)
    metric = load_callable(args.metric, "--metric", called_as="fn(adapter, clips) -> float")
    for name in (args.baseline, *args.selection):
        get_registry().get(KIND, name)  # an unknown rule fails before any model is built
    report = read_report(args.report, "--report") if args.report else None
    if report is not None and args.layer not in report.layers:
        raise UsageError(f"--report {args.report} has no layer {args.layer!r} (it has {', '.join(report.layers)})")
    clips, skipped = load_clips(args)
    adapter = adapter_from_args(args)
    info = resolve_layer(adapter, args.layer)  # an unknown layer fails before any forward
    if report is not None:
        weights = weights_provenance(args.weights, args.seed, adapter.model)
        differ = report_differences(report, args.model, weights, model_identity(adapter.model), args.layer, info)
        if differ:
            raise UsageError(
                f"--report {args.report} is not about this run's model and layer ({'; '.join(differ)}, report vs "
                "this run); give a report of this model and layer, or leave --report out to measure one"
            )
    if report is None:
        from sdinterp.pipeline import StaticDynamic

        report = StaticDynamic(adapter, layers=[args.layer]).attribute(
            clips,
            n_pairs=args.n_pairs,
            batch_size=args.batch_size,
            seed=args.seed,
            protocol=args.protocol,
            show_progress=not args.no_progress,
        )
    if args.layer not in report.layers:
        raise UsageError(f"layer {args.layer!r} could not be scored: {report.skipped.get(args.layer, 'no pairs')}")
    selections = [f"top_{args.factor}", *args.selection, args.baseline]
    curves = removal_sweep(
        adapter,
        args.layer,
        report[args.layer],
        metric,
        clips,
        percents=args.percent,
        selections=list(dict.fromkeys(selections)),
        seeds=range(args.seed, args.seed + args.seeds),
    )
    curves.metric = args.metric
    print(curves.table())
    payload: dict[str, Any] = {**curves.to_dict(), "model": args.model, "bias": report[args.layer].to_dict()}
    if skipped:
        payload["skipped_inputs"] = skipped
    write_json(args.json, payload)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ablate",
        help="remove a layer's most static or dynamic units and measure a metric (paper Sec. 5.1)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="model spec, as for `sdinterp report`")
    p.add_argument("inputs", nargs="+", help="video files, frame folders or dataset roots")
    p.add_argument("--layer", required=True, help="the layer whose units are removed (see `sdinterp layers MODEL`)")
    p.add_argument(
        "--factor",
        choices=("dynamic", "static"),
        default="dynamic",
        help="remove the units most biased toward this factor (default: dynamic)",
    )
    p.add_argument(
        "--percent",
        type=float,
        nargs="+",
        default=[10.0, 20.0, 40.0],
        help="removal percentages; floor(x/100 * units) units each (default: 10 20 40)",
    )
    p.add_argument(
        "--metric",
        required=True,
        metavar="python:MODULE:FUNCTION",
        help="fn(adapter, clips) -> float, higher is better (e.g. top-1 accuracy)",
    )
    p.add_argument(
        "--baseline",
        default="random",
        help="selection rule of the baseline: random, segmentation_baseline or a plugin's (default: random)",
    )
    p.add_argument("--selection", nargs="*", default=[], help="more selection rules to evaluate (default: none)")
    p.add_argument("--seeds", type=int, default=5, help="seeds of stochastic rules (default: 5)")
    p.add_argument(
        "--report", metavar="FILE", help="a report JSON of this model to rank units by, instead of measuring one"
    )
    add_flags(p, *EVALUATION_FLAGS, helps={"json": "write the result as JSON (default: none)"})
    p.set_defaults(func=run)
