"""The bias of a series of checkpoints (paper Sec. 4.3, Fig. 10): same data, pairs and seed for
every checkpoint; the pairs are drawn and the inputs prepared once (:class:`PreparedPairs`).

The step of a checkpoint is parsed from its file name as the reference's
``misc/plot_iterations.py`` does with its own names: ``epoch_12.pth``, ``iter_3000.pth``,
``checkpoint_epoch_00010.pyth``, ``model-step5.pt`` (a number after epoch/iter/iteration/step/ep/it),
else the last number of the name (``ckpt_7.pt``), else the file's position — or given as ``steps``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from sdinterp.pipeline import RunConfig, StaticDynamic
from sdinterp.plugins.tracking.prepared import PreparedPairs
from sdinterp.plugins.tracking.series import BiasSeries

__all__ = ["track_checkpoints", "find_checkpoints", "parse_step", "CHECKPOINT_SUFFIXES"]

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pyth", ".ckpt", ".bin", ".tar")
_NAMED = re.compile(r"(epoch|iteration|iter|step|ep|it)[_\-]?(\d+)", re.IGNORECASE)
_UNITS = {
    "epoch": "epoch",
    "ep": "epoch",
    "iteration": "iteration",
    "iter": "iteration",
    "it": "iteration",
    "step": "iteration",
}


def parse_step(name: str) -> tuple[int, str] | None:
    """``(step, unit)`` from a checkpoint's file name, or None if it has no number.

    Examples:
        >>> parse_step("epoch_12.pth"), parse_step("checkpoint_iter_03000.pyth"), parse_step("ckpt_7.pt")
        ((12, 'epoch'), (3000, 'iteration'), (7, 'checkpoint'))
    """
    stem = Path(name).name
    for suffix in CHECKPOINT_SUFFIXES:
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    found = _NAMED.findall(stem)
    if found:
        word, number = found[-1]
        return int(number), _UNITS[word.lower()]
    numbers = re.findall(r"\d+", stem)
    return (int(numbers[-1]), "checkpoint") if numbers else None


def find_checkpoints(source: str | os.PathLike[str] | Iterable[Any]) -> list[Any]:
    """The checkpoints of a folder (files with a checkpoint suffix, by parsed step then name) or
    the items of a list (paths or state dicts, kept in the order given)."""
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(f"checkpoints: {folder} is not a folder (give a folder or a list of files)")
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES]
        if not files:
            raise ValueError(f"checkpoints: no {'/'.join(CHECKPOINT_SUFFIXES)} files in {folder}")
        return sorted(files, key=lambda p: ((parse_step(p.name) or (float("inf"), ""))[0], p.name))
    items = list(source)
    if not items:
        raise ValueError("checkpoints: the list is empty")
    return items


def _steps(items: Sequence[Any], steps: Sequence[float] | None) -> tuple[list[float], str]:
    if steps is not None:
        if len(steps) != len(items):
            raise ValueError(f"{len(steps)} steps given for {len(items)} checkpoints")
        return [s for s in steps], "step"
    parsed = [parse_step(str(i)) if isinstance(i, (str, os.PathLike)) else None for i in items]
    found = [p for p in parsed if p is not None]
    if len(found) == len(parsed):
        units = {p[1] for p in found}
        return [p[0] for p in found], units.pop() if len(units) == 1 else "step"
    return list(range(len(items))), "checkpoint"


def _load(model: nn.Module, item: Any, strict: bool, trust_weights: bool) -> str:
    if isinstance(item, Mapping):
        model.load_state_dict(item, strict=strict)
        return "state dict"
    from sdinterp.adapters.common import load_state_dict_file

    load_state_dict_file(model, item, strict=strict, trusted=trust_weights)
    return str(item)


def track_checkpoints(
    model: Any,
    checkpoints: str | os.PathLike[str] | Iterable[Any],
    data: Any,
    layers: Any = None,
    steps: Sequence[float] | None = None,
    load: Callable[[nn.Module, Any], None] | None = None,
    strict: bool = True,
    trust_weights: bool = False,
    n_pairs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    protocol: Any = None,
    config: RunConfig | None = None,
    **sd_options: Any,
) -> BiasSeries:
    """The bias report of every checkpoint of a model, with the same data, pairs and seed.

    Args:
        model: the model (or its adapter) the checkpoints are loaded into, in turn.
        checkpoints: a folder, or a list of files or state dicts.
        data: the clips (as :meth:`StaticDynamic.attribute` takes them).
        layers: the layers to measure (default: every canonical layer).
        steps: the epoch/iteration of each checkpoint (default: parsed from the names).
        load: ``load(model, checkpoint)`` for checkpoints of another format (default: a local state
            dict file, MMEngine/SlowFast containers included, or a state dict).
        strict: strict state-dict loading.
        trust_weights: allow unpickling files that hold more than tensors (MMEngine checkpoints);
            only for files you trust.
        n_pairs, batch_size, seed, protocol: the run's options, the same for every checkpoint
            (default: those of ``config``, else RunConfig's: 64 pairs, batch 8, seed 0, shared-anchor).
        config: a :class:`~sdinterp.RunConfig` for the other run options (e.g. ``bootstrap``).
        **sd_options: :class:`~sdinterp.StaticDynamic` options (samplers, scorer, threshold, adapter options).

    Returns:
        BiasSeries: each report equals the single report of that checkpoint's weights.

    Examples:
        >>> series = track_checkpoints(model, "work_dirs/i3d", clips, layers=["stage5"])  # doctest: +SKIP
        >>> series.series("stage5")[["dynamic_%", "static_%"]]                            # doctest: +SKIP
    """
    items = find_checkpoints(checkpoints)
    step_list, unit = _steps(items, steps)
    sd = StaticDynamic(model, layers=layers, **sd_options)
    given = {"n_pairs": n_pairs, "batch_size": batch_size, "seed": seed, "protocol": protocol}
    prepared = PreparedPairs(sd, data, config, show_progress=False, **{k: v for k, v in given.items() if v is not None})
    reports, sources = [], []
    for item in items:
        if load is not None:
            load(sd.adapter.model, item)
            sources.append(str(item) if not isinstance(item, Mapping) else "state dict")
        else:
            sources.append(_load(sd.adapter.model, item, strict, trust_weights))
        reports.append(prepared.report())
    order = sorted(range(len(items)), key=lambda i: step_list[i])
    return BiasSeries(
        steps=[step_list[i] for i in order],
        unit=unit,
        reports=[reports[i] for i in order],
        sources=[sources[i] for i in order],
    )
