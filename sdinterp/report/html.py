"""One self-contained HTML page per report: provenance, the summary table with its legend, the
figures (embedded PNG or inline SVG), and a sortable, filterable per-unit table (with Captum
attributions when joined). Styles and the few lines of script are inline; nothing is fetched.

The per-unit table sorts on a header click, and on load from the page's query string, so a link
can open it sorted and filtered: ``report.html?sort=score_static&order=desc&category=static&filter=stage5``.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sdinterp.report.bias_report import BiasReport
from sdinterp.report.layer_bias import CATEGORIES

__all__ = [
    "render_html",
    "write_html",
    "figure_html",
    "page",
    "html_table",
    "units_table_frame",
    "validity_banner",
    "validity_section",
]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 7px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f4f4f6;position:sticky;top:0} td:first-child,th:first-child{text-align:left}
#units th{cursor:pointer;user-select:none} #units th[aria-sort=ascending]::after{content:" \\25B2"}
#units th[aria-sort=descending]::after{content:" \\25BC"}
.prov{background:#f8f8fa;border:1px solid #e3e3e8;padding:8px 12px;white-space:pre-wrap;font:12px/1.4 ui-monospace,monospace}
.legend{color:#444;font-size:13px} .figs{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.figs figure{margin:0} .figs img,.figs svg{max-width:100%;height:auto;border:1px solid #eee;margin:4px 0}
.cat-dynamic{color:#1f5fbf;font-weight:600} .cat-static{color:#d62728;font-weight:600}
.cat-joint{color:#8e44ad;font-weight:600} .cat-residual{color:#777} .cat-constant,.cat-unassigned{color:#aaa}
.controls{margin:8px 0} .controls input,.controls select{margin-right:12px;padding:2px 4px}
.scroll{max-height:640px;overflow:auto;border:1px solid #eee} .wide{overflow-x:auto}
.validity{border:2px solid;border-radius:4px;padding:8px 12px;margin:12px 0;font-weight:600}
.validity-ok{border-color:#2e7d32;color:#1b5e20;background:#f1f8f1}
.validity-doubtful{border-color:#e69500;color:#7a4f00;background:#fff8e6}
.validity-invalid{border-color:#c62828;color:#8e0000;background:#fdecea}
td.status-ok{color:#2e7d32} td.status-doubtful{color:#b36b00;font-weight:600} td.status-invalid{color:#c62828;font-weight:700}
"""

