"""``sdinterp shuffle-test MODEL INPUT... --metric python:pkg.mod:fn``: a metric on normal and on
frame-shuffled clips, and their ratio (``docs/method.md`` §7). The metric is
``fn(adapter, clips) -> float`` on a list of ``sdinterp.Sample`` (labels are the metric's business,
e.g. from ``sample.video_id``); the shuffled clips carry the model's own frames in a random order.
"""

from __future__ import annotations

import argparse

from sdinterp.cli_kit import (
    EVALUATION_FLAGS,
    UsageError,
    adapter_from_args,
    add_flags,
    check_flags,
    load_callable,
    load_clips,
    write_json,
)


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugins.dataset_bias.shuffle import shuffle_test

    check_flags(args)
    metric = load_callable(args.metric, "--metric", called_as="fn(adapter, clips) -> float")
    if args.clips is not None and args.clips < 1:
        raise UsageError(f"--clips must be a positive integer, got {args.clips}")
    clips, skipped = load_clips(args, n_clips=args.clips or 0)
    adapter = adapter_from_args(args)
    result = shuffle_test(adapter, clips, metric, seed=args.seed)
    print(result.table())
    write_json(
        args.json,
        {
            "model": args.model,
            "metric": args.metric,
            **result.to_dict(),
            **({"skipped_inputs": skipped} if skipped else {}),
        },
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shuffle-test",
        help="a metric on normal vs frame-shuffled clips (does the model use frame order?)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="model spec, as for `sdinterp report`")
    p.add_argument("inputs", nargs="+", help="video files, frame folders or dataset roots")
    p.add_argument("--metric", required=True, metavar="python:MODULE:FUNCTION", help="fn(adapter, clips) -> float")
    p.add_argument("--clips", type=int, help="clips to evaluate, round robin over the videos (default: one per video)")
    add_flags(p, *EVALUATION_FLAGS, helps={"json": "write the result as JSON (default: none)"})
    p.set_defaults(func=run)
