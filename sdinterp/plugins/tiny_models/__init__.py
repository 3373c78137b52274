"""Tiny action-recognition models trained on the synthetic videos on a CPU (issue #13, item 2).

* :mod:`.nets` — C2D-, I3D-, SlowOnly-, FastOnly- and SlowFast-like nets with canonical layers.
* :class:`TinyModelAdapter` — what :func:`sdinterp.adapt` returns for them.
* :func:`train_tiny` — the seeded CPU trainer on the generator's motion- or appearance-class data;
  :func:`save_checkpoint` / :func:`load_checkpoint`.
* :mod:`.embedded` — the committed seed-0 checkpoints and the ``tiny:ARCH-KIND`` model specs.
* The ``sdinterp train-tiny`` command (docs/tiny_models.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.tiny_models.nets import ARCHITECTURES, TinyVideoNet, build
from sdinterp.plugins.tiny_models.train import (
    TinyTask,
    accuracy,
    load_checkpoint,
    save_checkpoint,
    task_clips,
    train_tiny,
)

__all__ = [
    "ARCHITECTURES",
    "TinyVideoNet",
    "TinyTask",
    "build",
    "train_tiny",
    "task_clips",
    "accuracy",
    "save_checkpoint",
    "load_checkpoint",
    "TinyModelAdapter",
]


def __getattr__(name: str) -> Any:
    if name == "TinyModelAdapter":
        from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter

        return TinyModelAdapter
    raise AttributeError(name)


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> Any:
    """``tiny:ARCH-KIND``: the embedded seed-0 checkpoint (or ``--weights`` a train-tiny one)."""
    if not spec.startswith("tiny:"):
        return None
    import inspect

    from sdinterp.adapters.generic import GenericVideoAdapter
    from sdinterp.models import refuse_unknown_options, weights_format
    from sdinterp.plugins.tiny_models.embedded import load_spec

    # Only weights is applied here; the adapter's own options go on to ``adapt``, any other is refused
    # (trust_weights too: a train-tiny checkpoint holds only tensors and is always read weights-only).
    adapter_options = sorted(set(inspect.signature(GenericVideoAdapter).parameters) - {"model"})
    refuse_unknown_options(spec, options, ("weights",), adapter_options)
    if options.get("weights") and Path(options["weights"]).is_file():
        weights_format(options["weights"])  # text or a plain pickle: "not a weights file", unread
    return load_spec(spec, options)


_LOADER_OPTIONS = {"weights", "trust_weights"}


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> Any:
    """The tiny nets' adapter (canonical ``stageK`` / ``slow.stageK`` / ``fast.stageK`` layers)."""
    if not isinstance(model, TinyVideoNet):
        return None
    import inspect

    from sdinterp.adapters.generic import GenericVideoAdapter
    from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter

    # The generic adapter's own options (its public signature); the rest are other families'.
    accepted = set(inspect.signature(GenericVideoAdapter).parameters) - {"model"}
    ignored = sorted(k for k, v in options.items() if v is not None and k not in accepted | _LOADER_OPTIONS)
    if ignored:  # never dropped without a word (the loader applied weights and trust_weights)
        raise ValueError(
            f"option {', '.join(ignored)} does not apply to the tiny nets; they take {', '.join(sorted(accepted))}"
        )
    return TinyModelAdapter(model, **{k: v for k, v in options.items() if k in accepted})


def _register_train_tiny(sub: Any) -> None:
    from sdinterp.plugins.tiny_models.command import register

    register(sub)


def probe_clips(spec: str, n: int, seed: int = 0) -> list[Any]:
    """``n`` unseen probe videos of the task a ``tiny:ARCH-KIND`` net was trained on (generator
    seed ``3 * seed + 2``), re-renderable by the ``synthetic_restyle`` sampler (ground-truth
    dynamic pairs). Registered as the ``probe_clips`` component ``tiny``."""
    from sdinterp.plugins.tiny_models.train import TinyTask, task_clips

    arch, _, kind = spec.removeprefix("tiny:").partition("-")
    return task_clips(TinyTask(arch=arch, kind=kind, val_videos=int(n)), "probe", seed)


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_command("train-tiny", _register_train_tiny)
    registry.add("probe_clips", "tiny", lambda: probe_clips)
