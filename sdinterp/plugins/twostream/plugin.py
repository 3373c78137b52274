"""Hooks of the two-stream plugin: the ``twostream:`` model specs, the adapter of the family, the
``vos-alternating`` pair protocol and the ``fusion-study`` / ``twostream-train`` commands."""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.twostream.protocol import VosAlternating

__all__ = ["ADAPTER_OPTIONS"]

#: Options of :class:`~sdinterp.plugins.twostream.adapter.TwoStreamAdapter` that ``adapt`` passes on.
ADAPTER_OPTIONS = ("frame_size", "mean", "std", "flow_max_magnitude")


@hookimpl
def sdinterp_register(registry: Any) -> None:
    from sdinterp.plugins.twostream.commands import register_study, register_train

    registry.add_protocol(VosAlternating.name, VosAlternating)
    registry.add_command("fusion-study", register_study)
    registry.add_command("twostream-train", register_train)


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> Any:
    """``twostream:FUSION-CROSS[-rDEPTH][-wWIDTH][:WEIGHTS]`` and ``twostream:fusionseg[...]``."""
    if not spec.startswith("twostream:"):
        return None
    from sdinterp.plugins.twostream.spec import build_model

    return build_model(spec, **options)


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> Any:
    """The family's adapter for :class:`TwoStreamAVOS` and :class:`FusionSegMod` models."""
    from sdinterp.plugins.twostream.adapter import TwoStreamFamilyAdapter
    from sdinterp.plugins.twostream.fusionseg import FusionSegMod
    from sdinterp.plugins.twostream.model import TwoStreamAVOS

    if not isinstance(model, (TwoStreamAVOS, FusionSegMod)):
        return None
    unknown = sorted(k for k in ("num_frames", "crop_size", "short_side") if options.get(k) is not None)
    if unknown:
        raise ValueError(f"two-stream models take frame_size=(H, W), not {', '.join(unknown)}; they read one frame and its flow")
    return TwoStreamFamilyAdapter(model, **{k: options[k] for k in ADAPTER_OPTIONS if k in options})