# Sorting compares data-v (the raw number) where a cell has one, else the text; ties keep the unit
# order (data-i) so a sort is stable and repeatable. Query parameters apply on load.
_SCRIPT = """
(function(){
var t=document.getElementById('units');if(!t)return;var b=t.tBodies[0],rows=[].slice.call(b.rows),
hs=[].slice.call(t.tHead.rows[0].cells),q=new URLSearchParams(location.search),
f=document.getElementById('filter'),c=document.getElementById('category'),n=document.getElementById('shown');
function v(r,i){var x=r.cells[i],d=x.getAttribute('data-v');return d===null?x.textContent:parseFloat(d);}
function sort(i,dir){rows.sort(function(a,z){var p=v(a,i),s=v(z,i);return (p<s?-1:p>s?1:0)*dir||a.dataset.i-z.dataset.i;});
rows.forEach(function(r){b.appendChild(r);});hs.forEach(function(h,k){h.setAttribute('aria-sort',k===i?(dir>0?'ascending':'descending'):'none');});
t.setAttribute('data-sorted',hs[i].dataset.col+(dir>0?':asc':':desc'));}
function filt(){var s=f.value.toLowerCase(),k=c.value,m=0;rows.forEach(function(r){var ok=(!k||r.dataset.cat===k)&&
(!s||r.textContent.toLowerCase().indexOf(s)>=0);r.hidden=!ok;if(ok)m++;});n.textContent=m+' of '+rows.length+' units shown';}
hs.forEach(function(h,i){h.addEventListener('click',function(){sort(i,h.getAttribute('aria-sort')==='ascending'?-1:1);});});
f.addEventListener('input',filt);c.addEventListener('change',filt);
var col=q.get('sort');if(col){var i=hs.findIndex(function(h){return h.dataset.col===col;});if(i>=0)sort(i,q.get('order')==='desc'?-1:1);}
if(q.get('filter'))f.value=q.get('filter');if(q.get('category'))c.value=q.get('category');filt();
})();
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str | None = None) -> str:
    """A plain HTML table; numbers are shown rounded and carry their raw value in ``data-v``."""
    out = [f'<table id="{_esc(table_id)}"><thead><tr>' if table_id else "<table><thead><tr>"]
    out += [f"<th>{_esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(_cell(x) for x in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _cell(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return f"<td>{_esc('' if x is None else x)}</td>"
    if isinstance(x, int):
        return f'<td data-v="{x}">{x}</td>'
    if isinstance(x, float):
        shown = (
            "nan"
            if math.isnan(x)
            else f"{x:.4g}"
            if abs(x) >= 1e4 or (x and abs(x) < 1e-3)
            else f"{x:.4f}".rstrip("0").rstrip(".")
        )
        return f'<td data-v="{x!r}">{shown}</td>'
    return f"<td>{_esc(x)}</td>"


def figure_html(fig: Any, embed: str = "png", alt: str = "figure") -> str:
    """A figure as an ``<img>`` with a base64 PNG (``embed="png"``) or as inline SVG (``"svg"``).

    Args:
        fig: a matplotlib Figure, or the path of a ``.png``/``.svg`` file.
        embed: ``"png"`` or ``"svg"`` (for a Figure; a file keeps its own format).
        alt: the image's alternative text.

    Returns:
        An HTML fragment that needs nothing outside the page.
    """
    if isinstance(fig, (str, Path)):
        path = Path(fig)
        if path.suffix.lower() == ".svg":
            return _inline_svg(path.read_text())
        data = path.read_bytes()
    else:
        buf = io.BytesIO()
        if embed == "svg":
            import matplotlib

            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sdinterp"}):
                fig.savefig(buf, format="svg", metadata={"Date": None})
            return _inline_svg(buf.getvalue().decode())
        fig.savefig(buf, format="png", dpi=100)
        data = buf.getvalue()
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _inline_svg(text: str) -> str:
    # The XML prologue and DOCTYPE are not allowed inside HTML; the <svg> element is.
    return text[text.index("<svg") :]


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body``, with the inline style and script."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body>{body}<script>{_SCRIPT}</script></body></html>\n"
    )


def _summary(report: BiasReport) -> str:
    header = [
        "layer",
        "units",
        "dyn %",
        "stat %",
        "ident %",
        "S_dyn",
        "S_stat",
        *CATEGORIES[:4],
        "unasg",
        "const",
    ]  # as the legend
    rows = []
    for lb in report:
        c, pct = lb.category_counts, lb.category_percent
        iv = getattr(lb, "intervals", None) or {}

        def pc(f: str, iv: dict[str, Any] = iv, lb: Any = lb) -> str:
            band = (iv.get("percent") or {}).get(f)
            return f"{lb.percent[f]:.1f}" + (f" [{band[0]:.1f}, {band[1]:.1f}]" if band else "")

        rows.append(
            [
                lb.layer,
                lb.n_units,
                pc("dynamic"),
                pc("static"),
                pc("identical"),
                float(lb.scores["dynamic"]),
                float(lb.scores["static"]),
                *[f"{c[k]} ({pct[k]:.0f}%)" for k in CATEGORIES[:4]],
                c["unassigned"],
                c["constant"],
            ]
        )
    return html_table(header, rows, "summary")


def validity_banner(report: BiasReport) -> str:
    """The verdict's headline as a coloured box (empty when the run has no validity check)."""
    v = getattr(report, "validity", None)
    if v is None:
        return ""
    return f'<div class="validity validity-{_esc(v.status)}" id="validity-banner">{_esc(v.headline())}</div>'


