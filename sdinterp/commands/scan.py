"""``sdinterp scan ROOT``: check a video dataset and report every problem at once.

The checks are :func:`sdinterp.data.scan.scan_dataset`, the same that ``sdinterp report`` runs on its
inputs before loading a model: a dataset that scans without errors is one report accepts.

Exit status 0 when there are no errors (warnings, e.g. grayscale frames that will be converted, and
notes, e.g. frames far larger than a model input, are listed but do not fail the scan), 1 when there
is at least one error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand to the ``sdinterp`` parser."""
    p = subparsers.add_parser(
        "scan",
        help="check a video dataset and report all problems at once",
        description="Open every video (every style) and flow image of a dataset and report all problems: "
        "unreadable or empty files, too few frames, non-RGB frames, videos missing from a style folder, "
        "frame counts or sizes that differ between styles, and flow images of the wrong size or number.",
    )
    p.add_argument("root", help="dataset root (plain videos, root/style_<k>/..., or Stylized-DAVIS) or one video file")
    p.add_argument(
        "--layout",
        choices=["auto", "plain", "stylized", "davis"],
        default="auto",
        help="dataset layout (default: auto)",
    )
    p.add_argument("--styles", default=None, help="comma-separated styles to check (default: all found)")
    p.add_argument("--split", default=None, help="Stylized-DAVIS split file name under ImageSets/480p (e.g. val)")
    p.add_argument(
        "--min-frames",
        type=int,
        default=2,
        help="report videos with fewer frames, e.g. the clip length (default and least: 2, what a static pair needs)",
    )
    p.add_argument(
        "--color", choices=["convert", "strict"], default="convert", help="'strict' makes non-RGB frames errors"
    )
    p.add_argument("--backend", choices=["auto", "decord", "pyav"], default="auto", help="video decoder")
    p.add_argument("--deep", action="store_true", help="decode every frame (slow) instead of probing")
    p.add_argument("--json", action="store_true", help="print the problems as JSON")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


def _styles(value: str | None) -> list[int | str] | None:
    if value is None:
        return None
    return [int(s) if s.strip().isdigit() else s.strip() for s in value.split(",") if s.strip()]


def run(args: argparse.Namespace) -> int:
    """Run the scan described by parsed ``args``; returns the exit status."""
    from sdinterp.data.layouts import detect_layout
    from sdinterp.data.scan import scan_dataset

    layout = args.layout
    if layout == "auto":  # resolved here so layout options go only to layouts that take them
        layout = detect_layout(args.root)
    options: dict[str, Any] = {}
    styles = _styles(args.styles)
    if styles is not None and layout in ("stylized", "davis"):
        options["styles"] = styles
    if args.split is not None:
        if layout != "davis":
            print("sdinterp scan: --split applies to the Stylized-DAVIS layout only", file=sys.stderr)
            return 2
        options["split"] = args.split
    entries, problems = scan_dataset(args.root, layout, args.min_frames, args.color, args.backend, args.deep, options)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    notes = [p for p in problems if p.severity not in ("error", "warning")]
    if args.json:
        print(
            json.dumps(
                {
                    "root": str(args.root),
                    "layout": layout,
                    "videos": len(entries),
                    "problems": [
                        {"path": p.path, "message": p.message, "kind": p.kind, "severity": p.severity} for p in problems
                    ],
                },
                indent=2,
            )
        )
    else:
        for p in problems:
            print(f"{p.severity.upper():7s} [{p.kind}] {p}")
        print(
            f"{len(entries)} video(s) checked ({layout} layout): {len(errors)} error(s), {len(warnings)} warning(s)"
            + (f", {len(notes)} note(s)" if notes else "")
        )
    return 1 if errors else 0
