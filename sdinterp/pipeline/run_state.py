"""A run's saved progress (``resume=``, ``--resume``): the moments so far, where to continue, and a
fingerprint of the run's identity so a saved state is never resumed under different settings.

(Model weights are called *weights* everywhere; *resume*/run state is only ever this file.)"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from sdinterp.errors import RunStateError
from sdinterp.pipeline.identity import differences, normalise
from sdinterp.stats import MomentStore

__all__ = ["RunState", "fingerprint"]

_FORMAT = "sdinterp.run_state/2"


def fingerprint(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(normalise(identity), sort_keys=True).encode()).hexdigest()


class RunState:
    """The run-state file of one run.

    The file holds the moment store after a whole number of batches, the index of the next clip and
    the run's fingerprint. Writes are atomic (temporary file + rename), so an interruption while
    saving leaves the previous state intact. It is read with ``weights_only=True``: a crafted file
    cannot run code (it holds only tensors, numbers, strings, lists and dicts).
    """

    def __init__(self, path: str | os.PathLike[str], identity: dict[str, Any]):
        self.path = Path(path)
        self.identity = normalise(identity)
        self.key = fingerprint(identity)
        #: Observer states of the loaded run (name -> state), see RunObserver.state_dict.
        self.observers: dict[str, Any] = {}

    def load(self) -> tuple[MomentStore, int] | None:
        """The saved (store, next clip index), or None if there is no saved state yet.

        Raises:
            RunStateError: the file cannot be read (truncated, empty, foreign, unreadable) or
                belongs to another run; one line naming ``--resume``, the file and what to do.
        """
        if not self.path.exists():
            return None
        where = f"--resume {self.path}"
        start_afresh = "delete it to start afresh or pass another --resume path"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's pickle-protocol notes are not the user's business
                state = torch.load(self.path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # torch's own text advises weights_only=False; for a file we did not write, that is the
            # one thing never to do, so say what the file is instead.
            raise RunStateError(
                f"{where}: cannot read run state: it is not a file sdinterp wrote (foreign, damaged, or carrying "
                f"Python objects, which are never unpickled); {start_afresh}"
            ) from None
        except (PermissionError, IsADirectoryError) as exc:
            raise RunStateError(
                f"{where}: cannot read run state ({exc.strerror}); pass another --resume path"
            ) from None
        except Exception as exc:  # noqa: BLE001 - torch reports a cut file as EOFError, OSError, RuntimeError...
            # ... whose texts ("[Errno 22] Invalid argument", a zip reader's internals) say nothing
            # of the cause: a save cut short (killed, disk full) or a file that is not a run state.
            size = self.path.stat().st_size
            what = (
                "is empty (0 bytes)" if size == 0 else f"is truncated or corrupt ({size} bytes; {type(exc).__name__})"
            )
            raise RunStateError(f"{where}: cannot read run state: the file {what}; {start_afresh}") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT or not isinstance(state.get("identity"), dict):
            raise RunStateError(f"{where}: not an sdinterp run-state file (format {_FORMAT}); {start_afresh}")
        if state.get("fingerprint") != self.key:
            diff = differences(state["identity"], self.identity) or ["(saved by another sdinterp version)"]
            raise RunStateError(
                f"{where}: the run state belongs to another run ({'; '.join(diff)}); "
                "give another --resume path, or delete the file to start over"
            )
        try:
            self.observers = dict(state.get("observers", {}))
            return MomentStore.from_state_dict(state["store"]), int(state["next_clip"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RunStateError(
                f"{where}: the run state is damaged ({type(exc).__name__}: {exc}); {start_afresh}"
            ) from None

    def save(
        self, store: MomentStore, next_clip: int, complete: bool = False, observers: dict[str, Any] | None = None
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(
            {
                "format": _FORMAT,
                "fingerprint": self.key,
                "identity": self.identity,
                "store": store.state_dict(),
                "next_clip": int(next_clip),
                "complete": bool(complete),
                "observers": dict(observers or {}),
            },
            tmp,
        )
        os.replace(tmp, self.path)
