"""``StaticDynamicHook``: bias reports during MMEngine / MMAction2 training, every N epochs, into
the run's ``work_dir``.

Importing this module registers the hook in MMEngine's ``HOOKS`` registry; a config uses it as::

    custom_imports = dict(imports=["sdinterp.plugins.tracking.mmengine_hook"], allow_failed_imports=False)
    custom_hooks = [dict(type="StaticDynamicHook", data=["data/val_videos"], layers=["stage5"], interval=5,
                         n_pairs=64, clip_length=64, adapter_options=dict(num_frames=8, crop_size=224))]

Reports go to ``<work_dir>/sdinterp/epoch_<n>.json`` (n = completed epochs, as the checkpoints
``epoch_<n>.pth``) and the series to ``<work_dir>/sdinterp/series.json`` when training ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from sdinterp.plugins.tracking.tracker import BiasTracker

__all__ = ["StaticDynamicHook", "register_mmengine"]


def _clips(data: Any, clip_length: int, seed: int) -> Any:
    """Clips from what a config can hold: a ``python:module:function`` spec (called), video files /
    folders (a :class:`~sdinterp.data.VideoClipDataset`), or clips already in memory."""
    if isinstance(data, str) and data.startswith("python:"):
        from sdinterp.cli_kit import load_callable

        return load_callable(data, "StaticDynamicHook data")()
    if isinstance(data, (str, Path)) or (
        isinstance(data, Sequence) and data and all(isinstance(d, (str, Path)) for d in data)
    ):
        from sdinterp.data import VideoClipDataset, discover

        entries = []
        for path in [data] if isinstance(data, (str, Path)) else list(data):
            found, problems = discover(path)
            if problems:
                raise ValueError(f"StaticDynamicHook data {path}: {problems[0]} (run `sdinterp scan {path}`)")
            entries += found
        styled = any(None not in e.sources for e in entries)
        return VideoClipDataset(entries, clip_length=clip_length, seed=seed, style="random" if styled else None)
    return data


class StaticDynamicHook(Hook):
    """Records a :class:`~sdinterp.BiasReport` of the model every ``interval`` epochs.

    Args:
        data: the clips: a ``python:module:function`` spec, video files/folders, or clips in memory.
        layers: the layers (default: every canonical layer of the model's adapter).
        interval: report every this many epochs.
        out_dir: folder under the run's ``work_dir`` (default ``"sdinterp"``).
        clip_length: frames per clip when ``data`` names videos.
        adapter_options: options of :func:`sdinterp.adapt` (``num_frames``, ``crop_size``…).
        at_start: also record a report before the first epoch (``epoch_0.json``).
        n_pairs, batch_size, seed: the run's options, the same for every report.
        **sd_options: :class:`~sdinterp.StaticDynamic` options (``static_sampler``, ``scorer``…).
    """

    priority = "LOW"

    def __init__(
        self,
        data: Any,
        layers: Any = None,
        interval: int = 1,
        out_dir: str = "sdinterp",
        clip_length: int = 64,
        adapter_options: dict | None = None,
        at_start: bool = False,
        n_pairs: int = 64,
        batch_size: int = 8,
        seed: int = 0,
        **sd_options: Any,
    ):
        self.data, self.clip_length, self.out_dir = data, int(clip_length), out_dir
        self.options = dict(
            layers=layers,
            every=interval,
            adapter_options=adapter_options,
            at_start=at_start,
            n_pairs=n_pairs,
            batch_size=batch_size,
            seed=seed,
            **sd_options,
        )
        self.tracker: BiasTracker | None = None

    @staticmethod
    def _model(runner: Any) -> Any:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner: Any) -> None:
        clips = _clips(self.data, self.clip_length, int(self.options["seed"]))
        self.tracker = BiasTracker(clips, out_dir=Path(runner.work_dir) / self.out_dir, **self.options)
        self.tracker.before_train(self._model(runner))

    def after_train_epoch(self, runner: Any) -> None:
        # runner.epoch is the epoch just finished, from 0 (CheckpointHook saves epoch_{epoch + 1}).
        assert self.tracker is not None
        self.tracker.after_epoch(self._model(runner), runner.epoch)

    def after_train(self, runner: Any) -> None:
        if self.tracker is not None:
            self.tracker.after_train(self._model(runner))


def register_mmengine() -> None:
    """Register StaticDynamicHook in MMEngine's HOOKS registry; idempotent."""
    if "StaticDynamicHook" not in HOOKS.module_dict:
        HOOKS.register_module(name="StaticDynamicHook", module=StaticDynamicHook)


register_mmengine()
