"""``sdinterp report MODEL_SPEC INPUT...``: a bias report for any layers of a model, in one command.

INPUT is video files, frame folders or dataset roots (plain, ``style_<k>`` or Stylized-DAVIS
layouts). Each run clip is a window of ``--clip-length`` consecutive frames at a seeded random start;
the dataset is repeated so that every pair gets its own clip. Runs under ``torchrun`` shard the
pairs over processes (gloo on CPU, nccl on GPU) and all-reduce the statistics.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

import torch

from sdinterp.commands._checks import UsageError, check_finite, check_output_file, check_positive, weights_provenance
from sdinterp.commands._options import DeprecatedAlias, registry_choice


def _adapter_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key in ("frames", "short_side", "crop_size", "weights"):
        value = getattr(args, key)
        if value is not None:
            opts[{"frames": "num_frames"}.get(key, key)] = value
    if args.trust_weights:
        opts["trust_weights"] = True
    return opts


def _init_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch
    import torch.distributed as dist

    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def _dataset(args: argparse.Namespace) -> Any:
    from sdinterp.data.datasets import VideoClipDataset, discover

    entries = []
    for path in args.inputs:
        found, problems = discover(path)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            listing = "\n  ".join(map(str, errors))
            raise ValueError(f"{len(errors)} problem(s) in {path} (see `sdinterp scan {path}`):\n  {listing}")
        entries.extend(found)
    if not entries:
        raise ValueError(f"no videos found in {', '.join(args.inputs)}")
    styled = any(None not in e.sources for e in entries)
    repeats = max(1, math.ceil(args.n_pairs / len(entries)))
    return VideoClipDataset(
        entries, clip_length=args.clip_length, seed=args.seed, style="random" if styled else None, repeats=repeats
    )


def _check(args: argparse.Namespace) -> None:
    for flag in ("n_pairs", "batch_size", "clip_length", "frames", "short_side", "crop_size"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {args.workers}")
    check_finite("--threshold", args.threshold)
    for flag in ("json", "csv", "units_csv", "resume"):
        check_output_file("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.weights and not Path(args.weights).is_file():
        raise UsageError(f"--weights {args.weights}: no such file (sdinterp never downloads weights)")


def run(args: argparse.Namespace) -> int:
    from sdinterp.adapt import adapt, load_model
    from sdinterp.plugin_manager import get_registry
    from sdinterp.pipeline import StaticDynamic

    _check(args)  # before anything is loaded: a bad flag or output path costs nothing
    distributed = _init_distributed()
    try:
        options = _adapter_options(args)
        # A random initialisation is part of the run: the seed makes it, the report records it.
        torch.manual_seed(args.seed)
        adapter = adapt(load_model(args.model, **options), **options)
        registry = get_registry()
        static = registry.create("sampler", args.static_sampler)
        dyn_opts = {"restyler": args.restyler} if args.restyler else {}
        dynamic = registry.create("sampler", args.dynamic_sampler, **dyn_opts)
        sd = StaticDynamic(adapter, layers=args.layers, static_sampler=static, dynamic_sampler=dynamic,
                           scorer=args.scorer, threshold=args.threshold)
        report = sd.attribute(
            _dataset(args), n_pairs=args.n_pairs, batch_size=args.batch_size, seed=args.seed, protocol=args.protocol,
            show_progress=not args.no_progress, resume=args.resume, num_workers=args.workers,
        )
        report.config["model"] = {"spec": args.model, "weights": weights_provenance(args.weights, args.seed)}
        rank = int(os.environ.get("RANK", "0"))
        if rank == 0:
            print(report.table())
            if args.json:
                report.to_json(args.json, indent=1)
            if args.csv:
                report.to_csv(args.csv)
            if args.units_csv:
                report.to_csv(args.units_csv, units=True)
        return 0
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="static/dynamic bias report of a model's layers on videos",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model spec: torchvision:r3d_18, pytorchvideo:slowfast_r50, mmaction2:CFG[:WEIGHTS], python:mod:factory")
    p.add_argument("inputs", nargs="+", help="video files, frame folders or dataset roots")
    p.add_argument("--layers", nargs="+", help="layer names (default: every canonical layer; see `sdinterp layers`)")
    p.add_argument("--n-pairs", type=int, default=64, help="pairs per factor (shared-anchor) or in total (official) (default: 64)")
    p.add_argument("--batch-size", type=int, default=12, help="videos per forward pass (default: 12)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice of the run (default: 0)")
    registry_choice(p, "--protocol", "protocol", "shared-anchor", "pair protocol")
    p.add_argument("--clip-length", type=int, default=64, help="window of consecutive frames per clip (reference: 64; default: 64)")
    p.add_argument("--frames", type=int, help="frames the model takes (default: the model's native count)")
    p.add_argument("--short-side", type=int, help="short-side resize in pixels (default: the model's native size)")
    p.add_argument("--crop-size", type=int, help="centre crop in pixels (default: the model's native size)")
    p.add_argument("--weights", metavar="FILE", help="local model weights to load (default: random init; never downloaded)")
    p.add_argument("--checkpoint-file", dest="weights", action=DeprecatedAlias, help=argparse.SUPPRESS)
    p.add_argument("--trust-weights", action="store_true",
                   help="allow unpickling a weights file that holds more than tensors: only for files you trust, "
                        "since unpickling can run code")
    registry_choice(p, "--static-sampler", "sampler", "frame_shuffle", "static-pair sampler")
    registry_choice(p, "--dynamic-sampler", "sampler", "restyle", "dynamic-pair sampler")
    registry_choice(p, "--restyler", "restyler", None, "restyler of the restyle sampler (default: photometric)")
    registry_choice(p, "--scorer", "scorer", "official", "estimator")
    p.add_argument("--threshold", type=float, default=0.5, help="λ of the unit categories (default: 0.5)")
    p.add_argument("--workers", type=int, default=0, help="clip-reading worker processes (default: 0)")
    p.add_argument("--resume", metavar="FILE", help="run-state file: progress is saved there and a rerun resumes from it")
    p.add_argument("--json", help="write the report as JSON")
    p.add_argument("--csv", help="write the per-layer table as CSV")
    p.add_argument("--units-csv", help="write the per-unit table as CSV")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


if __name__ == "__main__":  # pragma: no cover
    from sdinterp.cli import main

    sys.exit(main(["report", *sys.argv[1:]]))
