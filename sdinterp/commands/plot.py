"""``sdinterp plot REPORT.json [--out DIR]``: re-draw a saved report's figures (layer-wise lines,
unit-category bars, per-unit scatter) without running anything; ``--html`` also re-writes the
self-contained report.html."""

from __future__ import annotations

import argparse
import sys

from sdinterp.cli_kit import UsageError


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sdinterp.cli_kit.outputs import check_outputs
    from sdinterp.report.compare import read_report
    from sdinterp.report.plots import FIGURE_CAPTIONS

    src = Path(args.report)
    if not src.is_file():
        raise UsageError(f"report {args.report}: no such file")
    out = Path(args.out) if args.out else src.resolve().parent / "figures"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder (it is created if missing)")
    written_names = [f"{name}.{fmt}" for name in FIGURE_CAPTIONS for fmt in args.format]
    written_names += ["report.html"] if args.html else []
    check_outputs({"--out": str(out)}, {"REPORT.json": args.report}, {"--out": written_names})
    report = read_report(src)  # not a report, or one holding a nan: one line, nothing drawn
    if not report.layers:
        raise UsageError(
            f"report {args.report}: has no scored layer to draw (skipped: {', '.join(report.skipped) or '-'})"
        )
    from sdinterp.report.plots import report_figures

    out.mkdir(parents=True, exist_ok=True)
    written = report_figures(report, out, formats=tuple(args.format))
    for name, paths in written.items():
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    if args.html:
        from sdinterp.report.html import write_html

        # The page embeds the PNGs just written: nothing is drawn twice.
        figures = {FIGURE_CAPTIONS[name]: paths[0] for name, paths in written.items()}
        html = write_html(report, out / "report.html", figures=figures)
        print(f"html: {html}")
    print(f"{len(written)} figures of {len(report.layers)} layers from {src}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="re-draw the figures of a saved report (no model is run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report", metavar="REPORT.json", help="a report written by `sdinterp report --json/--out`")
    p.add_argument(
        "--out", metavar="DIR", help="folder for the figures, created if missing (default: figures/ beside the report)"
    )
    p.add_argument(
        "--format",
        nargs="+",
        default=["png", "svg"],
        choices=["png", "svg", "pdf"],
        help="figure formats (default: png svg)",
    )
    p.add_argument("--html", action="store_true", help="also write report.html into DIR (default: off)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")
    p.set_defaults(func=run)
