"""Checkpoint/resume of a run: the moments so far, where to continue, and a fingerprint of the run's
configuration so a checkpoint is never resumed under different settings."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from sdinterp.stats import MomentStore

__all__ = ["RunCheckpoint", "fingerprint"]

_FORMAT = "sdinterp.checkpoint/1"


def fingerprint(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=repr).encode()).hexdigest()


class RunCheckpoint:
    """A checkpoint file for one run.

    The file holds the moment store after a whole number of batches, the index of the next clip and
    the run's fingerprint. Writes are atomic (temporary file + rename), so an interruption while
    saving leaves the previous checkpoint intact.
    """

    def __init__(self, path: str | os.PathLike[str], config: dict[str, Any]):
        self.path = Path(path)
        self.config = config
        self.key = fingerprint(config)

    def load(self) -> tuple[MomentStore, int] | None:
        """The saved (store, next clip index), or None if there is no checkpoint yet."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a truncated or foreign file: say which, don't guess
            raise ValueError(f"cannot read checkpoint {self.path}: {exc}") from exc
        if state.get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not an sdinterp checkpoint")
        if state["fingerprint"] != self.key:
            diff = {
                k: (state["config"].get(k), self.config.get(k))
                for k in sorted(set(state["config"]) | set(self.config))
                if state["config"].get(k) != self.config.get(k)
            }
            raise ValueError(
                f"checkpoint {self.path} was written by a run with different settings; "
                f"(saved, now) per differing key: {diff}. Use another checkpoint path or delete it."
            )
        return MomentStore.from_state_dict(state["store"]), int(state["next_clip"])

    def save(self, store: MomentStore, next_clip: int, complete: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(
            {
                "format": _FORMAT,
                "fingerprint": self.key,
                "config": json.loads(json.dumps(self.config, default=repr)),
                "store": store.state_dict(),
                "next_clip": int(next_clip),
                "complete": bool(complete),
            },
            tmp,
        )
        os.replace(tmp, self.path)
