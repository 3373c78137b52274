"""Model specs of the two-stream family: ``twostream:FUSION-CROSS[-rDEPTH][-wWIDTH][:WEIGHTS]``.

* ``FUSION``: a registered fusion (``gated``, ``convex_gated``, ``convex_gated_cat``, a plugin's);
* ``CROSS``: ``none`` or a registered cross connection (``unidirectional``, ``bidirectional``,
  ``unidirectional_gated``, ``bidirectional_gated``, a plugin's);
* ``fusionseg[-rDEPTH][-wWIDTH]``: the modified FusionSeg;
* ``rDEPTH``: ResNet depth of each stream, 18 (default), 34 or 50; ``wWIDTH``: base width (64
  default = standard ResNet; 16 trains on a CPU in minutes);
* ``:WEIGHTS``: a local state-dict file (or the ``weights`` option); never downloaded.

Examples: ``twostream:gated-bidirectional-r18``, ``twostream:convex_gated-unidirectional-r50``,
``twostream:fusionseg-r18-w16``. Models are randomly initialised unless weights are given.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from sdinterp.errors import SdinterpError

__all__ = ["TwoStreamSpec", "parse_spec", "build_model", "PREFIX", "STUDY_VARIANTS"]

PREFIX = "twostream:"
#: The four fusion × cross variants of the paper's study (Sec. 5.3, Fig. 15): G+U, G+B, CCG+U, CCG+B.
STUDY_VARIANTS = (
    "gated-unidirectional",
    "gated-bidirectional",
    "convex_gated-unidirectional",
    "convex_gated-bidirectional",
)


class SpecError(SdinterpError, ValueError):
    """A two-stream model spec that cannot be built; the message says what is wrong."""


@dataclasses.dataclass(frozen=True)
class TwoStreamSpec:
    """A parsed spec: ``kind`` is ``"family"`` or ``"fusionseg"``."""

    kind: str
    fusion: str
    cross: str
    depth: int = 18
    width: int = 64
    weights: str | None = None

    @property
    def name(self) -> str:
        head = "fusionseg" if self.kind == "fusionseg" else f"{self.fusion}-{self.cross}"
        return f"{PREFIX}{head}-r{self.depth}" + (f"-w{self.width}" if self.width != 64 else "")


def parse_spec(spec: str) -> TwoStreamSpec:
    """Parse ``twostream:...`` (the prefix may be omitted).

    Raises:
        SpecError: naming the part that is wrong and the valid names.

    Examples:
        >>> parse_spec("twostream:gated-bidirectional-r34")
        TwoStreamSpec(kind='family', fusion='gated', cross='bidirectional', depth=34, width=64, weights=None)
        >>> parse_spec("twostream:fusionseg-w16").kind
        'fusionseg'
    """
    from sdinterp.components import CROSS_KIND, FUSION_KIND, component_names

    body = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    body, _, weights = body.partition(":")
    parts = body.split("-")
    depth, width = 18, 64
    while len(parts) > 1 and re.fullmatch(r"[rw]\d+", parts[-1]):
        tail = parts.pop()
        if tail[0] == "r":
            depth = int(tail[1:])
        else:
            width = int(tail[1:])
    if depth not in (18, 34, 50):
        raise SpecError(f"model spec {spec!r}: ResNet depth r{depth} is not available; use r18, r34 or r50")
    if width < 1:
        raise SpecError(f"model spec {spec!r}: width w{width} must be positive")
    if parts == ["fusionseg"]:
        return TwoStreamSpec("fusionseg", "concat", "none", depth, width, weights or None)
    if len(parts) != 2:
        raise SpecError(
            f"model spec {spec!r}: expected twostream:FUSION-CROSS[-rDEPTH][-wWIDTH] (e.g. "
            f"twostream:gated-bidirectional-r18) or twostream:fusionseg[-rDEPTH]"
        )
    fusion, cross = parts
    fusions, crosses = component_names(FUSION_KIND), component_names(CROSS_KIND)
    if fusion not in fusions:
        raise SpecError(f"model spec {spec!r}: unknown fusion {fusion!r}; registered fusions: {', '.join(fusions)}")
    if cross != "none" and cross not in crosses:
        raise SpecError(
            f"model spec {spec!r}: unknown cross connection {cross!r}; use none or one of: {', '.join(crosses)}"
        )
    return TwoStreamSpec("family", fusion, cross, depth, width, weights or None)


def build_model(spec: str | TwoStreamSpec, **options: Any) -> nn.Module:
    """Build (and optionally load) the model of a spec.

    Args:
        spec: a spec string or a parsed :class:`TwoStreamSpec`.
        **options: ``weights`` (a local file), ``trust_weights``, and model options
            (``cascades``, ``decoder_channels``).

    Examples:
        >>> build_model("twostream:gated-none-r18-w8").fusion2.out_channels
        16
    """
    from sdinterp.plugins.twostream.fusionseg import FusionSegMod
    from sdinterp.plugins.twostream.model import TwoStreamAVOS

    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    model_opts = {k: options[k] for k in ("cascades", "decoder_channels") if options.get(k) is not None}
    if "cascades" in model_opts and parsed.cross == "none":
        # Nothing to configure, so nothing changes; but the caller asked for it, so it is said.
        warnings.warn(
            f"model spec {parsed.name!r} has no cross connections: cascades={model_opts.pop('cascades')} does not "
            "apply and is left out (use a spec with a cross connection, e.g. gated-bidirectional, to set it)",
            UserWarning,
            stacklevel=2,
        )
    if parsed.kind == "fusionseg":
        model: nn.Module = FusionSegMod(parsed.depth, parsed.width, **model_opts)
    else:
        model = TwoStreamAVOS(parsed.fusion, parsed.cross, parsed.depth, parsed.width, **model_opts)
    weights = options.get("weights") or parsed.weights
    if weights:
        from sdinterp.adapters.common import load_state_dict_file

        load_state_dict_file(model, weights, trusted=bool(options.get("trust_weights")))
    return model


def options_for(spec: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` as the model of ``spec`` takes them, for a caller that sets one ``cascades`` for many
    models (the fusion study, the tiny AVOS task): left out, without a warning, for a ``twostream:``
    spec without cross connections (FusionSeg, ``-none``), where it configures nothing.

    Examples:
        >>> options_for("twostream:fusionseg-r18", {"cascades": 3, "weights": None})
        {'weights': None}
        >>> options_for("twostream:gated-bidirectional-r18", {"cascades": 3})
        {'cascades': 3}
    """
    out = dict(options or {})
    if spec.startswith(PREFIX) and "cascades" in out and parse_spec(spec).cross == "none":
        out.pop("cascades")
    return out
