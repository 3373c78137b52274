"""Two-stream (image, flow) video object segmentation: a trainable AVOS family with the paper's
fusion and cross-connection variants and the modified FusionSeg (``docs/twostream.md``).

Modules: :mod:`.streams` (ResNet streams), :mod:`.model` (the family), :mod:`.fusionseg`,
:mod:`.spec` (``twostream:`` model specs), :mod:`.adapter` (the paper's layer names on the shared
(image, flow) input path, :mod:`sdinterp.adapters.image_flow`), :mod:`.protocol`
(``vos-alternating``), :mod:`.data` ((image, flow) samples with computed, cached flow),
:mod:`.synthetic` and :mod:`.train` (CPU training), :mod:`.study` and :mod:`.commands`
(``sdinterp fusion-study``), :mod:`.plugin` (the hooks).

Names are imported on first use, so loading the plugin (every ``sdinterp`` command does) does not
import torchvision.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TwoStreamAVOS": "model",
    "LightDecoder": "model",
    "FusionSegMod": "fusionseg",
    "ResNetStream": "streams",
    "TwoStreamAdapter": "adapter",
    "TwoStreamFamilyAdapter": "adapter",
    "VosAlternating": "protocol",
    "TwoStreamFrames": "data",
    "STUDY_VARIANTS": "spec",
    "build_model": "spec",
    "parse_spec": "spec",
    "train_synthetic": "train",
    "run_study": "study",
}
__all__ = [
    "FusionSegMod",
    "LightDecoder",
    "ResNetStream",
    "STUDY_VARIANTS",
    "TwoStreamAVOS",
    "TwoStreamAdapter",
    "TwoStreamFamilyAdapter",
    "TwoStreamFrames",
    "VosAlternating",
    "build_model",
    "parse_spec",
    "run_study",
    "train_synthetic",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
