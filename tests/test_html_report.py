"""The HTML report is one self-contained page, checked in a real headless Chromium: the screenshot
is not blank, the per-unit table holds every unit, and sorting and filtering (inline JS, driven by
the query string) reorder and hide the rows."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from _report_helpers import png_variance, synthetic_report
from sdinterp.report.html import render_html, units_table_frame, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = (
    "CHROMIUM NOT INSTALLED: the browser tests of the HTML report did not run. Install it with "
    "`apt-get update && apt-get install -y chromium` (.ci/run does this on CI)"
)


def needs_chromium():
    if CHROMIUM is None:
        warnings.warn(NO_CHROMIUM, stacklevel=2)
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="module")
def report():
    return synthetic_report(layers=("stage1", "stage2"), units=20)


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    import pandas as pd

    attr = pd.DataFrame({"layer": ["stage2"] * 20, "unit": range(20), "gradxact": np.linspace(-1, 1, 20)})
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html(report, path, attributions=attr)
    return path


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--hide-scrollbars",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _rows(dom: str) -> list[str]:
    body = dom[dom.index('<table id="units"') :]
    body = body[: body.index("</table>")]
    return re.findall(r"<tr data-i=[^>]*>.*?</tr>", body, re.S)


def test_page_is_self_contained(page, report):
    text = page.read_text()
    assert "<script>" in text and "<style>" in text
    # Nothing is fetched: no external script, style sheet, image, font or frame.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"@import|url\(\s*['\"]?https?:|<link\b|<iframe\b", text)
    assert text.count("data:image/png;base64,") == 3  # the three figures, embedded
    for line in report.provenance()[:2]:
        assert line.split()[0] in text
    assert "unit categories at threshold 0.5" in text  # the legend of the summary table


def test_units_table_joins_attributions_on_layer_and_unit(report):
    import pandas as pd

    attr = pd.DataFrame({"layer": ["stage2"] * 3, "unit": [4, 0, 19], "ig": [0.5, -2.0, 7.0]})
    frame = units_table_frame(report, attributions={"stage2": attr.drop(columns="layer")})
    assert len(frame) == 40 and list(frame.columns[:3]) == ["layer", "unit", "category"]
    row = frame[(frame.layer == "stage2") & (frame.unit == 19)]
    assert row["ig"].item() == 7.0 and frame[frame.layer == "stage1"]["ig"].isna().all()
    assert '<th data-col="ig">' in render_html(report, figures={}, attributions=attr)


@pytest.mark.optional_env("a headless Chromium, which .ci/run installs when it can")
def test_screenshot_is_not_blank(page, tmp_path):
    needs_chromium()
    shot = tmp_path / "shot.png"
    proc = _chromium(tmp_path, "--window-size=1200,1400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    assert png_variance(shot) > 200  # text, tables and figures, not one colour


@pytest.mark.optional_env("a headless Chromium, which .ci/run installs when it can")
def test_dom_has_every_unit_row_and_sorts_and_filters(page, report, tmp_path):
    needs_chromium()
    frame = units_table_frame(report)
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    rows = _rows(dom)
    assert len(rows) == sum(lb.n_units for lb in report) == 40
    assert "40 of 40 units shown" in dom  # written by the script: it ran

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri() + "?sort=score_static&order=desc").stdout
    assert 'data-sorted="score_static:desc"' in dom
    shown = [float(v) for v in re.findall(r'<td data-v="([^"]+)"', "".join(_rows(dom)))[2::7]]  # unit, then scores
    expected = sorted(frame["score_static"], reverse=True)
    order = [int(re.search(r'data-i="(\d+)"', r).group(1)) for r in _rows(dom)]
    assert [frame["score_static"][i] for i in order] == expected
    assert shown[:3] == pytest.approx(expected[:3])

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri() + "?category=static&filter=stage2").stdout
    visible = [r for r in _rows(dom) if "hidden" not in r.split(">")[0]]
    n_static = int(((frame.category == "static") & (frame.layer == "stage2")).sum())
    assert len(visible) == n_static > 0 and all('data-cat="static"' in r for r in visible)
    assert f"{n_static} of 40 units shown" in dom
