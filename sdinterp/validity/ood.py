"""Out-of-distribution partners: how far a factor's partners move the model from its anchors.

A partner that means what its sampler claims is a clip the model could have been shown: the
population of partners looks, to every layer, like the population of anchors. A partner the model
has never seen anything like (a luma-inverted restyle, a dot video) moves whole layers: their mean
activation doubles or collapses, and the predictions stop agreeing with the anchor's. All of it
comes from moments the run keeps anyway (:class:`~sdinterp.stats.PairMoments` of the requested
layers: ``mean_a``/``mean_b``/``var_a``/``var_b``, per factor) and from the prediction pseudo-layers
of :class:`~sdinterp.validity.monitor.ValidityMonitor`.

Per factor and layer (anchor = a, partner = b; "units" are the layer's non-constant units):

* ``shift``: median over units of ``|mean_b - mean_a| / sd_a``, the standardised move of the
  unit's mean (0 for identical partners).
* ``drive``: the same, signed (median of ``(mean_b - mean_a) / sd_a``): > 0 when the partners
  drive the units harder than the anchors do.
* ``scale``: ``exp(median |log(sd_b / sd_a)|)``, how much the unit's spread changes (1 for
  identical partners).
* ``rms_ratio``: root mean square activation of the partners over the anchors' (the issue's
  "stage3 mean activation 0.42 -> 0.89" reads 2.1 here).

Where the sampler transformed the anchors too, the monitor's ``validity:reference:<layer>``
pseudo-layers pair the anchors' *original* frames with the partners, and those are read instead.

For the output (logits): ``agreement`` (share of pairs whose top-1 classes agree), ``class_shift``
(total variation between the anchors' and partners' predicted-class histograms) and
``confidence_ratio`` (mean top-1 probability, partners over anchors).

Examples:
    >>> from sdinterp.stats import MomentStore
    >>> import torch
    >>> store = MomentStore(["x"]); z = torch.randn(64, 4, dtype=torch.float64)
    >>> for f in store["x"]: _ = store["x"][f].update(z, z)
    >>> layer_shift(store["x"][next(iter(store["x"]))])["shift"]
    0.0
"""

from __future__ import annotations

import math
from typing import Any

from sdinterp.interfaces import Factor
from sdinterp.validity.names import OUTPUT_CONFIDENCE, OUTPUT_TOP1, REFERENCE_PREFIX

__all__ = ["layer_shift", "output_shift", "partner_shifts", "shift_floor"]

_TINY = 1e-12


def shift_floor(n: int) -> float:
    """The ``shift`` two unrelated samples of ``n`` pairs from one population show by chance, times 3.

    The mean difference of two independent samples of n is about N(0, 2 sd^2 / n), whose absolute
    value has median 0.674 sqrt(2 / n); paired samples show less. Thresholds below it would flag
    noise (16 pairs: 0.71; 64: 0.36; 128: 0.25)."""
    return 3.0 * 0.674 * math.sqrt(2.0 / max(1, n))


def layer_shift(pm: Any) -> dict[str, float | None]:
    """``shift``, ``scale`` and ``rms_ratio`` of one factor's moments of one layer (see module doc).

    Args:
        pm: a :class:`~sdinterp.stats.PairMoments` with pairs (anchor, partner).

    Returns:
        The three numbers (``None`` where no unit varies over the anchors).
    """
    if pm.n == 0:
        return {"shift": None, "scale": None, "rms_ratio": None, "pairs": 0}
    ma, mb, va, vb = pm.mean_a, pm.mean_b, pm.var_a, pm.var_b
    sa, sb = va.clamp_min(0).sqrt(), vb.clamp_min(0).sqrt()
    live = sa > 1e-9 * (1.0 + ma.abs())
    rms_a = float((ma * ma + va).sum())
    rms_ratio = math.sqrt(float((mb * mb + vb).sum()) / rms_a) if rms_a > _TINY else None
    if not bool(live.any()):
        return {"shift": None, "drive": None, "scale": None, "rms_ratio": rms_ratio, "pairs": pm.n}
    signed = ((mb - ma) / sa)[live]
    ratio = (sb[live].clamp_min(_TINY) / sa[live]).log().abs()
    return {
        "shift": float(signed.abs().median()),
        "drive": float(signed.median()),
        "scale": float(ratio.median().exp()),
        "rms_ratio": rms_ratio,
        "pairs": pm.n,
    }


def output_shift(store: Any, factor: Factor) -> dict[str, float] | None:
    """Agreement of top-1 predictions, class-histogram shift and confidence ratio of one factor.

    Args:
        store: a MomentStore holding the monitor's ``validity:output:*`` pseudo-layers.
        factor: which pairs.

    Returns:
        The numbers, or ``None`` when the run recorded no logits.
    """
    if OUTPUT_TOP1 not in store.layers():
        return None
    pm = store[OUTPUT_TOP1][factor]
    if pm.n == 0:
        return None
    # E[a_k b_k] = cov_k + mean_a_k mean_b_k for one-hot a, b; their sum over k is the agreement.
    agreement = float((pm.cov + pm.mean_a * pm.mean_b).sum())
    class_shift = 0.5 * float((pm.mean_a - pm.mean_b).abs().sum())
    out = {"agreement": min(1.0, max(0.0, agreement)), "class_shift": class_shift, "pairs": pm.n}
    if OUTPUT_CONFIDENCE in store.layers():
        conf = store[OUTPUT_CONFIDENCE][factor]
        if conf.n:
            out["confidence_ratio"] = float(conf.mean_b[0] / conf.mean_a[0]) if float(conf.mean_a[0]) > 0 else None
    return out


def partner_shifts(store: Any, layers: Any) -> dict[str, dict[str, Any]]:
    """Per factor, every layer's :func:`layer_shift` and the output's :func:`output_shift`.

    Args:
        store: the run's MomentStore.
        layers: the model's layers to read (pseudo-layers are skipped).

    Returns:
        ``{"dynamic": {"layers": {layer: {...}}, "output": {...} or None}, "static": ...}``; each
        layer's numbers say what the partners were compared with (``"against"``): the original
        clips where the monitor forwarded them (``validity:reference:<layer>``), else the anchors.
    """
    out: dict[str, dict[str, Any]] = {}
    have = set(store.layers())
    for factor in (Factor.DYNAMIC, Factor.STATIC):
        per_layer = {}
        for name in layers:
            if name not in have or name.startswith("validity:"):
                continue
            ref = REFERENCE_PREFIX + name
            if ref in have and store[ref][factor].n > 0:
                per_layer[name] = {**layer_shift(store[ref][factor]), "against": "original clips"}
            else:
                per_layer[name] = {**layer_shift(store[name][factor]), "against": "anchors"}
        out[factor.value] = {"layers": per_layer, "output": output_shift(store, factor)}
    return out
