"""Models, clips and named components from the shared flags, exactly as ``sdinterp report`` builds
them: every input checked as ``sdinterp scan`` checks it before any model is built, the seed set
before a random initialisation, and the samplers looked up in the registry first (so an unknown or
ambiguous name costs nothing).
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path
from typing import Any

from sdinterp.cli_kit.checks import UsageError
from sdinterp.errors import ReliabilityWarning, ShortVideoWarning

__all__ = ["adapter_options", "adapter_from_args", "scan_inputs", "clip_dataset", "load_clips", "samplers_from_args"]

#: Shared flag -> ``sdinterp.load_model``/``adapt`` option.
_ADAPTER_OPTIONS = {"frames": "num_frames", "short_side": "short_side", "crop_size": "crop_size", "weights": "weights"}


def adapter_options(args: argparse.Namespace) -> dict[str, Any]:
    """The model options the flags give (``--frames`` -> ``num_frames``, ``--short-side``,
    ``--crop-size``, ``--weights``, ``--trust-weights``); flags not given are left out.

    Examples:
        >>> import argparse
        >>> args = argparse.Namespace(frames=8, short_side=None, crop_size=112, weights=None, trust_weights=False)
        >>> adapter_options(args)
        {'num_frames': 8, 'crop_size': 112}
    """
    opts: dict[str, Any] = {}
    for flag, option in _ADAPTER_OPTIONS.items():
        value = getattr(args, flag, None)
        if value is not None:
            opts[option] = value
    if getattr(args, "trust_weights", False):
        opts["trust_weights"] = True
    return opts


def adapter_from_args(args: argparse.Namespace, spec: str | None = None) -> Any:
    """The adapter of model ``spec`` (default ``args.model``) with the size and weights flags.

    ``torch.manual_seed(args.seed)`` runs first: a random initialisation is part of the run.

    Args:
        args: the parsed command line (``seed``, the :data:`~sdinterp.cli_kit.MODEL_FLAGS` and, where
            the command has it, ``device``: the model is moved there).
        spec: a model spec other than ``args.model``.

    Returns:
        A :class:`~sdinterp.interfaces.ModelAdapter`.
    """
    import torch

    from sdinterp.adapt import adapt, load_model

    options = adapter_options(args)
    torch.manual_seed(args.seed)
    adapter = adapt(load_model(spec or args.model, **options), **options)
    _check_clip_length(adapter, args, spec or args.model)
    if getattr(args, "device", None):
        adapter.model.to(run_device(args.device))
    return adapter


def run_device(name: str) -> Any:
    """``--device`` as a ``torch.device``; under torchrun (``LOCAL_RANK`` set) a bare ``cuda`` is this
    process's GPU, ``cuda:$LOCAL_RANK``."""
    import torch

    device = torch.device(name)
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def _check_clip_length(adapter: Any, args: argparse.Namespace, spec: str) -> None:
    """A model that takes more frames than ``--clip-length`` holds would see frames repeated (the
    reference's subsampling repeats indices): refused, as ``--frames`` above ``--clip-length`` is."""
    clip_length, frames = getattr(args, "clip_length", None), getattr(adapter, "num_frames", None)
    if getattr(args, "frames", None) is not None or not isinstance(clip_length, int):
        return  # --frames was checked against --clip-length with the other flags
    if isinstance(frames, int) and not isinstance(frames, bool) and frames > clip_length:
        raise UsageError(
            f"{spec} takes {frames} frames per clip, more than --clip-length {clip_length} holds (frames would "
            f"repeat); pass --clip-length {frames} or more, or --frames {clip_length} or fewer"
        )