def _validity_findings(v: Any) -> str:
    rows = []
    for fv in v.factors.values():
        for x in fv.findings:
            rows.append(
                f'<tr><td>{_esc(fv.factor)} ({_esc(fv.sampler)})</td><td class="status-{_esc(x["status"])}">'
                f'{_esc(x["status"])}</td><td>{_esc(x["check"])}</td><td style="text-align:left;white-space:normal">'
                f"{_esc(x['text'])}</td></tr>"
            )
    return (
        '<div class="wide"><table id="validity"><thead><tr><th>pairs</th><th>status</th><th>check</th><th>finding</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def validity_section(report: BiasReport, findings: bool = True) -> str:
    """The validity check in full: the verdict and one row per factor and finding (``findings``),
    then the partner shift per layer and the nuisance shares (docs/validity.md)."""
    v = getattr(report, "validity", None)
    if v is None:
        return ""
    shift_rows = []
    for factor, d in (v.numbers.get("shift") or {}).items():
        for layer, n in (d.get("layers") or {}).items():
            shift_rows.append([factor, layer, n.get("shift"), n.get("scale"), n.get("rms_ratio")])
        out = d.get("output")
        if out:
            shift_rows.append(
                [factor, "output (top-1 agreement, class shift)", out.get("agreement"), out.get("class_shift"), None]
            )
    shifts = html_table(
        ["pairs", "layer", "mean shift (anchor sd)", "spread ratio", "RMS ratio"], shift_rows, "validity-shift"
    )
    nuis_rows = [
        [layer, k, x.get("median_share"), x.get("groups"), x.get("clips")]
        for layer, d in (v.numbers.get("nuisance") or {}).items()
        for k, x in d.items()
    ]
    nuis = html_table(
        ["layer", "nuisance", "median share of unit variance", "groups", "anchors"], nuis_rows, "validity-nuisance"
    )
    return (
        "<h2>Validity</h2>"
        + (validity_banner(report) + _validity_findings(v) if findings else "")
        + f'<h3>Partner shift (anchor to partner, per factor)</h3><div class="wide">{shifts}</div>'
        + f'<h3>Shared nuisances (over the anchors)</h3><div class="wide">{nuis}</div>'
        + '<p class="legend">What each check measures and the measurements behind its thresholds: docs/validity.md.</p>'
    )


def _legend(report: BiasReport) -> str:
    text = report.table(legend=True).split("\nlegend:\n", 1)
    lines = text[1].splitlines() if len(text) == 2 else []
    if any(getattr(lb, "intervals", None) for lb in report):
        lines.append("  [lo, hi]: bootstrap confidence interval of the percentage (docs/confidence.md).")
    return f'<div class="legend prov">{_esc(chr(10).join(l.strip() for l in lines))}</div>'


def units_table_frame(report: BiasReport, attributions: Any = None) -> Any:
    """The per-unit rows of the page: layer, unit, category, scores, softmax, the bootstrap's
    category stability where the run had one, and attribution columns joined on (layer, unit).

    Args:
        report: the report.
        attributions: a DataFrame with ``layer`` and ``unit`` columns (e.g. the concatenated
            results of :meth:`LayerBias.join_attributions`), or ``{layer: DataFrame}``; every column
            not already in the per-unit table is added.

    Returns:
        A pandas DataFrame.
    """
    import pandas as pd

    frame = report.units_frame().drop(columns=["valid"])
    stab = [lb.intervals.get("category_stability") if getattr(lb, "intervals", None) else None for lb in report]
    if any(s is not None for s in stab):
        frame["stability"] = [
            x for lb, s in zip(report, stab) for x in (s if s is not None else [float("nan")] * lb.n_units)
        ]
    if attributions is not None:
        if isinstance(attributions, Mapping):
            attributions = pd.concat([a.assign(layer=k) for k, a in attributions.items()], ignore_index=True)
        extra = ["layer", "unit"] + [c for c in attributions.columns if c not in frame.columns]
        frame = frame.merge(attributions[extra], on=["layer", "unit"], how="left")
    order = ["layer", "unit", "category"] + [c for c in frame.columns if c not in ("layer", "unit", "category")]
    return frame[order]


def _units(report: BiasReport, attributions: Any, max_units: int) -> str:
    if not report.layers:
        return "<p>No layer was scored (see the skipped layers above).</p>"
    frame = units_table_frame(report, attributions)
    note = ""
    if len(frame) > max_units:
        note = f"<p>The first {max_units} of {len(frame)} units are listed; the CSV has them all.</p>"
        frame = frame.iloc[:max_units]
    cols = list(frame.columns)
    head = "".join(f'<th data-col="{_esc(c)}">{_esc(c)}</th>' for c in cols)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for c, x in zip(cols, row):
            if c == "category":
                cells.append(f'<td class="cat-{_esc(x)}">{_esc(x)}</td>')
            else:
                cells.append(_cell(x.item() if hasattr(x, "item") else x))
        body.append(f'<tr data-i="{i}" data-cat="{_esc(row[cols.index("category")])}">{"".join(cells)}</tr>')
    options = "".join(f'<option value="{c}">{c}</option>' for c in CATEGORIES)
    controls = (
        '<div class="controls"><label>filter <input id="filter" type="search" placeholder="layer, unit, '
        'text..."></label>'
        f'<label>category <select id="category"><option value="">any</option>{options}</select></label>'
        '<span id="shown"></span></div>'
    )
    return (
        f'{controls}{note}<div class="scroll"><table id="units"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(
    report: BiasReport,
    figures: Mapping[str, Any] | None = None,
    title: str | None = None,
    attributions: Any = None,
    embed: str = "png",
    max_units: int = 50_000,
) -> str:
    """The report as one self-contained HTML page.

    Args:
        report: the report.
        figures: ``{caption: Figure or PNG/SVG path}``; default: the layer-wise, unit-category and
            per-unit scatter figures of :mod:`sdinterp.report.plots`.
        title: page title (default: from the model spec).
        attributions: per-unit attribution columns to join (see :func:`units_table_frame`).
        embed: how Figures are embedded, ``"png"`` (base64) or ``"svg"`` (inline).
        max_units: rows of the per-unit table at most (the CSV has all).

    Returns:
        The HTML text.

    Examples:
        >>> text = render_html(report)   # doctest: +SKIP
    """
    if figures is None:
        from sdinterp.report.plots import FIGURE_CAPTIONS, standard_figures

        figures = {FIGURE_CAPTIONS[name]: fig for name, fig in standard_figures(report).items()}
    model = report.identity.get("model") or {}
    spec = model.get("spec") or model.get("class")
    title = title or (f"sdinterp report: {spec}" if spec else "sdinterp report")
    skipped = "".join(f"<li>skipped {_esc(k)}: {_esc(v)}</li>" for k, v in report.skipped.items())
    figs = "".join(
        f"<figure><figcaption>{_esc(cap)}</figcaption>{figure_html(f, embed, cap)}</figure>"
        for cap, f in figures.items()
    )
    v = getattr(report, "validity", None)
    doubt = v is not None and v.status != "ok"
    body = (
        f"<h1>{_esc(title)}</h1>"
        # A result that should not be trusted says so first; the full check follows the summary.
        + (validity_banner(report) + _validity_findings(v) if doubt else "")
        + f'<h2>Provenance</h2><div class="prov">{_esc(chr(10).join(report.provenance()))}</div>'
        + (f"<ul>{skipped}</ul>" if skipped else "")
        + (validity_banner(report) if v is not None and not doubt else "")
        + f'<h2>Summary</h2><div class="wide">{_summary(report)}</div>{_legend(report)}'
        + validity_section(report, findings=not doubt)
        + f'<h2>Figures</h2><div class="figs">{figs}</div>'
        + f"<h2>Units</h2>{_units(report, attributions, max_units)}"
    )
    return page(title, body)


def write_html(report: BiasReport, path: str | Path, **options: Any) -> Path:
    """Write :func:`render_html` to ``path`` (options as there) and return the path."""
    path = Path(path)
    path.write_text(render_html(report, **options), encoding="utf-8")
    return path
