"""Hooks of the two-stream plugin: the ``twostream:`` model specs, the adapter of the family, the
``vos-alternating`` pair protocol and the ``fusion-study`` / ``twostream-train`` commands."""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.models import family_loader
from sdinterp.plugins.twostream.protocol import VosAlternating

__all__ = ["ADAPTER_OPTIONS"]

#: Options of :class:`~sdinterp.adapters.image_flow.TwoStreamAdapter` that ``adapt`` passes on.
ADAPTER_OPTIONS = ("frame_size", "mean", "std", "flow_max_magnitude", "frame")


@hookimpl
def sdinterp_register(registry: Any) -> None:
    from sdinterp.plugins.twostream.commands import register_study, register_train

    registry.add_protocol(VosAlternating.name, VosAlternating)
    registry.add_command("fusion-study", register_study)
    registry.add_command("twostream-train", register_train)


def _build(name: str, **options: Any) -> Any:
    from sdinterp.plugins.twostream.spec import PREFIX, build_model  # imports torchvision: on first use only

    return build_model(PREFIX + name, **options)


#: ``twostream:FUSION-CROSS[-rDEPTH][-wWIDTH][:WEIGHTS]`` and ``twostream:fusionseg[...]`` (the spec is
#: split in the core, :mod:`sdinterp.models`; :mod:`.spec` parses the name).
sdinterp_load_model = family_loader(
    "twostream", _build, ("weights", "trust_weights", "cascades", "decoder_channels"), passed_on=ADAPTER_OPTIONS
)


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> Any:
    """The family's adapter for :class:`TwoStreamAVOS` and :class:`FusionSegMod` models."""
    from sdinterp.plugins.twostream.adapter import TwoStreamFamilyAdapter
    from sdinterp.plugins.twostream.fusionseg import FusionSegMod
    from sdinterp.plugins.twostream.model import TwoStreamAVOS

    if not isinstance(model, (TwoStreamAVOS, FusionSegMod)):
        return None
    from sdinterp.adapters.image_flow import CLIP_SIZE_OPTIONS, image_flow_options, refuse_options

    refuse_options(
        options, CLIP_SIZE_OPTIONS, "two-stream models (one frame and its flow per sample; set frame_size=(H, W))"
    )
    return TwoStreamFamilyAdapter(model, **image_flow_options(options, ADAPTER_OPTIONS))
