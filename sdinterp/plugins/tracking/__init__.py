"""Training dynamics: when are static and dynamic information learned (paper Sec. 4.3, Fig. 10;
``docs/method.md`` §7; ``docs/controlling_bias.md``).

* :func:`track_checkpoints` — the bias of a series of checkpoints (a folder or a list; the step
  parsed from the names or given), with the same data, pairs and seed for each: the pairs are drawn
  and the inputs prepared once (:class:`PreparedPairs`). Returns a :class:`BiasSeries` (one table,
  one series per layer).
* :class:`BiasTracker` — a plain-PyTorch :class:`~sdinterp.interfaces.TrainingHook` recording a
  report every N epochs.
* ``import sdinterp.plugins.tracking.mmengine_hook`` registers the MMEngine ``StaticDynamicHook``
  (not imported here: this package is loaded with every ``sdinterp`` command).
* The ``sdinterp track`` command.
"""

from __future__ import annotations

import sys
from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.tracking.checkpoints import find_checkpoints, parse_step, track_checkpoints
from sdinterp.plugins.tracking.prepared import PreparedPairs
from sdinterp.plugins.tracking.series import BiasSeries
from sdinterp.plugins.tracking.tracker import BiasTracker

__all__ = ["track_checkpoints", "find_checkpoints", "parse_step", "PreparedPairs", "BiasSeries", "BiasTracker"]

if "mmengine.registry" in sys.modules:  # an MMEngine user: register the hook now (MMEngine is loaded)
    import sdinterp.plugins.tracking.mmengine_hook  # noqa: F401 - imported for its registration


def _register_track(sub: Any) -> None:
    from sdinterp.plugins.tracking.cli import register

    register(sub)


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add("training_hook", "bias_tracker", BiasTracker)
    registry.add_command("track", _register_track)
