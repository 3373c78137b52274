"""``sdinterp synth``: write a synthetic dataset whose class is carried by a known factor.

    sdinterp synth --kind motion --classes 4 --videos 32 --frames 16 --size 64 --seed 0 --out DIR
    sdinterp report torchvision:r3d_18 DIR/videos --n-pairs 32 --clip-length 16
    sdinterp synth --kind motion --styles 4 --out DIR2     # + ground-truth restylings
    sdinterp report torchvision:r3d_18 DIR2/videos --dynamic-sampler prestylized --clip-length 16

The class of each video is in ``DIR/labels.csv``; masks in ``DIR/masks``, boxes and the drawn
attributes in ``DIR/annotations.json`` (docs/synthetic.md). Counts are checked before anything is
written: one video must fit in memory, the dataset on the disk (:mod:`.budget`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from sdinterp.cli_kit import UsageError
    from sdinterp.data.synthetic import SynthConfig
    from sdinterp.plugins.synthetic.budget import check_disk, check_render_memory
    from sdinterp.plugins.synthetic.dataset import write_dataset

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder")
    if not out.parent.is_dir() and str(out.parent):
        raise UsageError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if args.cue is not None and args.kind != "shortcut":
        raise UsageError(
            f"--cue sets how often a shortcut video wears its class's appearance; it needs --kind shortcut, "
            f"not {args.kind}"
        )
    try:
        config = SynthConfig(
            kind=args.kind,
            classes=args.classes,
            videos=args.videos,
            frames=args.frames,
            size=args.size,
            seed=args.seed,
            difficulty=args.difficulty,
            cue=1.0 if args.cue is None else args.cue,
            camera=args.camera,
        )
    except ValueError as exc:  # name the flag: the config's fields are the flags' names
        raise UsageError(f"--{str(exc).split(' ')[0]} {str(exc).split(' ', 1)[1]}") from None
    if args.styles < 0:
        raise UsageError(f"--styles must be 0 or more, got {args.styles}")
    # Before any file is written: one video must fit in memory, the whole dataset on the disk.
    check_render_memory(config)
    check_disk(config, out, args.format, not args.no_masks, args.styles)
    root = write_dataset(config, out, fmt=args.format, masks=not args.no_masks, styles=args.styles)
    print(
        f"{config.videos} {config.kind} videos ({config.classes} classes, {config.frames} frames of "
        f"{config.size}x{config.size}"
        + (f", appearance cue {config.cue:g}" if config.kind == "shortcut" else "")
        + (f", camera {config.camera:g} px/frame" if config.camera else "")
        + f") in {root}"
        + (f", in styles 0..{args.styles}" if args.styles else "")
        + f"; labels in {out / 'labels.csv'}"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add the ``synth`` subcommand (registered by the synthetic plugin as kind ``command``)."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic dataset whose class is carried by appearance, motion or both",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from sdinterp.data.synthetic import KINDS

    p.add_argument(
        "--kind",
        choices=list(KINDS),
        default="motion",
        help="which factor carries the class: appearance, motion, both, camouflage (motion on a background "
        "of the object's texture), shortcut (motion, with an appearance that agrees with the class at rate "
        "--cue) or joint (colour x direction; an even --classes of 4 or more); docs/synthetic.md (default: motion)",
    )
    p.add_argument(
        "--cue",
        type=float,
        default=None,
        help="--kind shortcut: the share of each class's videos that wear their class's appearance; 1/classes "
        "makes appearance independent of the class, 0 never the class's own (default: 1)",
    )
    p.add_argument(
        "--camera",
        type=float,
        default=0.0,
        help="pixels per frame the background pans, 0 to size/4 (default: 0, a fixed camera)",
    )
    p.add_argument("--classes", type=int, default=4, help="number of classes, 2 or more (default: 4)")
    p.add_argument(
        "--videos", type=int, default=32, help="number of videos; video i has class i mod classes (default: 32)"
    )
    p.add_argument("--frames", type=int, default=16, help="frames per video, 2 or more (default: 16)")
    p.add_argument("--size", type=int, default=64, help="frame height and width in pixels, 16 or more (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="seed; the same seed writes the same dataset (default: 0)")
    p.add_argument(
        "--difficulty",
        type=float,
        default=0.0,
        help="0 (exact class attributes, no noise) to 1 (jittered attributes, pixel noise) (default: 0)",
    )
    p.add_argument(
        "--format",
        choices=["frames", "avi", "mp4"],
        default="frames",
        help="PNG frame folders or FFV1 .avi (both lossless), or H.264 .mp4 (default: frames)",
    )
    p.add_argument(
        "--styles",
        type=int,
        default=0,
        help="also write K restylings of every video (same motion and shape, new colours and textures) as "
        "OUT/videos/style_0..K, for ground-truth dynamic pairs with --dynamic-sampler prestylized (default: 0)",
    )
    p.add_argument("--no-masks", action="store_true", help="do not write the per-frame masks (default: written)")
    p.add_argument("--out", required=True, help="output folder (the dataset root is OUT/videos)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")
    p.set_defaults(func=run)
