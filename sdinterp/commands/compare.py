"""``sdinterp compare A.json B.json ... --out DIR``: saved reports (models, checkpoints, seeds) side
by side in one table, figures and an HTML page. Reports on different layers, by different scorers
or at different thresholds are refused unless ``--align`` (then the shared layers are compared and
the differences noted)."""

from __future__ import annotations

import argparse
import sys

from sdinterp.cli_kit import UsageError


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sdinterp.cli_kit.outputs import check_outputs
    from sdinterp.report.compare import compare_reports, load_reports

    if len(args.reports) < 2:
        raise UsageError(f"give at least two report files to compare, got {len(args.reports)}")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: is a file; give a folder (it is created if missing)")
    check_outputs({"--out": args.out}, {"REPORT.json": args.reports}, {"--out": _written(args.format)})
    reports = load_reports(args.reports, args.labels)  # every file read and checked before anything is drawn
    comparison = compare_reports(reports, align=args.align)
    print(comparison.table())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        written = comparison.write(out, formats=tuple(args.format))
        print(
            f"wrote {written['csv']}, {written['html']} and figures compare_layers/compare_units "
            f"({', '.join(args.format)}) in {out}",
            file=sys.stderr,
        )
    return 0


def _written(formats: list[str]) -> list[str]:
    """The files ``--out DIR`` receives (:meth:`sdinterp.report.compare.Comparison.write`)."""
    return ["compare.csv", "compare.html", *(f"compare_{n}.{f}" for n in ("layers", "units") for f in formats)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="several saved reports side by side (table, figures, HTML)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "reports", nargs="+", metavar="REPORT.json", help="reports written by `sdinterp report --json/--out`"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write compare.csv, compare_layers.*, compare_units.* and compare.html here, created if "
        "missing (default: only print the table)",
    )
    p.add_argument(
        "--align",
        action="store_true",
        help="compare reports on different layers, scorers or thresholds anyway: only the shared "
        "layers, with each difference noted (default: refuse)",
    )
    p.add_argument(
        "--labels",
        nargs="+",
        metavar="LABEL",
        help="one name per report (default: the file names, or their folders' names when those repeat)",
    )
    p.add_argument(
        "--format",
        nargs="+",
        default=["png", "svg"],
        choices=["png", "svg", "pdf"],
        help="figure formats (default: png svg)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")
    p.set_defaults(func=run)
