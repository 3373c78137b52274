"""A report's whole output in one folder: the JSON, the tables as CSV, the figures and the HTML page
(what ``sdinterp report --out DIR`` and ``sdinterp demo`` write)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdinterp.report.bias_report import BiasReport

__all__ = ["write_report_folder", "FIGURES_DIR"]

#: Figures go in this sub-folder of the output folder.
FIGURES_DIR = "figures"


def write_report_folder(
    report: BiasReport,
    out_dir: str | Path,
    timings: bool = False,
    formats: Sequence[str] = ("png", "svg"),
    attributions: Any = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``layers.csv``, ``units.csv``, ``figures/{layers,units,scatter}.*``
    and ``report.html`` (self-contained) into ``out_dir`` (created if missing).

    Args:
        report: the report.
        out_dir: the folder.
        timings: also write the wall-clock timings into the JSON (which then differs run to run).
        formats: figure formats.
        attributions: per-unit attribution columns for the HTML page (see
            :func:`sdinterp.report.html.units_table_frame`).

    Returns:
        ``{what: path}``: ``json``, ``csv``, ``units_csv``, ``html`` and one entry per figure
        (its PNG, or its first format).

    Examples:
        >>> paths = write_report_folder(report, "out")   # doctest: +SKIP
        >>> paths["html"]                                 # doctest: +SKIP
        PosixPath('out/report.html')
    """
    from sdinterp.report.html import write_html
    from sdinterp.report.plots import FIGURE_CAPTIONS, save_figure, standard_figures

    out = Path(out_dir)
    (out / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    written = {"json": out / "report.json", "csv": out / "layers.csv", "units_csv": out / "units.csv"}
    report.to_json(written["json"], indent=1, timings=timings)
    report.to_csv(written["csv"])
    if report.layers:
        report.to_csv(written["units_csv"], units=True)
    else:  # every layer skipped: a header, so the file set is the same
        written["units_csv"].write_text("layer,unit,category\n")
    figures = standard_figures(report)  # none when every layer was skipped
    for name, fig in figures.items():
        written[name] = save_figure(fig, out / FIGURES_DIR / name, formats)[0]
    # The page shows the same figures: the PNGs just written (not drawn again), else the figures.
    embedded = {FIGURE_CAPTIONS[n]: (written[n] if written[n].suffix == ".png" else fig) for n, fig in figures.items()}
    written["html"] = write_html(report, out / "report.html", figures=embedded, attributions=attributions)
    return written