def _belongs(problem_path: str, entry: Any) -> bool:
    roots = [str(p) for p in entry.sources.values()] + ([str(entry.flow_dir)] if entry.flow_dir else [])
    return any(problem_path == r or problem_path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def scan_inputs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """Every input of ``args.inputs`` checked as ``sdinterp scan`` checks it, before any model is loaded.

    Videos shorter than ``--clip-length`` warn (:class:`~sdinterp.errors.ShortVideoWarning`); with
    ``--skip-bad`` the videos with errors are left out and listed, else the first is a
    :class:`UsageError`.

    Args:
        args: ``inputs``, ``clip_length`` and ``skip_bad``.

    Returns:
        (the video entries to use, the problems left out as ``"path: message"`` lines).
    """
    from sdinterp.data.scan import scan_dataset

    skip_bad = getattr(args, "skip_bad", False)
    entries, skipped = [], []
    for path in args.inputs:
        if not Path(path).exists():
            raise UsageError(f"input {path}: no such file or folder")
        # `sdinterp scan`'s own checks, with their defaults (MIN_FRAMES): the two cannot disagree.
        found, problems = scan_dataset(path, clip_length=args.clip_length)
        errors = [p for p in problems if p.severity == "error"]
        for p in problems:
            if p.kind == "short":
                warnings.warn(
                    f"{p.path}: {p.message}; --clip-length {args.clip_length}", ShortVideoWarning, stacklevel=1
                )
        if errors and not skip_bad:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise UsageError(
                f"{len(errors)} problem(s) in input {path}: {errors[0]}{more}; run `sdinterp scan {path}` to see them "
                "all, fix them, or pass --skip-bad to leave those videos out"
            )
        skipped += [f"{p.path}: {p.message}" for p in errors]
        entries += [e for e in found if not any(_belongs(p.path, e) for p in errors)]
    if skipped:
        warnings.warn(
            f"--skip-bad: {len(skipped)} problem(s) left out (listed in the report), e.g. {skipped[0]}",
            ReliabilityWarning,
            stacklevel=1,
        )
    if not entries:
        raise UsageError(
            f"no usable videos in {', '.join(args.inputs)}" + (" (every one had a problem)" if skipped else "")
        )
    return entries, skipped


def clip_dataset(args: argparse.Namespace, entries: list[Any]) -> Any:
    """The run's clips: as many windows of ``--clip-length`` frames as ``--n-pairs`` needs under
    ``--protocol``, clip ``i`` from video ``i mod len(entries)`` at a start drawn from ``--seed``.

    A stylized layout (``style_<k>`` folders) reads each clip in a random style. Fewer clips than
    videos warn (:class:`~sdinterp.errors.ReliabilityWarning`), naming the ``--n-pairs`` that uses all.

    Returns:
        A :class:`~sdinterp.data.VideoClipDataset`.
    """
    from sdinterp.data.datasets import VideoClipDataset
    from sdinterp.interfaces import PairProtocol
    from sdinterp.plugin_manager import get_registry

    n_clips = get_registry().instance("protocol", args.protocol, PairProtocol).n_clips(args.n_pairs)
    if n_clips < len(entries):
        warnings.warn(
            f"{n_clips} of the {len(entries)} videos are used: --n-pairs {args.n_pairs} needs {n_clips} clips and "
            f"clip i reads video i mod {len(entries)}; pass --n-pairs {len(entries)} or more to use every video",
            ReliabilityWarning,
            stacklevel=1,
        )
    styled = any(None not in e.sources for e in entries)
    return VideoClipDataset(
        entries, clip_length=args.clip_length, seed=args.seed, style="random" if styled else None, num_clips=n_clips
    )


def load_clips(args: argparse.Namespace, n_clips: int | None = None) -> tuple[Any, list[str]]:
    """:func:`scan_inputs` then :func:`clip_dataset`: the clips a command reads from ``args.inputs``.

    The scan's short-video warnings are given once, not again by the reader during the run.

    Args:
        args: the parsed command line.
        n_clips: a clip count instead of what ``--n-pairs`` needs (``0``: one clip per video).

    Returns:
        (the dataset, the inputs ``--skip-bad`` left out).
    """
    with warnings.catch_warnings():
        entries, skipped = scan_inputs(args)
        warnings.simplefilter("ignore", ShortVideoWarning)
        if n_clips is not None:
            args = argparse.Namespace(**{**vars(args), "n_pairs": n_clips or len(entries), "protocol": "shared-anchor"})
        return clip_dataset(args, entries), skipped


def samplers_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """The static and dynamic samplers of ``--static-sampler``, ``--dynamic-sampler`` and
    ``--restyler``, created from the registry (an unknown or ambiguous name fails here, before any work).

    Returns:
        (static sampler, dynamic sampler).
    """
    from sdinterp.plugin_manager import get_registry

    registry = get_registry()
    static = registry.create("sampler", args.static_sampler)
    restyler = getattr(args, "restyler", None)
    dynamic = registry.create("sampler", args.dynamic_sampler, **({"restyler": restyler} if restyler else {}))
    return static, dynamic
