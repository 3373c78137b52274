"""The validity verdict of a run: per factor ok / doubtful / invalid, with the numbers and a reason.

:func:`judge` reads three measurements and applies :data:`THRESHOLDS` (each set between the
embedded trained nets' ground-truth pairs, which must be judged ok, and the pairs the issue
measured out of distribution; the table of measurements is in docs/validity.md):

1. the probe controls (:mod:`.controls`), scored by the run's own estimator: a control on the
   wrong side of λ names the sampler of that factor;
2. the partner shift (:mod:`.ood`) of each requested layer (judged) and of the predictions
   (reported);
3. the anchor's style share (:mod:`.nuisance`): static information a static pair shares with its
   anchor and a dynamic pair does not (judged), and the source video's share (reported).

The verdict itself (:class:`ValidityVerdict`) is a result type of :mod:`sdinterp.report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sdinterp.interfaces import Factor
from sdinterp.report.validity_verdict import STATUSES, FactorVerdict, ValidityVerdict, worse

__all__ = ["FactorVerdict", "ValidityVerdict", "judge", "THRESHOLDS", "STATUSES"]

#: The thresholds of the verdict. Each sits between the worst measurement of the ground-truth pairs
#: of four embedded trained nets (which must be ok) and the mildest of the pairs the issue measured
#: out of distribution (photometric restyles, appearance-free dot videos), a quarter of the gap in
#: from each side: doubtful = ok extreme + gap / 4, invalid = bad extreme - gap / 4. The table of
#: measurements is in docs/validity.md (``benchmarks/validity_thresholds.py``).
THRESHOLDS: dict[str, float] = {
    # drive: median (mean_partner - mean_reference) / sd_reference over a layer's units, worst layer.
    # Upward (partners drive units harder): ground truth <= +0.21, photometric >= +0.77.
    "drive_up_doubtful": 0.35,
    "drive_up_invalid": 0.63,
    # Downward (units fall silent): a factor the model uses, changed, lowers activations legitimately
    # (ground truth >= -0.71 on the appearance-cue nets); dot videos <= -1.20.
    "drive_down_doubtful": -0.83,
    "drive_down_invalid": -1.08,
    # partner/reference RMS activation, worst layer, upward: ground truth <= 1.07, photometric >= 1.53
    # (a quarter of the gap in log scale). Downward it is reported, not judged: ground truth goes
    # down to 0.45 and dot videos on the appearance net only to 0.52.
    "rms_up_doubtful": 1.17,
    "rms_up_invalid": 1.40,
    # anchor style share: median adjusted share of unit variance the anchor's style explains, worst
    # layer: ground truth with random-style anchors <= 0.05, photometric with them >= 0.11; never
    # below 3 (doubtful) / 5 (invalid) standard errors of the share under no effect
    "style_doubtful": 0.065,
    "style_invalid": 0.095,
    # a control on the wrong side of λ (the definition of its category) by at most this is
    # doubtful, by more invalid (ground truth: every control on the right side, by >= 0.15)
    "control_margin": 0.15,
}


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _shift_findings(factor: str, shifts: Mapping[str, Any], t: Mapping[str, float]) -> list[dict[str, str]]:
    """Findings on one factor's partner shift: the layers the partners drive hardest up and down,
    and the largest RMS activation ratio."""
    from sdinterp.validity.ood import shift_floor

    out = []
    layers = {k: v for k, v in shifts["layers"].items() if v.get("drive") is not None}
    if layers:
        for direction in ("up", "down"):
            pick = max if direction == "up" else min
            name, worst = pick(layers.items(), key=lambda kv: kv[1]["drive"])
            floor = shift_floor(int(worst.get("pairs") or 0))
            lo, hi = t[f"drive_{direction}_doubtful"], t[f"drive_{direction}_invalid"]
            sign = 1.0 if direction == "up" else -1.0
            lo, hi = sign * max(abs(lo), floor), sign * max(abs(hi), floor * abs(hi / lo))
            d = worst["drive"]
            status = "invalid" if sign * d > sign * hi else "doubtful" if sign * d > sign * lo else "ok"
            verb = "drive" if direction == "up" else "silence"
            out.append(
                {
                    "status": status,
                    "check": f"partner shift {direction}",
                    "text": f"{factor} partners {verb} {name}'s units: median standardised mean change {d:+.2f} sd "
                    f"of the "
                    f"{worst.get('against', 'anchors')} (|change| {worst['shift']:.2f}; doubtful beyond {lo:+.2f}, "
                    f"invalid beyond {hi:+.2f})"
                    + (
                        ": the anchors themselves are transformed"
                        if worst.get("against") == "original clips" and status != "ok"
                        else ""
                    ),
                }
            )
    rms = {k: v["rms_ratio"] for k, v in shifts["layers"].items() if v.get("rms_ratio")}
    if rms:
        name, ratio = max(rms.items(), key=lambda kv: kv[1])
        status = "invalid" if ratio > t["rms_up_invalid"] else "doubtful" if ratio > t["rms_up_doubtful"] else "ok"
        low_name, low = min(rms.items(), key=lambda kv: kv[1])
        against = shifts["layers"][name].get("against", "anchors")
        out.append(
            {
                "status": status,
                "check": "activation scale",
                "text": f"{factor} partners scale {name}'s RMS activation by {_fmt(ratio)} against the {against} "
                f"(doubtful above x{t['rms_up_doubtful']}, invalid above x{t['rms_up_invalid']}; lowest: "
                f"{low_name} x{_fmt(low)}, reported)",
            }
        )
    output = shifts.get("output")
    if output:
        out.append(
            {
                "status": "ok",
                "check": "predictions",
                "text": f"top-1 agreement of anchor and {factor} partner {_fmt(output['agreement'])}, predicted-class "
                f"shift {_fmt(output['class_shift'])} (reported, not judged: a partner that changes the factor "
                "the model uses changes its prediction legitimately)",
            }
        )
    return out


def _control_findings(
    controls: Mapping[str, Any], lam: float, t: Mapping[str, float]
) -> dict[str, list[dict[str, str]]]:
    """Per factor, how each control fares.

    A control must survive the pairs of its own factor (its best unit's score above λ: the unit
    along which the clips move carries a direction) and be changed by the other factor's pairs
    (every unit's score below λ). On the wrong side of λ by more than ``control_margin``: invalid,
    by less: doubtful — with one exception: pairs that keep *some* of the other factor's controls
    but change others are doubtful, not invalid. They still change that factor; the units that
    encode what they keep read as joint instead of static (or dynamic). Pairs that keep every one
    of them (identical or merely noisy partners) are invalid."""
    out: dict[str, list[dict[str, str]]] = {"dynamic": [], "static": []}
    m = t["control_margin"]
    for factor in ("dynamic", "static"):
        kept_others = []
        for name, c in controls.items():
            expect = c["expected"]
            scores = [s for s, ok in zip(c["unit_scores"][factor], c["valid"]) if ok]
            if not scores:
                continue
            survive = expect == factor
            value = max(scores)
            wrong = lam - value if survive else value - lam
            status = "ok" if wrong < 0 else "doubtful" if wrong <= m else "invalid"
            unit = ("best unit" if survive else "highest unit") if len(scores) > 1 else "score"
            why = "must survive" if survive else "must be changed by"
            finding = {
                "status": status,
                "check": f"control {name}",
                "text": f"the {expect} control {name} {why} {factor} pairs: {factor} {unit} {value:.2f} "
                f"(needs {'>' if survive else '<'} {lam}; invalid beyond {m} on the wrong side)",
            }
            out[factor].append(finding)
            if not survive:
                kept_others.append(finding)
        if any(f["status"] == "ok" for f in kept_others):
            for f in kept_others:
                if f["status"] == "invalid":
                    f["status"] = "doubtful"
                    f["text"] += (
                        " -- the pairs change the other controls, so they change the factor, but units encoding "
                        f"what {f['check'].split()[-1]} measures read as joint"
                    )
    return out


def _null_sd(groups: int, n: int) -> float:
    """Standard deviation of the adjusted share of G groups over n rows when the grouping explains
    nothing (eta squared is then Beta((G-1)/2, (n-G)/2))."""
    if groups < 2 or n <= groups:
        return 0.0
    var_eta = 2.0 * (groups - 1) * (n - groups) / ((n - 1) ** 2 * (n + 1))
    return math.sqrt(var_eta) * (n - 1) / (n - groups)


def _style_finding(
    nuisance: Mapping[str, Any], t: Mapping[str, float], style_shared: Mapping[str, Any] | None
) -> dict[str, str] | None:
    shares = {
        layer: v["style"] for layer, v in nuisance.items() if "style" in v and v["style"]["median_share"] is not None
    }
    if not shares:
        return None
    layer, worst = max(shares.items(), key=lambda kv: kv[1]["median_share"])
    share, sd = worst["median_share"], _null_sd(worst["groups"], worst["clips"])
    shared = dict(style_shared or {})
    stat, dyn = shared.get("static", [0, 0]), shared.get("dynamic", [0, 0])
    if stat[1] and dyn[1] and not (stat[0] > 0.5 * stat[1] and dyn[0] < 0.5 * dyn[1]):
        return {
            "status": "ok",
            "check": "anchor style",
            "text": f"the anchor's style explains a median {100 * share:.0f}% of {layer}'s unit variance, but static "
            f"pairs share it in {stat[0]}/{stat[1]} and dynamic pairs in {dyn[0]}/{dyn[1]}: no anchor effect",
        }
    lo, hi = max(t["style_doubtful"], 3 * sd), max(t["style_invalid"], 5 * sd)
    status = "invalid" if share > hi else "doubtful" if share > lo else "ok"
    return {
        "status": status,
        "check": "anchor style",
        "text": f"the anchor's style ({worst['groups']} styles over {worst['clips']} anchors), "
        "shared by static pairs and "
        f"not by dynamic ones, explains a median {100 * share:.1f}% of {layer}'s unit variance, inflating s_stat "
        f"(doubtful > {100 * lo:.1f}%, invalid > {100 * hi:.1f}%)",
    }


def _video_finding(nuisance: Mapping[str, Any]) -> dict[str, str] | None:
    shares = {
        layer: v["video"] for layer, v in nuisance.items() if "video" in v and v["video"]["median_share"] is not None
    }
    if not shares:
        return None
    layer, worst = max(shares.items(), key=lambda kv: kv[1]["median_share"])
    return {
        "status": "ok",
        "check": "source video",
        "text": f"the source video ({worst['groups']} videos, {worst['repeated_clips']} of {worst['clips']} "
        "anchors from a "
        f"video used more than once) explains a median {100 * worst['median_share']:.0f}% of {layer}'s unit "
        "variance (reported: clips of one video are not independent observations)",
    }


def score_controls(store: Any, scorer: Any, lam: float) -> dict[str, Any]:
    """Score every ``validity:control:*`` pseudo-layer of ``store`` with ``scorer`` at λ.

    Returns:
        ``{control: {"expected", "unit_scores": {"dynamic": [...], "static": [...]}, "categories", "valid"}}``.
    """
    from sdinterp.errors import DegenerateLayerError
    from sdinterp.validity.controls import CONTROL_PREFIX, CONTROLS

    out = {}
    for name, (_, expected) in CONTROLS.items():
        layer = CONTROL_PREFIX + name
        if layer not in store.layers() or any(store[layer][f].n == 0 for f in (Factor.DYNAMIC, Factor.STATIC)):
            continue
        try:
            lb = scorer.score(layer, store[layer], lam, {})
        except DegenerateLayerError:
            continue
        out[name] = {
            "expected": expected,
            "unit_scores": {f: [float(x) for x in lb.unit_scores[f]] for f in ("dynamic", "static")},
            "categories": [str(c) for c in lb.categories],
            "valid": [bool(v) for v in lb.valid],
        }
    return out


def judge(
    store: Any,
    report: Any,
    nuisance: Mapping[str, Any],
    use_output: bool = True,
    saw_logits: bool | None = None,
    thresholds: Mapping[str, float] | None = None,
    style_shared: Mapping[str, Any] | None = None,
) -> ValidityVerdict:
    """The verdict of a run from its moments, its report and the monitor's nuisance shares.

    Args:
        store: the run's MomentStore (with the monitor's pseudo-layers).
        report: the run's BiasReport (scorer, λ and samplers are read from it).
        nuisance: :meth:`ValidityMonitor.nuisance_shares`.
        use_output: whether the monitor asked for the model's output.
        saw_logits: whether the output held logits.
        thresholds: overrides of :data:`THRESHOLDS`.
        style_shared: per factor, [pairs whose sides share a style, pairs] (the monitor's count).

    Returns:
        The :class:`ValidityVerdict`.
    """
    from sdinterp.scoring.scorers import get_scorer
    from sdinterp.validity.ood import partner_shifts

    t = {**THRESHOLDS, **(thresholds or {})}
    config = getattr(report, "identity", {}) or {}
    lam = float(config.get("threshold", 0.5))
    scorer = get_scorer(config.get("scorer") or "official")
    layers = [n for n in store.layers() if not n.startswith("validity:")]
    shifts = partner_shifts(store, layers)
    controls = score_controls(store, scorer, lam)
    control_found = _control_findings(controls, lam, t)
    style = _style_finding(nuisance, t, style_shared)
    video = _video_finding(nuisance)
    samplers = {
        "static": (config.get("static_sampler") or {}).get("name", "?"),
        "dynamic": (config.get("dynamic_sampler") or {}).get("name", "?"),
    }
    factors = {}
    for factor in ("dynamic", "static"):
        found = _shift_findings(factor, shifts[factor], t) + control_found[factor]
        if factor == "static" and style is not None:
            found.append(style)
        if video is not None:
            found.append(video)
        found.sort(key=lambda x: -STATUSES.index(x["status"]))
        status = found[0]["status"] if found else "ok"
        bad = [x for x in found if x["status"] == status]
        reason = bad[0]["text"] if found else "no check could be made"
        if len(bad) > 1:
            reason += f" (and {len(bad) - 1} more {status} finding{'s' if len(bad) > 2 else ''})"
        factors[factor] = FactorVerdict(factor, status, reason, samplers[factor], found)
    status = "ok"
    for v in factors.values():
        status = worse(status, v.status)
    numbers = {
        "shift": shifts,
        "controls": controls,
        "nuisance": dict(nuisance),
        "style_shared": {k: list(v) for k, v in dict(style_shared or {}).items()},
        "output": "logits" if saw_logits else ("not logits" if use_output else "not read"),
    }
    return ValidityVerdict(status, factors, numbers, dict(t))
