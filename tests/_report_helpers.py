"""Helpers of the plot, HTML and compare tests (no conftest: imported explicitly): small reports
estimated from synthetic features with known per-unit correlations, and readers of the figures."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import sdinterp
from sdinterp.report import BiasReport

REPO = Path(__file__).resolve().parents[1]
#: The installed entry point of the environment running the tests (.venv/bin/sdinterp under `make test`).
SDINTERP = Path(sys.executable).parent / "sdinterp"


def _pairs(rng: np.random.Generator, rho: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal((n, rho.size))
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal((n, rho.size))
    return a, b


def synthetic_report(
    layers: Sequence[str] = ("stage1", "stage2", "stage3"),
    units: int = 24,
    n: int = 96,
    seed: int = 0,
    scorer: str = "official",
) -> BiasReport:
    """A report whose layers go from static-heavy to dynamic-heavy: unit i of layer k correlates
    across static pairs with rho_s and across dynamic pairs with rho_d, chosen so every category
    occurs."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, name in enumerate(layers):
        frac = k / max(1, len(layers) - 1)
        n_dyn = int(round(units * (0.15 + 0.5 * frac)))
        rho_d = np.where(np.arange(units) < n_dyn, 0.95, 0.05)
        rho_s = np.where(np.arange(units) >= n_dyn - 2, 0.95, 0.05)
        rho_s[-2:] = 0.02  # residual units
        ds, dd = _pairs(rng, rho_s, n), _pairs(rng, rho_d, n)
        z1 = np.concatenate([dd[0], ds[0]])
        z2 = np.concatenate([dd[1], ds[1]])
        factors = ["dynamic"] * n + ["static"] * n
        out[name] = sdinterp.estimate(z1, z2, factors, scorer=scorer, layer=name)
    return BiasReport(layers=out, identity={"scorer": scorer, "model": {"spec": "synthetic:test"}}, seed=seed)


def svg_groups(svg: str, prefix: str) -> dict[str, str]:
    """``{gid: inner svg}`` of every group whose id starts with ``prefix``."""
    out = {}
    for m in re.finditer(r'<g id="(' + re.escape(prefix) + r'[^"]*)">(.*?)</g>', svg, re.S):
        out[m.group(1)] = m.group(2)
    return out


def path_vertices(group: str) -> int:
    """Vertices of the first ``<path d=...>`` of a group (a line's points)."""
    d = re.search(r'<path d="([^"]+)"', group).group(1)
    return len(re.findall(r"[ML]", d))


def png_variance(path: Path) -> float:
    """Pixel variance of an image: 0 for a blank (one-colour) picture."""
    from PIL import Image

    return float(np.asarray(Image.open(path).convert("L"), dtype=float).var())
