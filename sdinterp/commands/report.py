"""``sdinterp report MODEL_SPEC INPUT...``: a bias report for any layers of a model, in one command.

INPUT is video files, frame folders or dataset roots (plain, ``style_<k>`` or Stylized-DAVIS
layouts). Each run clip is a window of ``--clip-length`` consecutive frames at a seeded random start;
the dataset is repeated so that every pair gets its own clip. Runs under ``torchrun`` shard the
pairs over processes (gloo on CPU, nccl on GPU) and all-reduce the statistics.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from sdinterp.commands._checks import UsageError, check_finite, check_output_file, check_positive, weights_provenance
from sdinterp.report.bias_report import weights_label
from sdinterp.commands._config import add_config_option, resolve_config, save_config
from sdinterp.commands._options import DeprecatedAlias, registry_choice
from sdinterp.errors import ReliabilityWarning, ShortVideoWarning


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


def _belongs(problem_path: str, entry: Any) -> bool:
    roots = [str(p) for p in entry.sources.values()] + ([str(entry.flow_dir)] if entry.flow_dir else [])
    return any(problem_path == r or problem_path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _inputs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """Every input checked as ``sdinterp scan`` checks it, before any model is loaded: the videos to
    use and, with ``--skip-bad``, what was left out (recorded in the report)."""
    from sdinterp.data.scan import scan_dataset

    entries, skipped = [], []
    for path in args.inputs:
        if not Path(path).exists():
            raise UsageError(f"input {path}: no such file or folder")
        found, problems = scan_dataset(path, min_frames=2, clip_length=args.clip_length)
        errors = [p for p in problems if p.severity == "error"]
        for p in problems:
            if p.kind == "short":
                warnings.warn(f"{p.path}: {p.message}; --clip-length {args.clip_length}", ShortVideoWarning, stacklevel=1)
        if errors and not args.skip_bad:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise UsageError(
                f"{len(errors)} problem(s) in input {path}: {errors[0]}{more}; run `sdinterp scan {path}` to see them "
                "all, fix them, or pass --skip-bad to leave those videos out"
            )
        skipped += [f"{p.path}: {p.message}" for p in errors]
        entries += [e for e in found if not any(_belongs(p.path, e) for p in errors)]
    if skipped:
        warnings.warn(f"--skip-bad: {len(skipped)} problem(s) left out (listed in the report), e.g. {skipped[0]}", ReliabilityWarning, stacklevel=1)
    if not entries:
        raise UsageError(f"no usable videos in {', '.join(args.inputs)}" + (" (every one had a problem)" if skipped else ""))
    return entries, skipped


def _dataset(args: argparse.Namespace, entries: list[Any]) -> Any:
    from sdinterp.data.datasets import VideoClipDataset
    from sdinterp.interfaces import PairProtocol
    from sdinterp.plugin_manager import get_registry

    n_clips = get_registry().instance("protocol", args.protocol, PairProtocol).n_clips(args.n_pairs)
    if n_clips < len(entries):
        warnings.warn(
            f"{n_clips} of the {len(entries)} videos are used: --n-pairs {args.n_pairs} needs {n_clips} clips and "
            f"clip i reads video i mod {len(entries)}; pass --n-pairs {len(entries)} or more to use every video",
            ReliabilityWarning, stacklevel=1,
        )
    styled = any(None not in e.sources for e in entries)
    return VideoClipDataset(
        entries, clip_length=args.clip_length, seed=args.seed, style="random" if styled else None, num_clips=n_clips
    )


def _check(args: argparse.Namespace) -> None:
    for flag in ("n_pairs", "batch_size", "clip_length", "frames", "short_side", "crop_size"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {args.workers}")
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 (off) or a number of replicates such as 100, got {args.bootstrap}")
    if not 0.0 < args.bootstrap_level < 1.0:
        raise UsageError(f"--bootstrap-level must be strictly between 0 and 1 (e.g. 0.95), got {args.bootstrap_level}")
    check_finite("--threshold", args.threshold)
    for flag in ("json", "csv", "units_csv", "resume"):
        check_output_file("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.weights and not Path(args.weights).is_file():
        raise UsageError(f"--weights {args.weights}: no such file (sdinterp never downloads weights)")
    if args.out:
        _check_out_dir(args.out)


def _check_out_dir(out: str) -> None:
    """--out names a folder that exists and is writable, or one that can be created."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder (it is created if missing)")
    parent = next((q for q in [p, *p.parents] if q.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: cannot write in {parent} (permission denied); choose another folder")


def _fallback_path(args: argparse.Namespace) -> Path:
    if args.resume:
        return Path(args.resume).with_name(Path(args.resume).name + ".report.json")
    return Path(tempfile.gettempdir()) / f"sdinterp-report-{os.getpid()}.json"


def _write_outputs(report: Any, args: argparse.Namespace) -> None:
    """Write the requested files; if one cannot be written (a disk filled up, a folder removed
    during the run) the whole report goes next to the run state (or the temp folder) instead, and
    the message says where: a finished computation is never lost."""
    outputs = [
        (args.json, "--json", lambda p: report.to_json(p, indent=1, timings=args.json_timings)),
        (args.csv, "--csv", lambda p: report.to_csv(p)),
        (args.units_csv, "--units-csv", lambda p: report.to_csv(p, units=True)),
        (args.out, "--out", lambda p: _write_out_dir(report, args, Path(p))),
    ]
    for path, flag, write in outputs:
        if not path:
            continue
        try:
            write(path)
        except OSError as exc:
            fallback = _fallback_path(args)
            try:
                report.to_json(fallback, indent=1, timings=True)
                saved = f"the report was saved to {fallback} instead"
            except OSError as exc2:
                saved = f"nor could it be saved to {fallback} ({exc2.strerror or exc2}); the table above is all that is left"
            raise UsageError(f"{flag} {path}: cannot write ({exc.strerror or exc}); {saved}") from None


def _write_out_dir(report: Any, args: argparse.Namespace, out: Path) -> None:
    from sdinterp.report.bundle import write_report_folder

    written = write_report_folder(report, out, timings=args.json_timings)
    save_config(args, out / "config.yaml", "report")  # `sdinterp report --config out/config.yaml` repeats the run
    print(f"wrote {written['json']}, {written['html']}, CSVs, figures in {out / 'figures'} and {out / 'config.yaml'}",
          file=sys.stderr)


def _print_settings(args: argparse.Namespace, sd: Any, entries: list[Any]) -> None:
    """The run's settings in one line on stderr, before the forwards start."""
    from sdinterp.pipeline.progress import settings_line

    clip = sd.adapter.describe().get("clip") or {}
    frames = args.frames or clip.get("num_frames") or "native"
    line = settings_line({
        "model": args.model, "weights": weights_label(weights_provenance(args.weights, args.seed, sd.adapter.model)),
        "layers": list(sd.layer_infos), "pairs": f"{args.n_pairs} ({args.protocol})",
        "frames": f"{frames} from {args.clip_length}-frame clips",
        "inputs": f"{len(entries)} video(s) from {', '.join(args.inputs)}", "batch": args.batch_size,
        "scorer": f"{args.scorer}, threshold {args.threshold}", "seed": args.seed,
    })
    print(f"sdinterp report: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    resolve_config(args)  # --config file and flags: flags win; every key checked here
    if not args.model or not args.inputs:
        raise UsageError("give MODEL and INPUT... on the command line, or `model:` and `inputs:` in --config")
    _check(args)  # before anything is loaded: a bad flag or output path costs nothing
    with warnings.catch_warnings():
        entries, skipped = _inputs(args)  # every video checked before the model is built
        # The scan above warned once per looped video; the reader need not repeat it mid-run.
        warnings.simplefilter("ignore", ShortVideoWarning)
        return _run(args, entries, skipped)


def _run(args: argparse.Namespace, entries: list[Any], skipped: list[str]) -> int:
    from sdinterp.adapt import adapt, load_model
    from sdinterp.plugin_manager import get_registry
    from sdinterp.pipeline import StaticDynamic

    distributed = _init_distributed()
    try:
        # Named components first: an unknown or ambiguous name costs nothing.
        registry = get_registry()
        static = registry.create("sampler", args.static_sampler)
        dyn_opts = {"restyler": args.restyler} if args.restyler else {}
        dynamic = registry.create("sampler", args.dynamic_sampler, **dyn_opts)
        registry.get("scorer", args.scorer)
        registry.get("protocol", args.protocol)
        options = _adapter_options(args)
        # A random initialisation is part of the run: the seed makes it, the report records it.
        torch.manual_seed(args.seed)
        adapter = adapt(load_model(args.model, **options), **options)
        sd = StaticDynamic(adapter, layers=args.layers, static_sampler=static, dynamic_sampler=dynamic,
                           scorer=args.scorer, threshold=args.threshold)
        rank = int(os.environ.get("RANK", "0"))
        if rank == 0 and not args.quiet:
            _print_settings(args, sd, entries)
        # Bars count pairs and forwards; only on a terminal, so logs and pipes stay clean.
        show = not (args.no_progress or args.quiet) and sys.stderr.isatty()
        report = sd.attribute(
            _dataset(args, entries), n_pairs=args.n_pairs, batch_size=args.batch_size, seed=args.seed,
            protocol=args.protocol, show_progress=show, resume=args.resume, num_workers=args.workers,
            bootstrap=args.bootstrap, bootstrap_level=args.bootstrap_level,
        )
        report.config["model"] = {
            "spec": args.model, "weights": weights_provenance(args.weights, args.seed, sd.adapter.model), **report.config.get("model", {}),
        }
        if skipped:
            report.config["skipped_inputs"] = skipped
        if rank == 0:
            print(report.table())
            _write_outputs(report, args)
        return 0
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="static/dynamic bias report of a model's layers on videos",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="model spec: torchvision:r3d_18, pytorchvideo:slowfast_r50, mmaction2:CFG[:WEIGHTS], "
                                 "hf:videomae, python:mod:factory (see `sdinterp plugins` for every family)")
    p.add_argument("inputs", nargs="*", help="video files, frame folders or dataset roots (checked as `sdinterp scan` "
                                             "does); MODEL and INPUT may instead come from --config")
    p.add_argument("--layers", nargs="+", help="layer names (default: every canonical layer; see `sdinterp layers MODEL`)")
    p.add_argument("--n-pairs", type=int, default=64,
                   help="pairs per factor (shared-anchor) or in total (official); below 16 the estimate is unreliable "
                        "and a warning says so (default: 64)")
    p.add_argument("--batch-size", type=int, default=12, help="videos per forward pass (default: 12)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice of the run, random weights included (default: 0)")
    registry_choice(p, "--protocol", "protocol", "shared-anchor", "pair protocol")
    p.add_argument("--clip-length", type=int, default=64,
                   help="window of consecutive frames per clip; videos shorter than it are looped, with a warning "
                        "naming each (reference: 64; default: 64)")
    p.add_argument("--frames", type=int, help="frames the model takes (default: the model's native count)")
    p.add_argument("--short-side", type=int, help="short-side resize in pixels (default: the model's native size)")
    p.add_argument("--crop-size", type=int, help="centre crop in pixels (default: the model's native size)")
    p.add_argument("--weights", metavar="FILE", help="local model weights to load (default: random init; never downloaded)")
    p.add_argument("--checkpoint-file", dest="weights", action=DeprecatedAlias, help=argparse.SUPPRESS)
    p.add_argument("--trust-weights", action="store_true",
                   help="allow unpickling a weights file that holds more than tensors (a legacy pickle): only for "
                        "files you trust, since unpickling can run any code (default: off)")
    registry_choice(p, "--static-sampler", "sampler", "frame_shuffle", "static-pair sampler")
    registry_choice(p, "--dynamic-sampler", "sampler", "restyle", "dynamic-pair sampler")
    registry_choice(p, "--restyler", "restyler", None, "restyler of the restyle sampler (default: photometric)")
    registry_choice(p, "--scorer", "scorer", "official", "estimator")
    p.add_argument("--threshold", type=float, default=0.5, help="λ of the unit categories, a finite number (default: 0.5)")
    p.add_argument("--workers", type=int, default=0, help="clip-reading worker processes (default: 0)")
    p.add_argument("--resume", metavar="FILE",
                   help="run-state file: progress is saved there and a rerun of the same run resumes from it; "
                        "a file of another run is refused (default: none)")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave out inputs `sdinterp scan` calls errors (listed in the report) instead of refusing "
                        "the run (default: off)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (default: none)")
    p.add_argument("--json-timings", action="store_true",
                   help="also write wall-clock timings into the JSON, which then differs from run to run (default: off)")
    p.add_argument("--csv", metavar="FILE", help="write the per-layer table as CSV (default: none)")
    p.add_argument("--units-csv", metavar="FILE", help="write the per-unit table as CSV (default: none)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (default: shown on a terminal, counting pairs and forwards)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no settings line on stderr; the table is still printed (default: off)")
    p.add_argument("--out", metavar="DIR",
                   help="write report.json, layers.csv, units.csv, figures/ (PNG and SVG), a self-contained "
                        "report.html and config.yaml (the resolved settings) into DIR, created if missing (default: none)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="B",
                   help="B Poisson-bootstrap replicates over clips: intervals for every layer number and each unit's "
                        "category stability, in the table and the JSON (docs/confidence.md; default: 0, off)")
    p.add_argument("--bootstrap-level", type=float, default=0.95,
                   help="two-sided level of the bootstrap intervals (default: 0.95)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")
    p.set_defaults(func=run)
    # Last: every option above becomes a --config key (path keys resolved against the file's folder).
    add_config_option(p, path_keys=("inputs", "weights", "resume", "json", "csv", "units_csv", "out"))


if __name__ == "__main__":  # pragma: no cover
    from sdinterp.cli import main

    sys.exit(main(["report", *sys.argv[1:]]))
