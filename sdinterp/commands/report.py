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

from sdinterp.cli_kit import (
    MODEL_FLAGS,
    PAIR_FLAGS,
    RUN_FLAGS,
    UsageError,
    adapter_from_args,
    add_flags,
    check_flags,
    clip_dataset,
    samplers_from_args,
    scan_inputs,
    weights_provenance,
)
from sdinterp.commands._config import add_config_option, resolve_config, save_config
from sdinterp.errors import ShortVideoWarning
from sdinterp.report.bias_report import weights_label


def _init_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch
    import torch.distributed as dist

    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def _check(args: argparse.Namespace) -> None:
    """Every flag's value, before anything is loaded: a bad flag or output path costs nothing."""
    check_flags(args)


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
                saved = (
                    f"nor could it be saved to {fallback} ({exc2.strerror or exc2}); the table above is all "
                    "that is left"
                )
            raise UsageError(f"{flag} {path}: cannot write ({exc.strerror or exc}); {saved}") from None


def _write_out_dir(report: Any, args: argparse.Namespace, out: Path) -> None:
    from sdinterp.report.bundle import write_report_folder

    written = write_report_folder(report, out, timings=args.json_timings)
    save_config(args, out / "config.yaml", "report")  # `sdinterp report --config out/config.yaml` repeats the run
    print(
        f"wrote {written['json']}, {written['html']}, CSVs, figures in {out / 'figures'} and {out / 'config.yaml'}",
        file=sys.stderr,
    )


def _print_settings(args: argparse.Namespace, sd: Any, entries: list[Any]) -> None:
    """The run's settings in one line on stderr, before the forwards start."""
    from sdinterp.pipeline.progress import settings_line

    described = sd.adapter.describe()
    clip = described.get("clip") or {}
    # What the adapter applied, read back from it: the line never claims a value nobody used.
    frames = clip.get("num_frames") or described.get("num_frames") or args.frames or "native"
    line = settings_line(
        {
            "model": args.model,
            "weights": weights_label(weights_provenance(args.weights, args.seed, sd.adapter.model)),
            "layers": list(sd.layer_infos),
            "pairs": f"{args.n_pairs} ({args.protocol})",
            "frames": f"{frames} from {args.clip_length}-frame clips",
            "inputs": f"{len(entries)} video(s) from {', '.join(args.inputs)}",
            "batch": args.batch_size,
            "scorer": f"{args.scorer}, threshold {args.threshold}",
            "seed": args.seed,
        }
    )
    print(f"sdinterp report: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    resolve_config(args)  # --config file and flags: flags win; every key checked here
    if not args.model or not args.inputs:
        raise UsageError("give MODEL and INPUT... on the command line, or `model:` and `inputs:` in --config")
    _check(args)  # before anything is loaded: a bad flag or output path costs nothing
    with warnings.catch_warnings():
        entries, skipped = scan_inputs(args)  # every video checked before the model is built
        # The scan above warned once per looped video; the reader need not repeat it mid-run.
        warnings.simplefilter("ignore", ShortVideoWarning)
        return _run(args, entries, skipped)


def _run(args: argparse.Namespace, entries: list[Any], skipped: list[str]) -> int:
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.plugin_manager import get_registry

    distributed = _init_distributed()
    try:
        # Named components first: an unknown or ambiguous name costs nothing.
        static, dynamic = samplers_from_args(args)
        registry = get_registry()
        registry.get("scorer", args.scorer)
        registry.get("protocol", args.protocol)
        # A random initialisation is part of the run: the seed makes it (set here), the report records it.
        adapter = adapter_from_args(args)  # on --device (under torchrun: this process's GPU)
        sd = StaticDynamic(
            adapter,
            layers=args.layers,
            static_sampler=static,
            dynamic_sampler=dynamic,
            scorer=args.scorer,
            threshold=args.threshold,
        )
        rank = int(os.environ.get("RANK", "0"))
        if rank == 0 and not args.quiet:
            _print_settings(args, sd, entries)
        # Bars count pairs and forwards; only on a terminal, so logs and pipes stay clean.
        show = not (args.no_progress or args.quiet) and sys.stderr.isatty()
        # Where both samplers allow it, frames shrink to the model's input as they are decoded
        # (StaticDynamic.accumulate, decode_only_views): memory grows with what the model takes.
        report = sd.attribute(
            clip_dataset(args, entries),
            n_pairs=args.n_pairs,
            batch_size=args.batch_size,
            seed=args.seed,
            protocol=args.protocol,
            show_progress=show,
            resume=args.resume,
            num_workers=args.workers,
            bootstrap=args.bootstrap,
            bootstrap_level=args.bootstrap_level,
            validity=not args.no_validity,
        )
        report.identity["model"] = {
            "spec": args.model,
            "weights": weights_provenance(args.weights, args.seed, sd.adapter.model),
            **report.identity.get("model", {}),
        }
        if skipped:
            report.identity["skipped_inputs"] = skipped
        if rank == 0:
            print(report.table())
            _write_outputs(report, args)
        return 0
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="static/dynamic bias report of a model's layers on videos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model",
        nargs="?",
        help="model spec: torchvision:r3d_18, pytorchvideo:slowfast_r50, mmaction2:CFG[:WEIGHTS], "
        "hf:videomae, python:mod:factory (see `sdinterp plugins` for every family)",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        help="video files, frame folders or dataset roots (checked as `sdinterp scan` "
        "does); MODEL and INPUT may instead come from --config",
    )
    # The shared flags (sdinterp.cli_kit), in report's order; the ones only report has in between.
    add_flags(
        p,
        *RUN_FLAGS,
        "clip-length",
        *MODEL_FLAGS,
        *PAIR_FLAGS,
        "scorer",
        "threshold",
        "workers",
        "device",
        "resume",
        "skip-bad",
        "json",
        "json-timings",
        "csv",
        "units-csv",
        "no-progress",
        "quiet",
        "out",
        "bootstrap",
        "bootstrap-level",
        "no-validity",
        "debug",
    )
    p.set_defaults(func=run)
    # Last: every option above becomes a --config key (path keys resolved against the file's folder).
    add_config_option(p, path_keys=("inputs", "weights", "resume", "json", "csv", "units_csv", "out"))


if __name__ == "__main__":  # pragma: no cover
    from sdinterp.cli import main

    sys.exit(main(["report", *sys.argv[1:]]))
