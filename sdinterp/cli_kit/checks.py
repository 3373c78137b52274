"""Checks of command-line values that run before any model is loaded or video read, so a bad flag
or an unwritable output costs nothing and never loses a finished computation.

:func:`check_flags` checks every shared flag a command has (:mod:`sdinterp.cli_kit.flags`); the
single checks are public too, for a command's own flags.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
from pathlib import Path
from typing import Any

from sdinterp.cli_kit.outputs import check_run_outputs
from sdinterp.errors import SdinterpError

__all__ = [
    "UsageError",
    "check_positive",
    "check_finite",
    "check_seed",
    "check_output_file",
    "check_out_dir",
    "check_weights_file",
    "check_flags",
    "weights_provenance",
    "KIT_FLAGS",
]

#: Shared flags that must be positive integers when given (checked in this order).
POSITIVE_FLAGS = ("n_pairs", "batch_size", "clip_length", "frames", "short_side", "crop_size")
#: The largest seed. 0 .. 2**32 - 1 is what every random stream of a run accepts: numpy refuses a
#: negative seed and torch one beyond 64 bits (the tiny models seed ``3 * seed + k``), each only deep
#: inside a run, after the model has loaded.
MAX_SEED = 2**32 - 1
#: Shared flags that name a file the command writes.
OUTPUT_FILE_FLAGS = ("json", "csv", "units_csv", "resume")
#: The namespace attribute where :func:`~sdinterp.cli_kit.add_flags` records the flags it added,
#: so a command's own flag of the same name (e.g. a ``--out FILE``) is not checked as the kit's.
KIT_FLAGS = "cli_kit_flags"


class UsageError(SdinterpError, ValueError):
    """A command-line value that cannot work; the message names the flag and what to do.

    The command line prints it as one line (``sdinterp CMD: error: ...``) and exits with status 1.
    """


def check_positive(flag: str, value: int | None) -> None:
    """``value`` is a positive integer (or not given).

    Args:
        flag: the flag's name as typed (``--n-pairs``), for the message.
        value: the parsed value, or None when the flag was not given.

    Raises:
        UsageError: ``value`` is 0 or negative.

    Examples:
        >>> check_positive("--n-pairs", 4)
        >>> check_positive("--n-pairs", 0)
        Traceback (most recent call last):
        ...
        sdinterp.cli_kit.checks.UsageError: --n-pairs must be a positive integer, got 0
    """
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be a positive integer, got {value}")


def check_finite(flag: str, value: float) -> None:
    """``value`` is a finite number (not nan or inf); raises :class:`UsageError` naming ``flag``."""
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")


def check_seed(flag: str, value: int | None) -> None:
    """``value`` is a seed every random stream of a run accepts: an integer from 0 to :data:`MAX_SEED`.

    Args:
        flag: the flag's name as typed (``--seed``), for the message.
        value: the parsed value, or None when the flag was not given.

    Raises:
        UsageError: ``value`` is negative or above :data:`MAX_SEED`.

    Examples:
        >>> check_seed("--seed", 7)
        >>> check_seed("--seed", -1)
        Traceback (most recent call last):
        ...
        sdinterp.cli_kit.checks.UsageError: --seed must be an integer from 0 to 4294967295 (2**32 - 1), got -1
    """
    if value is not None and not 0 <= value <= MAX_SEED:
        raise UsageError(f"{flag} must be an integer from 0 to {MAX_SEED} (2**32 - 1), got {value}")


def check_output_file(flag: str, path: str | None) -> None:
    """The file can be written: its folder exists and is writable, and it is not a folder itself.

    Args:
        flag: the flag's name as typed, for the message.
        path: the path given, or None when the flag was not given (nothing to check).

    Raises:
        UsageError: the path is a folder, its folder is missing, or it cannot be written.
    """
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


def check_out_dir(out: str, flag: str = "--out") -> None:
    """``out`` names a folder that exists and is writable, or one that can be created."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {out}: is a file; give a folder (it is created if missing)")
    parent = next((q for q in [p, *p.parents] if q.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{flag} {out}: cannot write in {parent} (permission denied); choose another folder")


def check_weights_file(weights: str | None, flag: str = "--weights") -> None:
    """A weights file given on the command line exists (sdinterp never downloads weights)."""
    if weights and not Path(weights).is_file():
        raise UsageError(f"{flag} {weights}: no such file (sdinterp never downloads weights)")


def check_device(name: str | None, flag: str = "--device") -> None:
    """A device this torch can use: a name torch parses, and for ``cuda``/``mps`` one that is there.

    Examples:
        >>> check_device("cpu")
        >>> check_device("gpu")
        Traceback (most recent call last):
        ...
        sdinterp.cli_kit.checks.UsageError: --device gpu: not a device name; give cpu, cuda, cuda:N or mps
    """
    if name is None:
        return
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"{flag} {name}: not a device name; give cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(
                f"{flag} {name}: this torch sees no CUDA device (a CPU build, or no GPU); use --device cpu"
            )
        if device.index is not None and device.index >= count:
            raise UsageError(f"{flag} {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"{flag} {name}: MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"{flag} {name}: sdinterp runs models on cpu, cuda or mps, not {device.type}")


def check_flags(args: argparse.Namespace) -> None:
    """Check every shared flag ``args`` holds, before anything is loaded.

    Each check runs only for the shared flags the command has: those
    :func:`~sdinterp.cli_kit.add_flags` added (or, for a namespace built by hand, every shared name it
    holds): positive counts, ``--frames`` no more than ``--clip-length``, a ``--seed`` from 0 to
    2**32 - 1, a ``--device`` that is there, ``--workers`` >= 0, ``--bootstrap`` >= 0,
    ``--bootstrap-level`` in (0, 1), a finite ``--threshold``, writable output files, an existing
    ``--weights`` file and a usable ``--out`` folder, in that order; last, no two outputs are one
    file and none is an input (:func:`~sdinterp.cli_kit.outputs.check_run_outputs`).

    Args:
        args: the parsed command line.

    Raises:
        UsageError: the first value that cannot work, naming its flag.
        OutputPathError: two outputs that are one file, or an output that is an input.

    Examples:
        >>> import argparse
        >>> check_flags(argparse.Namespace(n_pairs=8, batch_size=4, json=None))
        >>> check_flags(argparse.Namespace(n_pairs=8, batch_size=0))
        Traceback (most recent call last):
        ...
        sdinterp.cli_kit.checks.UsageError: --batch-size must be a positive integer, got 0
    """
    kit = getattr(args, KIT_FLAGS, None)
    given = {k: v for k, v in vars(args).items() if kit is None or k in kit}
    for name in POSITIVE_FLAGS:
        check_positive(_flag(name), given.get(name))
    frames, clip_length = given.get("frames"), given.get("clip_length")
    if frames is not None and clip_length is not None and frames > clip_length:
        raise UsageError(
            f"--frames {frames} is more than --clip-length {clip_length}: a clip cannot give more frames than it "
            f"holds (frames would repeat); pass --clip-length {frames} or more, or fewer --frames"
        )
    check_seed("--seed", given.get("seed"))
    check_device(given.get("device"))
    workers, bootstrap, level = given.get("workers"), given.get("bootstrap"), given.get("bootstrap_level")
    if workers is not None and workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {workers}")
    if bootstrap is not None and bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 (off) or a number of replicates such as 100, got {bootstrap}")
    if level is not None and not 0.0 < level < 1.0:
        raise UsageError(f"--bootstrap-level must be strictly between 0 and 1 (e.g. 0.95), got {level}")
    if given.get("threshold") is not None:
        check_finite("--threshold", given["threshold"])
    for name in OUTPUT_FILE_FLAGS:
        check_output_file(_flag(name), given.get(name))
    check_weights_file(given.get("weights"))
    if given.get("out"):
        check_out_dir(given["out"])
    check_run_outputs(args, given)


def weights_provenance(weights: str | None, seed: int, model: Any = None) -> dict[str, Any]:
    """What the model's parameters are, for the report.

    A local file and its sha256; else what the model says it was loaded from (a loader that brings
    its own weights, e.g. a package's embedded checkpoint, sets ``model.sdinterp_weights =
    {"source": ..., "path": ..., "sha256": ...}``); else random initialisation with the seed that made it.

    Args:
        weights: the ``--weights`` file, or None.
        seed: the run's seed (it made a random initialisation).
        model: the loaded model, read for a declared ``sdinterp_weights``.

    Returns:
        A JSON-ready dict with at least ``source``.

    Examples:
        >>> weights_provenance(None, 3)
        {'source': 'random init', 'seed': 3}
    """
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


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")
