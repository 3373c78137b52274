"""Is a saved report about the model being ablated? ``sdinterp ablate --report`` ranks units by it,
so a report of another model (mc3_18 for r3d_18), other weights, another random initialisation or
another layer would choose the units silently wrong.

The model is the same when the report's recorded state hash (``identity.model.state_sha256``, a
hash of every parameter and buffer) equals the current model's, whatever the spec was spelled
like; otherwise the first recorded difference is named: the spec, the class, the weights. The
layer is the same when its module, call and width are.
"""

from __future__ import annotations

from typing import Any

from sdinterp.interfaces import LayerInfo
from sdinterp.report import BiasReport
from sdinterp.report.bias_report import weights_label

__all__ = ["report_differences"]


def _model_difference(saved: dict[str, Any], spec: str, weights: dict[str, Any], state: dict[str, Any]) -> str | None:
    if saved.get("state_sha256") and saved.get("state_sha256") == state.get("state_sha256"):
        return None
    if saved.get("spec") and saved["spec"] != spec:
        return f"model {saved['spec']} vs {spec}"
    if saved.get("class") and saved["class"] != state.get("class"):
        return f"model class {saved['class']} vs {state.get('class')}"
    if isinstance(saved.get("weights"), dict) and weights_label(saved["weights"]) != weights_label(weights):
        return f"{weights_label(saved['weights'])} vs {weights_label(weights)}"
    if saved.get("state_sha256"):
        return (
            f"model parameters (state sha256 {str(saved['state_sha256'])[:12]}... vs "
            f"{str(state.get('state_sha256'))[:12]}...)"
        )
    return "the report records no model state to check this run's model against"


def report_differences(
    report: BiasReport,
    spec: str,
    weights: dict[str, Any],
    state: dict[str, Any],
    layer: str,
    info: LayerInfo,
) -> list[str]:
    """What differs between the run a report comes from and this one, each as ``"saved vs now"``.

    Args:
        report: the saved report (it has ``layer``).
        spec: this run's model spec.
        weights: this run's weights provenance (:func:`~sdinterp.cli_kit.weights_provenance`).
        state: this run's :func:`~sdinterp.pipeline.identity.model_identity` (class, state hash).
        layer: the layer being ablated.
        info: that layer as this run's adapter resolves it.

    Returns:
        The differences (empty: the report is about this model and layer).
    """
    saved = report.identity.get("model")
    found = _model_difference(saved if isinstance(saved, dict) else {}, spec, weights, state)
    out = [found] if found else []
    lb = report[layer]
    if info.channels is not None and lb.n_units != info.channels:
        out.append(f"layer {layer} has {lb.n_units} units vs {info.channels}")
    for key, now in (("module", info.module), ("call", info.call), ("where", info.where)):
        if key in lb.info and lb.info[key] != now:
            out.append(f"layer {layer} {key} {lb.info[key]!r} vs {now!r}")
    return out
