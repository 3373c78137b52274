"""sdinterp: how much static vs dynamic information each layer and unit of a video model encodes.

Implements Kowal et al., "Quantifying and Learning Static vs. Dynamic Information in Deep
Spatiotemporal Networks" (TPAMI) / "A Deeper Dive Into What Deep Spatiotemporal Networks Encode"
(CVPR 2022). Main entry points:

* :class:`StaticDynamic` — Captum-style: ``StaticDynamic(model, layers).attribute(clips, ...)``.
* :func:`estimate` / :class:`BiasMetric` — score pooled features computed elsewhere.
* :class:`PairMoments` — the mergeable statistics every estimate is computed from.

Layout: the core (this package: contracts, statistics, scoring, capture, pipeline, data, report,
plugin machinery) never imports ``sdinterp.adapters`` or ``sdinterp.plugins``; the plugin manager
loads them by name (``sdinterp.plugin_manager.DEFAULT_PLUGINS``) and they provide their parts through
the same hooks a third-party plugin implements.
"""

from sdinterp._version import __version__
from sdinterp.adapt import adapt, load_adapter, load_model
from sdinterp.capture import LayerCapture
from sdinterp.errors import (
    CaptureError,
    DegenerateLayerError,
    NonFiniteActivationError,
    SdinterpError,
    UnknownComponentError,
    UnknownLayerError,
)
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import (
    Factor,
    Intervention,
    LayerInfo,
    ModelAdapter,
    PairProtocol,
    PairSampler,
    Restyler,
    Sample,
    TrainingHook,
    UnitScorer,
)
from sdinterp.pipeline import RunConfig, StaticDynamic
from sdinterp.plugin_manager import get_registry, list_plugins
from sdinterp.report import BiasReport, LayerBias
from sdinterp.scoring import BiasMetric, estimate, get_scorer, score_layer
from sdinterp.stats import MomentStore, PairMoments

__all__ = [
    "__version__",
    "adapt",
    "load_model",
    "load_adapter",
    "LayerCapture",
    "CaptureError",
    "DegenerateLayerError",
    "NonFiniteActivationError",
    "SdinterpError",
    "UnknownComponentError",
    "UnknownLayerError",
    "hookimpl",
    "Factor",
    "Intervention",
    "LayerInfo",
    "ModelAdapter",
    "PairProtocol",
    "PairSampler",
    "Restyler",
    "Sample",
    "TrainingHook",
    "UnitScorer",
    "RunConfig",
    "StaticDynamic",
    "get_registry",
    "list_plugins",
    "BiasReport",
    "LayerBias",
    "BiasMetric",
    "estimate",
    "get_scorer",
    "score_layer",
    "MomentStore",
    "PairMoments",
]
