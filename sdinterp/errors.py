"""Every error type sdinterp raises for a problem the user can fix.

They share :class:`SdinterpError`, so the command line can print any of them as one line (and show
the traceback only with ``--debug``). Each also derives from the built-in type callers caught before
(``ValueError``, ``KeyError``, ``RuntimeError``), so existing ``except`` clauses keep working.
This module imports nothing from sdinterp: every other module may import it.
"""

from __future__ import annotations

import os

__all__ = [
    "SdinterpError",
    "UnknownLayerError",
    "CaptureError",
    "UnknownComponentError",
    "DegenerateLayerError",
    "NonFiniteActivationError",
    "VideoReadError",
    "RunStateError",
    "ReliabilityWarning",
    "ShortVideoWarning",
    "UnsupportedModelError",
]


class SdinterpError(Exception):
    """Base of the errors whose message alone tells the user what is wrong and what to do."""


class UnknownLayerError(SdinterpError, KeyError):
    """A layer name that is neither canonical nor a module path; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError quotes its message; these are meant to be read
        return str(self.args[0])


class CaptureError(SdinterpError, RuntimeError):
    """A captured activation that cannot be used (wrong shape, several calls, not a tensor...)."""


class UnknownComponentError(SdinterpError, KeyError):
    """A name that no loaded plugin registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


class DegenerateLayerError(SdinterpError, ValueError):
    """A layer that cannot be scored: every unit constant, or a factor with no pairs."""


class NonFiniteActivationError(SdinterpError, ValueError):
    """NaN or inf in the features of a layer."""


class UnsupportedModelError(SdinterpError, TypeError):
    """A model object or spec that no adapter plugin can drive; the message says what to do."""


class RunStateError(SdinterpError, ValueError):
    """A saved run state (``resume=``) that cannot be resumed by this run."""


class VideoReadError(SdinterpError, ValueError):
    """A video, frame or folder that cannot be used. ``path`` is the offending file or folder."""

    def __init__(self, path: str | os.PathLike[str], message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class ReliabilityWarning(UserWarning):
    """A run whose numbers are weaker than they look: too few pairs, inputs left unused or reused."""


class ShortVideoWarning(UserWarning):
    """A video shorter than the clip window: its frames are looped to fill it (reference behaviour)."""
