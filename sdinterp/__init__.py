"""sdinterp: how much static vs dynamic information each layer and unit of a video model encodes.

Implements Kowal et al., "Quantifying and Learning Static vs. Dynamic Information in Deep
Spatiotemporal Networks" (TPAMI) / "A Deeper Dive Into What Deep Spatiotemporal Networks Encode"
(CVPR 2022). Main entry points:

* :class:`StaticDynamic` — Captum-style: ``StaticDynamic(model, layers).attribute(clips, ...)``.
* :func:`estimate` — score pooled features computed elsewhere.
* :class:`PairMoments` — the mergeable statistics every estimate is computed from.
"""

__version__ = "0.1.0"

from sdinterp.adapt import adapt, load_adapter, load_model
from sdinterp.capture import LayerCapture, UnknownLayerError
from sdinterp.estimate import estimate
from sdinterp.hookspecs import hookimpl
from sdinterp.metric import BiasMetric
from sdinterp.interfaces import Factor, LayerInfo, ModelAdapter, PairSampler, Sample, UnitScorer
from sdinterp.plugin_manager import get_registry, list_plugins
from sdinterp.report import BiasReport, LayerBias
from sdinterp.runner import StaticDynamic
from sdinterp.scoring import score_layer
from sdinterp.stats import MomentStore, NonFiniteActivationError, PairMoments

__all__ = [
    "__version__",
    "adapt",
    "load_model",
    "load_adapter",
    "LayerCapture",
    "UnknownLayerError",
    "estimate",
    "BiasMetric",
    "hookimpl",
    "Factor",
    "LayerInfo",
    "ModelAdapter",
    "PairSampler",
    "Sample",
    "UnitScorer",
    "get_registry",
    "list_plugins",
    "BiasReport",
    "LayerBias",
    "StaticDynamic",
    "score_layer",
    "MomentStore",
    "NonFiniteActivationError",
    "PairMoments",
]
