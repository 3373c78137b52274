"""Command-line pieces shared by the bias-control commands (``ablate``, ``track``, ``shuffle-test``):
the clip and model flags of ``sdinterp report`` (read by its own helpers, imported from
:mod:`sdinterp.commands.report`), ``python:`` metric specs and JSON output."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any, Callable

from sdinterp.commands._checks import UsageError, check_output_file, check_positive
from sdinterp.commands._options import registry_choice
from sdinterp.errors import ShortVideoWarning

__all__ = ["add_clip_flags", "check_clip_flags", "load_callable", "load_clips", "load_adapter_from_args", "write_json"]


def add_clip_flags(p: argparse.ArgumentParser, n_pairs: int = 64) -> None:
    """The flags ``sdinterp report`` reads videos and builds models with (same names, same meaning)."""
    p.add_argument("--n-pairs", type=int, default=n_pairs, help=f"pairs per factor of the bias report (default: {n_pairs})")
    p.add_argument("--batch-size", type=int, default=12, help="videos per forward pass (default: 12)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice, random weights included (default: 0)")
    registry_choice(p, "--protocol", "protocol", "shared-anchor", "pair protocol")
    p.add_argument("--clip-length", type=int, default=64, help="window of consecutive frames per clip (default: 64)")
    p.add_argument("--frames", type=int, help="frames the model takes (default: the model's native count)")
    p.add_argument("--short-side", type=int, help="short-side resize in pixels (default: the model's native size)")
    p.add_argument("--crop-size", type=int, help="centre crop in pixels (default: the model's native size)")
    p.add_argument("--trust-weights", action="store_true",
                   help="allow unpickling weights files that hold more than tensors (MMEngine checkpoints); only for "
                        "files you trust (default: off)")
    p.add_argument("--skip-bad", action="store_true", help="leave out inputs `sdinterp scan` calls errors (default: off)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON (default: none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")


def check_clip_flags(args: argparse.Namespace) -> None:
    """The checks of :func:`add_clip_flags`' values, before anything is loaded."""
    for flag in ("n_pairs", "batch_size", "clip_length", "frames", "short_side", "crop_size"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    check_output_file("--json", args.json)
    weights = getattr(args, "weights", None)
    if weights and not Path(weights).is_file():
        raise UsageError(f"--weights {weights}: no such file (sdinterp never downloads weights)")


def load_callable(spec: str, flag: str, called_as: str | None = None) -> Callable[..., Any]:
    """``python:package.module:function`` -> the function (imported now, so a typo costs nothing).

    Args:
        spec: the ``python:`` spec.
        flag: the flag or setting it came from, for messages.
        called_as: e.g. ``"fn(adapter, clips)"``: the function must accept that many positional
            arguments, checked now rather than after the model has run.
    """
    if not spec.startswith("python:") or spec.count(":") < 2:
        raise UsageError(f"{flag} {spec!r}: expected python:package.module:function")
    module_name, _, attr = spec[len("python:"):].rpartition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{flag} {spec!r}: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UsageError(f"{flag} {spec!r}: {module_name!r} has no function {attr!r}")
    if called_as is not None:
        n_args = called_as.count(",") + 1
        try:
            inspect.signature(fn).bind(*([None] * n_args))
        except TypeError:
            raise UsageError(f"{flag} {spec!r}: {attr}{inspect.signature(fn)} cannot be called as {called_as}") from None
        except ValueError:  # a builtin without a signature: it will tell at call time
            pass
    return fn


def load_clips(args: argparse.Namespace, n_clips: int | None = None) -> tuple[Any, list[str]]:
    """The run's clips from ``args.inputs``, checked as ``sdinterp report`` checks them: as many as
    ``--n-pairs`` needs, or ``n_clips`` (0: one per video)."""
    from sdinterp.commands.report import _dataset, _inputs

    with warnings.catch_warnings():
        entries, skipped = _inputs(args)
        warnings.simplefilter("ignore", ShortVideoWarning)
        if n_clips is not None:
            args = argparse.Namespace(**{**vars(args), "n_pairs": n_clips or len(entries), "protocol": "shared-anchor"})
        return _dataset(args, entries), skipped


def load_adapter_from_args(args: argparse.Namespace, spec: str | None = None) -> Any:
    """The model of ``spec`` (default ``args.model``) with the size and weights flags, as ``sdinterp report``."""
    import torch

    from sdinterp.adapt import adapt, load_model
    from sdinterp.commands.report import _adapter_options

    options = _adapter_options(args)
    torch.manual_seed(args.seed)  # a random initialisation is part of the run
    return adapt(load_model(spec or args.model, **options), **options)


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        try:
            Path(path).write_text(json.dumps(payload, indent=1, default=repr))
        except OSError as exc:
            raise UsageError(f"--json {path}: cannot write ({exc.strerror or exc})") from None
