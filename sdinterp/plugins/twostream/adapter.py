"""The paper's layer names for the trainable two-stream family.

:class:`TwoStreamFamilyAdapter` names the layers of
:class:`~sdinterp.plugins.twostream.model.TwoStreamAVOS` and
:class:`~sdinterp.plugins.twostream.fusionseg.FusionSegMod`: ``appearance.stage1..5``,
``motion.stage1..5`` (stage 1 = ``conv1`` before BN; stages 3–5 after any cross connection,
method.md §3) and ``fusion2..5``. Its input side is the one every two-stream adapter shares (MATNet,
RTNet, the study variants): :class:`sdinterp.adapters.image_flow.TwoStreamAdapter` — one frame per
sample and its flow, resized alike and both ImageNet-normalised (the reference normalises the flow
image too, ``docs/method.md`` §2), fed as ``model(image, flow)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sdinterp.adapters.image_flow import IMAGENET_MEAN, IMAGENET_STD, REFERENCE_SIZE, TwoStreamAdapter
from sdinterp.interfaces import LayerInfo

if TYPE_CHECKING:
    from sdinterp.plugins.twostream.streams import ResNetStream

__all__ = ["TwoStreamAdapter", "TwoStreamFamilyAdapter", "IMAGENET_MEAN", "IMAGENET_STD", "REFERENCE_SIZE"]


class TwoStreamFamilyAdapter(TwoStreamAdapter):
    """The paper's layer names for :class:`TwoStreamAVOS` and :class:`FusionSegMod` (any model with
    ``appearance`` / ``motion`` :class:`ResNetStream` s, optional ``cross{k}`` modules returning
    ``(appearance, motion)`` and ``fusion{k}`` modules with ``out_channels``).

    Args: as :class:`~sdinterp.adapters.image_flow.TwoStreamAdapter`.

    Examples:
        >>> from sdinterp.plugins.twostream.spec import build_model
        >>> adapter = TwoStreamFamilyAdapter(build_model("twostream:gated-none-r18-w8"), frame_size=(32, 32))
        >>> list(adapter.layers())[:3]
        ['appearance.stage1', 'appearance.stage2', 'appearance.stage3']
    """

    family = "twostream"
    contiguous_input = True  # the layout this family's reports were made with (see TwoStreamAdapter)

    def layers(self) -> dict[str, LayerInfo]:
        model = self.model
        widths = cast("ResNetStream", model.appearance).stage_channels  # the class docstring's contract
        out: dict[str, LayerInfo] = {}
        for index, stream in enumerate(("appearance", "motion")):
            out[f"{stream}.stage1"] = LayerInfo(f"{stream}.stage1", f"{stream}.conv1", widths[1], stream, stride=2)
            for k in range(2, 6):
                name = f"{stream}.stage{k}"
                if hasattr(model, f"cross{k}"):
                    out[name] = LayerInfo(name, f"cross{k}", widths[k], stream, select=index, stride=2**k)
                else:
                    out[name] = LayerInfo(name, f"{stream}.layer{k - 1}", widths[k], stream, stride=2**k)
        for k in range(2, 6):
            fusion = getattr(model, f"fusion{k}", None)
            if fusion is not None:
                out[f"fusion{k}"] = LayerInfo(
                    f"fusion{k}", f"fusion{k}", int(fusion.out_channels), "fused", stride=2**k
                )
        return out

    def describe(self) -> dict[str, Any]:
        m = self.model
        appearance = cast("ResNetStream", m.appearance)
        return {
            **super().describe(),
            "fusion": getattr(m, "fusion_name", None),
            "cross": getattr(m, "cross_name", None),
            "depth": appearance.depth,
            "width": appearance.width,
        }
