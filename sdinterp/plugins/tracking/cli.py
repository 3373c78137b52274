"""``sdinterp track CHECKPOINT... INPUT --model SPEC``: the bias of every checkpoint of a training
run, with the same clips, pairs and seed (paper Sec. 4.3, Fig. 10).

CHECKPOINT is one or more weight files or folders of them (``epoch_3.pth``, ``iter_3000.pth``…; the
epoch or iteration is read from the name unless ``--steps`` gives them); the last positional
argument is the INPUT (video files, a frame folder or a dataset root), as for ``sdinterp report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sdinterp.cli_kit import UsageError, adapter_from_args, add_flags, check_flags, load_clips, write_json
from sdinterp.cli_kit.outputs import check_run_outputs


def _checkpoints(paths: list[str]) -> list[Path]:
    from sdinterp.plugins.tracking.checkpoints import find_checkpoints

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += find_checkpoints(p)
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"checkpoint {p}: no such file or folder")
    return out


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugins.tracking.checkpoints import track_checkpoints

    if len(args.paths) < 2:
        raise UsageError("give at least one CHECKPOINT and then the INPUT videos (the last argument)")
    check_flags(args)
    checkpoints, args.inputs = _checkpoints(args.paths[:-1]), [args.paths[-1]]
    # --json may be neither the INPUT nor a checkpoint it reads (check_flags saw only the flags)
    check_run_outputs(args, inputs={"CHECKPOINT": [str(c) for c in checkpoints]})
    if args.steps is not None and len(args.steps) != len(checkpoints):
        raise UsageError(f"--steps gives {len(args.steps)} steps for {len(checkpoints)} checkpoints")
    clips, skipped = load_clips(args)
    adapter = adapter_from_args(args)
    series = track_checkpoints(
        adapter,
        checkpoints,
        clips,
        layers=args.layers,
        steps=args.steps,
        strict=not args.non_strict,
        trust_weights=args.trust_weights,
        n_pairs=args.n_pairs,
        batch_size=args.batch_size,
        seed=args.seed,
        protocol=args.protocol,
    )
    for report in series.reports:
        report.identity["model"] = {"spec": args.model, **report.identity.get("model", {})}
        if skipped:
            report.identity["skipped_inputs"] = skipped
    print(series.table())
    write_json(args.json, series.to_dict())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track",
        help="bias of every checkpoint of a training run (paper Sec. 4.3)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="CHECKPOINT... INPUT",
        help="checkpoint files or folders, then the input videos (the last argument)",
    )
    p.add_argument("--model", required=True, help="model spec of the architecture, as for `sdinterp report`")
    add_flags(p, "layers")
    p.add_argument(
        "--steps", type=float, nargs="+", help="epoch/iteration of each checkpoint (default: from the names)"
    )
    p.add_argument("--non-strict", action="store_true", help="load checkpoints with strict=False (default: strict)")
    # The flags `sdinterp report` reads videos and builds models with; the weights are the checkpoints.
    add_flags(
        p,
        "n-pairs",
        "batch-size",
        "seed",
        "protocol",
        "clip-length",
        "frames",
        "short-side",
        "crop-size",
        "trust-weights",
        "device",
        "skip-bad",
        "json",
        "no-progress",
        "debug",
        helps={"json": "write the result as JSON (default: none)"},
    )
    p.set_defaults(func=run, weights=None)
