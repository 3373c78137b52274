"""Dataset-bias studies (paper Sec. 4.2; ``docs/method.md`` §7; ``docs/controlling_bias.md``).

* :func:`shuffle_test` — a model on normal vs frame-shuffled clips (relative accuracy).
* :func:`shuffled_training_drop` — train on normal vs shuffled clips; relative drop (Fig. 6 right).
* :func:`compare_reports` — two models' units layer by layer, with a significance statement set by
  the runs' pair counts.
* The ``sdinterp shuffle-test`` command.
"""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.dataset_bias.compare import LayerComparison, ModelComparison, compare_reports
from sdinterp.plugins.dataset_bias.shuffle import (
    ShuffleResult,
    TrainingDrop,
    shuffle_test,
    shuffled_frames,
    shuffled_training_drop,
    shuffled_views,
)

__all__ = [
    "shuffle_test",
    "shuffled_training_drop",
    "shuffled_views",
    "shuffled_frames",
    "ShuffleResult",
    "TrainingDrop",
    "compare_reports",
    "LayerComparison",
    "ModelComparison",
]


def _register_shuffle_test(sub: Any) -> None:
    from sdinterp.plugins.dataset_bias.cli import register

    register(sub)


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_command("shuffle-test", _register_shuffle_test)
