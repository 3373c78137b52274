"""Built-in scorers, registered like any plugin's: ``official`` (default) and ``pearson``."""

from __future__ import annotations

from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.scoring.scorers import OfficialScorer, PearsonScorer


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_scorer(OfficialScorer.name, OfficialScorer)
    registry.add_scorer(PearsonScorer.name, PearsonScorer)
