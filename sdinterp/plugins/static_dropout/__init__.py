"""StaticDropout (paper Sec. 5.2, Eq. 4; ``docs/method.md`` §5; ``docs/controlling_bias.md``).

* :class:`StaticDropout` — the drop-in module (``sdinterp.plugins.static_dropout.StaticDropout``).
* :class:`StaticDropoutFeeder` — the plain-PyTorch :class:`~sdinterp.interfaces.TrainingHook` that
  feeds it (clip, frame-shuffled clip) pairs and refreshes its scores every N iterations.
* MMEngine / MMAction2: ``import sdinterp.plugins.static_dropout.mmengine_hook`` registers
  ``StaticDropout`` (``MODELS``) and ``StaticDropoutHook`` (``HOOKS``). This package does not import
  MMEngine itself (it is loaded with every ``sdinterp`` command); if MMEngine is already imported
  when it is, the registration is made at once.
"""

from __future__ import annotations

import sys
from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.static_dropout.feeder import StaticDropoutFeeder, find_static_dropouts, shuffle_frames
from sdinterp.plugins.static_dropout.module import StaticDropout, static_channel_scores

__all__ = ["StaticDropout", "StaticDropoutFeeder", "find_static_dropouts", "shuffle_frames", "static_channel_scores"]

if "mmengine.registry" in sys.modules:  # an MMEngine user: register now (cheap, MMEngine is loaded)
    import sdinterp.plugins.static_dropout.mmengine_hook  # noqa: F401 - imported for its registration


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add("training_hook", "static_dropout", StaticDropoutFeeder)
