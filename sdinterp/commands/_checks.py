"""Checks of command-line values that run before any model is loaded or video read, so a bad flag
or an unwritable output costs nothing and never loses a finished computation."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

from sdinterp.errors import SdinterpError

__all__ = ["UsageError", "check_positive", "check_finite", "check_output_file", "weights_provenance"]


class UsageError(SdinterpError, ValueError):
    """A command-line value that cannot work; the message names the flag and what to do."""


def check_positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be a positive integer, got {value}")


def check_finite(flag: str, value: float) -> None:
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")


def check_output_file(flag: str, path: str | None) -> None:
    """The file can be written: its folder exists and is writable, and it is not a folder itself."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{flag} {path}: cannot write there (permission denied); choose another path")


def weights_provenance(weights: str | None, seed: int, model: Any = None) -> dict[str, Any]:
    """What the model's parameters are, for the report: a local file and its sha256; else what the
    model says it was loaded from (a loader that brings its own weights, e.g. a package's
    embedded checkpoint, sets ``model.sdinterp_weights = {"source": ..., "path": ..., "sha256": ...}``);
    else random initialisation with the seed that made it."""
    if not weights:
        declared = getattr(model, "sdinterp_weights", None)
        if isinstance(declared, dict) and declared.get("source"):
            return dict(declared)
        return {"source": "random init", "seed": int(seed)}
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"source": "file", "path": str(Path(weights).resolve()), "sha256": digest.hexdigest()}

