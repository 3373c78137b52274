"""Several reports side by side (models, checkpoints, seeds): one table, figures and an HTML page.

Numbers are comparable only when they measure the same thing: reports on different layers, by
different scorers or at different thresholds λ are refused unless ``align=True``, which keeps the
layers all reports share and records what was dropped or differs. A file that is not an sdinterp
report (a JSON list, another tool's result) or a report holding a non-finite number (sdinterp never
writes one, so the file was damaged or edited) is refused in one line naming it
(:func:`read_report`, which ``sdinterp plot`` and ``sdinterp ablate --report`` use too).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sdinterp.errors import SdinterpError
from sdinterp.report.bias_report import BiasReport
from sdinterp.report.layer_bias import CATEGORIES

__all__ = [
    "Comparison",
    "ReportMismatchError",
    "compare_reports",
    "load_reports",
    "read_report",
    "report_labels",
    "non_finite",
]


class ReportMismatchError(SdinterpError, ValueError):
    """Reports that do not measure the same thing (layers, scorer, λ); the message says which."""


def _scorer(report: BiasReport) -> str:
    names = sorted({lb.scorer for lb in report})
    return str(report.identity.get("scorer") or ",".join(names) or "?")


def _threshold(report: BiasReport) -> float | None:
    return next((float(lb.threshold) for lb in report), None)


@dataclasses.dataclass
class Comparison:
    """Reports put side by side on the same layers.

    Attributes:
        reports: label -> report, restricted to :attr:`layers`.
        layers: the layers compared, in the first report's order.
        notes: what aligning dropped or what differs (empty when the reports matched).
    """

    reports: dict[str, BiasReport]
    layers: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_frame(self) -> Any:
        """One row per (layer, report): percentages, scores and category shares (tidy)."""
        import pandas as pd

        rows = []
        for layer in self.layers:
            for label, rep in self.reports.items():
                lb = rep[layer]
                rows.append(
                    {
                        "layer": layer,
                        "report": label,
                        "units": lb.n_units,
                        "dynamic_%": lb.percent["dynamic"],
                        "static_%": lb.percent["static"],
                        "S_dynamic": lb.scores["dynamic"],
                        "S_static": lb.scores["static"],
                        **{f"{c}_units_%": round(lb.category_percent[c], 2) for c in CATEGORIES[:4]},
                        "pairs_dynamic": lb.n_pairs.get("dynamic", 0),
                        "pairs_static": lb.n_pairs.get("static", 0),
                        "scorer": lb.scorer,
                        "threshold": lb.threshold,
                    }
                )
        return pd.DataFrame(rows)

    def table(self) -> str:
        """Printed side by side: a row per layer, ``dyn/stat %`` and dynamic/static units per report."""
        labels = list(self.reports)
        top = [""] + labels
        head = ["layer"] + ["dyn/stat %  units d/s/j/r %"] * len(labels)
        body = []
        for layer in self.layers:
            row = [layer]
            for lab in labels:
                lb = self.reports[lab][layer]
                cp = lb.category_percent
                row.append(
                    f"{lb.percent['dynamic']:.1f}/{lb.percent['static']:.1f}  "
                    + "/".join(f"{cp[c]:.0f}" for c in CATEGORIES[:4])
                )
            body.append(row)
        widths = [max(len(r[i]) for r in [top, head] + body) for i in range(len(head))]

        def fmt(r: list[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()

        lines = [f"{lab}: {_describe(rep)}" for lab, rep in self.reports.items()]
        lines += [fmt(top), fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(
            "dyn/stat %: layer-wise softmax dims (Fig. 3 left); units d/s/j/r %: dynamic, static, joint, "
            "residual shares of the categorised units (Eq. 3, Fig. 3 right)"
        )
        return "\n".join(lines)

    def figures(self) -> dict[str, Any]:
        """``{name: Figure}``: ``layers`` (every report's lines on one axis) and ``units`` (bars side by side)."""
        from sdinterp.report.plots import plot_layers, plot_unit_categories

        return {
            "layers": plot_layers(self.reports, title="Layer-wise encoding, side by side"),
            "units": plot_unit_categories(self.reports),
        }

    def write(self, out_dir: str | Path, formats: Sequence[str] = ("png", "svg")) -> dict[str, Path]:
        """Write ``compare.csv``, ``compare_layers.*``, ``compare_units.*`` and ``compare.html``.

        Returns:
            ``{what: path}`` of the written files (figures: their first format).
        """
        from sdinterp.report.html import figure_html, html_table, page
        from sdinterp.report.plots import save_figure

        out = Path(out_dir)
        written = {"csv": out / "compare.csv"}
        frame = self.to_frame()
        frame.to_csv(written["csv"], index=False)
        figs = self.figures()
        for name, fig in figs.items():
            written[name] = save_figure(fig, out / f"compare_{name}", formats)[0]
        rows = [[x.item() if hasattr(x, "item") else x for x in r] for r in frame.itertuples(index=False)]
        prov = "".join(
            f'<h3>{_esc(lab)}</h3><div class="prov">{_esc(chr(10).join(rep.provenance()))}</div>'
            for lab, rep in self.reports.items()
        )
        notes = "".join(f"<li>{_esc(n)}</li>" for n in self.notes)
        body = (
            f"<h1>sdinterp compare: {_esc(', '.join(self.reports))}</h1>"
            + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
            + "<h2>Side by side</h2>"
            + html_table(list(frame.columns), rows, "compare")
            + '<p class="legend">dynamic_% / static_%: layer-wise softmax dims (paper Fig. 3 left); '
            "*_units_%: unit categories at the threshold, share of the categorised units (Eq. 3, Fig. 3 right).</p>"
            + '<h2>Figures</h2><div class="figs">'
            + "".join(figure_html(f, "png", n) for n, f in figs.items())
            + "</div>"
            + f"<h2>Provenance</h2>{prov}"
        )
        written["html"] = out / "compare.html"
        written["html"].write_text(page("sdinterp compare", body), encoding="utf-8")
        return written


def _esc(x: Any) -> str:
    import html

    return html.escape(str(x), quote=True)


def _describe(report: BiasReport) -> str:
    model = report.identity.get("model") or {}
    pairs = report.n_pairs
    return (
        f"{model.get('spec') or model.get('class') or '?'}; scorer {_scorer(report)}, λ {_threshold(report)}; "
        f"{pairs.get('static', 0)}/{pairs.get('dynamic', 0)} static/dynamic pairs; seed {report.seed}"
    )


def compare_reports(reports: Mapping[str, BiasReport], align: bool = False) -> Comparison:
    """Put reports side by side, refusing ones that do not measure the same thing.

    Args:
        reports: label -> report (at least two).
        align: compare what can be compared instead of refusing: keep the layers every report has
            (in the first report's order) and allow different scorers or λ, each noted.

    Returns:
        A :class:`Comparison`.

    Raises:
        ReportMismatchError: the reports differ in layers, scorer or λ (and ``align`` is off), or
            share no layer; the message names the reports and what differs.

    Examples:
        >>> cmp = compare_reports({"r3d": a, "slowfast": b})   # doctest: +SKIP
        >>> print(cmp.table())                                 # doctest: +SKIP
    """
    if len(reports) < 2:
        raise ReportMismatchError(f"compare needs at least two reports, got {len(reports)}")
    for label, report in reports.items():
        bad = non_finite(report)
        if bad:
            raise ReportMismatchError(f"report {label}: {bad}; nothing is compared with a report that holds one")
    labels = list(reports)
    first, base = labels[0], reports[labels[0]]
    notes, problems = [], []
    for lab in labels[1:]:
        rep = reports[lab]
        if list(rep.layers) != list(base.layers):
            only_a = [l for l in base.layers if l not in rep.layers]
            only_b = [l for l in rep.layers if l not in base.layers]
            what = (
                f"only in {first}: {', '.join(only_a) or '-'}; only in {lab}: {', '.join(only_b) or '-'}"
                if only_a or only_b
                else "the same layers in another order"
            )
            problems.append(f"{first} and {lab} have different layers ({what})")
        if _scorer(rep) != _scorer(base):
            problems.append(f"{first} is scored by {_scorer(base)}, {lab} by {_scorer(rep)}")
        if _threshold(rep) != _threshold(base):
            problems.append(f"{first} has threshold λ {_threshold(base)}, {lab} {_threshold(rep)}")
        if rep.n_pairs != base.n_pairs:
            notes.append(
                f"pairs differ: {first} {base.n_pairs}, {lab} {rep.n_pairs} (intervals widen with fewer pairs)"
            )
    if problems and not align:
        raise ReportMismatchError(
            "reports do not measure the same thing: " + "; ".join(problems) + "; pass --align (align=True) to compare "
            "the shared layers anyway"
        )
    layers = [l for l in base.layers if all(l in r.layers for r in reports.values())]
    if not layers:
        raise ReportMismatchError(f"the reports {', '.join(labels)} share no layer; nothing to compare")
    notes = [f"aligned: {p}" for p in problems] + notes
    kept = {lab: dataclasses.replace(rep, layers={l: rep[l] for l in layers}) for lab, rep in reports.items()}
    return Comparison(reports=kept, layers=layers, notes=notes)


def report_labels(paths: Sequence[str | Path]) -> list[str]:
    """Short unique labels for report files: the file stem (the folder's name for a ``report.json``,
    as ``--out`` writes them: ``a/report.json``, ``b/report.json`` -> ``a``, ``b``), or
    ``folder/stem`` where those repeat."""
    ps = [Path(p) for p in paths]
    # ``report.json`` is what ``--out`` writes: its folder is the informative name.
    stems = [p.resolve().parent.name if p.stem == "report" else p.stem for p in ps]
    if len(set(stems)) == len(stems):
        return stems
    parents = [f"{p.resolve().parent.name}/{p.stem}" for p in ps]
    if len(set(parents)) == len(parents):
        return parents
    return [f"{i}:{s}" for i, s in enumerate(stems)]


def _first_non_finite(value: Any, where: str) -> str | None:
    """``"where = nan"`` for the first nan or infinity in a JSON-like value, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where or 'the value'} = {value}"
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _first_non_finite(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _first_non_finite(v, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        return f"{where}[{', '.join(map(str, index))}] = {value[index]}"
    return None


def non_finite(report: BiasReport | Mapping[str, Any]) -> str | None:
    """Where a report (or its JSON dict) holds a nan or an infinity, in words, else None.

    sdinterp never writes one (a report's JSON refuses them), so one means the numbers were damaged
    or edited; a comparison or a figure drawn from them would be silently wrong.

    Examples:
        >>> non_finite({"layers": [{"layer": "s1", "scores": {"dynamic": float("nan")}}]})  # doctest: +ELLIPSIS
        'holds a non-finite number (layers[0].scores.dynamic = nan): sdinterp never writes one, ...'
        >>> non_finite({"layers": [{"layer": "s1", "scores": {"dynamic": 0.5}}]}) is None
        True
    """
    if isinstance(report, BiasReport):
        for name, lb in report.layers.items():
            fields = {
                "scores": lb.scores,
                "shares": lb.shares,
                "percent": lb.percent,
                "threshold": float(lb.threshold),
                "unit_scores": lb.unit_scores,
                "unit_softmax": np.asarray(lb.unit_softmax),
            }
            found = _first_non_finite(fields, f"layer {name}")
            if found:
                break
        else:
            found = None
    else:
        found = _first_non_finite(dict(report), "")
    if found is None:
        return None
    return (
        f"holds a non-finite number ({found}): sdinterp never writes one, so it was damaged or edited; "
        "re-run the report"
    )


def read_report(path: str | Path, what: str = "report") -> BiasReport:
    """Read one saved report, refusing anything else in one line that names the file.

    Args:
        path: the report's JSON file.
        what: how the file was given, for messages (``"report"``, ``"--report"``).

    Returns:
        The report.

    Raises:
        ReportMismatchError: no such file; not JSON; JSON that is not an sdinterp report (a list,
            another tool's result, a run state); a report holding a nan or an infinity.
    """
    p = Path(path)
    if not p.is_file():
        raise ReportMismatchError(f"{what} {path}: no such file")
    hint = "give a report.json written by `sdinterp report --json/--out`"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportMismatchError(f"{what} {path}: not an sdinterp report (not JSON: {exc}); {hint}") from None
    if not isinstance(data, dict):
        raise ReportMismatchError(f"{what} {path}: not an sdinterp report (a JSON {type(data).__name__}); {hint}")
    if str(data.get("format", "")).split("/")[0] != "sdinterp.BiasReport":
        raise ReportMismatchError(f"{what} {path}: not an sdinterp report (format {data.get('format')!r}); {hint}")
    bad = non_finite(data)
    if bad:
        raise ReportMismatchError(f"{what} {path}: {bad}")
    try:
        return BiasReport.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReportMismatchError(
            f"{what} {path}: not a readable sdinterp report ({type(exc).__name__}: {exc}); {hint}"
        ) from None


def load_reports(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> dict[str, BiasReport]:
    """Read report JSON files (:func:`read_report`), each named by :func:`report_labels` unless
    ``labels`` are given.

    Raises:
        ReportMismatchError: a file is missing or is not an sdinterp report (named).
    """
    labels = list(labels) if labels else report_labels(paths)
    if len(labels) != len(paths) or len(set(labels)) != len(labels):
        raise ReportMismatchError(f"--labels: give {len(paths)} distinct labels, one per report (got {list(labels)})")
    return {lab: read_report(path) for lab, path in zip(labels, paths)}
