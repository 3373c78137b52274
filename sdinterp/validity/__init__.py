"""The validity check of a run (issue 20, item 1): do the pairs mean what they claim?

* :mod:`.controls` — model-free probe controls computed from the pairs' own frames.
* :mod:`.ood` — how far each factor's partners move the model's layers and predictions.
* :mod:`.nuisance` — the share of unit variance a shared nuisance (the anchor's style, the source
  video) explains, from mergeable per-group moments.
* :mod:`.verdict` — ok / doubtful / invalid per factor, with the numbers and a one-line reason.
* :mod:`.monitor` — :class:`ValidityMonitor`, the run observer that gathers all of it.

docs/validity.md has the thresholds and the measurements that set them.
"""

from sdinterp.validity.controls import CONTROLS, control_features
from sdinterp.validity.monitor import ValidityMonitor
from sdinterp.validity.nuisance import GroupMoments
from sdinterp.validity.verdict import THRESHOLDS, FactorVerdict, ValidityVerdict, judge

__all__ = [
    "ValidityMonitor",
    "ValidityVerdict",
    "FactorVerdict",
    "GroupMoments",
    "judge",
    "THRESHOLDS",
    "CONTROLS",
    "control_features",
]
