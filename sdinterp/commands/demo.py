"""``sdinterp demo``: the main job on embedded defaults — a bias report of the planted-truth
network on synthetic clips, where the right answer is known by construction; then the embedded
trained tiny nets of a motion-class and an appearance-class task reported on real clips and
compared (:mod:`sdinterp.commands._demo_trained`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from sdinterp.cli_kit import UsageError
    from sdinterp.cli_kit.outputs import REPORT_FOLDER_FILES, check_outputs
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.plugin_manager import get_registry
    from sdinterp.report.bundle import write_report_folder
    from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: is a file; give a folder (it is created if missing)")
    # --json may not be one of the files the demo writes into --out
    check_outputs(
        {"--json": args.json, "--out": args.out},
        folders={"--out": (*REPORT_FOLDER_FILES, "table.txt", "trained")},
    )
    if args.videos and not Path(args.videos).is_dir():
        raise UsageError(f"--videos {args.videos}: not a folder; give a folder of video clips")
    if args.videos and not args.no_trained:
        from sdinterp.commands._demo_trained import real_clip_entries

        if not real_clip_entries(Path(args.videos)):
            raise UsageError(f"--videos {args.videos}: no video files there; give a folder of .mp4/.avi/... clips")
    for flag in ("trained_pairs", "probe_pairs"):
        if getattr(args, flag) < 2:
            raise UsageError(f"--{flag.replace('_', '-')} must be 2 or more, got {getattr(args, flag)}")
    t0 = time.perf_counter()
    clips = make_planted_clips(args.clips, seed=args.seed)
    restyle = get_registry().create("sampler", "restyle", restyler="level_permutation")
    sd = StaticDynamic(
        PlantedNet(), layers=list(PLANTED_TRUTH), dynamic_sampler=restyle, **PlantedNet.adapter_options()
    )
    report = sd.attribute(clips, n_pairs=args.pairs, batch_size=48, seed=args.seed, show_progress=False)
    print("sdinterp demo: planted-truth network on synthetic moving-object clips")
    print(
        "(static-heavy layer: 6 static, 1 dynamic, 1 joint, 1 residual unit; dynamic-heavy: 6 dynamic, 1 "
        "static, 1 joint, 1 residual;\n"
        " motion-energy: 2 dynamic, 3 static)\n"
    )
    print(report.table())
    hits = sum(int((report[l].categories == truth).sum()) for l, truth in PLANTED_TRUTH.items())
    total = sum(len(t) for t in PLANTED_TRUTH.values())
    print(f"\nunit categories recovered: {hits}/{total}; {time.perf_counter() - t0:.1f} s")
    written = write_report_folder(report, out)
    (out / "table.txt").write_text(report.table() + "\n")
    print(
        f"\nwritten to {out.resolve()}/: table.txt, report.html (open it in a browser), report.json, "
        "layers.csv, units.csv, figures/ "
        f"({', '.join(p.name for k, p in written.items() if k in ('layers', 'units', 'scatter'))})"
    )
    if args.json:
        report.to_json(args.json, indent=1)
        print(f"report written to {args.json}")
    _trained_part(args, out)
    return 0 if hits == total else 1


def _trained_part(args: argparse.Namespace, out: Path) -> None:
    from sdinterp.commands._demo_trained import (
        DEFAULT_VIDEOS,
        MODELS,
        probe_comparison,
        trained_comparison,
        verdict_cell,
    )

    if args.no_trained:
        return
    t0 = time.perf_counter()
    table, _ = probe_comparison(seed=args.seed, pairs=args.probe_pairs)
    print(
        f"\nsdinterp demo: trained tiny I3D-like nets ({', '.join(f'{k} = {v}' for k, v in MODELS.items())}) on "
        f"{args.probe_pairs} unseen probe videos of the task each was trained for, with ground-truth dynamic pairs "
        "(the\n generator's re-renderings: same motion, new appearance) and with the default pairs; static pairs: "
        "frame shuffle"
    )
    print(table)
    print(
        f"(what the method can see: the motion-class net's units are dynamic, the appearance-class net's static; "
        f"docs/validity.md explains the verdicts) {time.perf_counter() - t0:.1f} s"
    )
    videos = Path(args.videos) if args.videos else DEFAULT_VIDEOS
    if not videos.is_dir():
        print(f"\ntrained models on real clips: not run, no clip folder at {videos} (pass --videos DIR)")
        return
    t0 = time.perf_counter()
    comparison, reports, notes = trained_comparison(videos, out / "trained", seed=args.seed, pairs=args.trained_pairs)
    print(
        f"\nsdinterp demo: the same nets on the real clips of {videos}, {args.trained_pairs} pairs per factor, "
        "8 frames of 32x32, default pairs"
    )
    print(comparison.table())
    for label, report in reports.items():
        print(f"validity ({label}): {verdict_cell(report)}")
    for note in notes:
        print(f"note: {note}")
    print("(real clips are far from what these nets were trained on; read the verdicts before the numbers)")
    print(
        f"{time.perf_counter() - t0:.1f} s; written to {(out / 'trained').resolve()}/: compare.html, compare.csv, "
        "compare_layers.png, compare_units.png, and one report folder per model"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="bias reports of a built-in planted-truth network and of two embedded trained nets (no downloads)"
    )
    p.add_argument("--clips", type=int, default=128, help="synthetic clips (default 128)")
    p.add_argument("--pairs", type=int, default=128, help="pairs per factor (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the report as JSON here")
    p.add_argument(
        "--out",
        metavar="DIR",
        default="out",
        help="folder for the table, figures and report.html, created if missing (default: ./out)",
    )
    p.add_argument(
        "--videos", metavar="DIR", help="real clips for the trained-model comparison (default: ../shared/data/videos)"
    )
    p.add_argument(
        "--trained-pairs", type=int, default=64, help="pairs per factor of the trained-model reports (default 64)"
    )
    p.add_argument(
        "--probe-pairs",
        type=int,
        default=128,
        help="probe videos (= pairs per factor) of the trained nets' own tasks (default 128)",
    )
    p.add_argument(
        "--no-trained", action="store_true", help="only the planted network (default: also the trained models)"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)
