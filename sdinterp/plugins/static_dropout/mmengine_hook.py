"""StaticDropout in MMEngine / MMAction2 training.

Importing this module registers ``StaticDropout`` in MMEngine's ``MODELS`` registry and
``StaticDropoutHook`` in its ``HOOKS`` registry (MMAction2's registries find both through their
parent). A config then puts StaticDropout in place of the head's dropout::

    custom_imports = dict(imports=["sdinterp.plugins.static_dropout.mmengine_hook"], allow_failed_imports=False)
    custom_hooks = [dict(type="StaticDropoutHook", replace="cls_head.dropout",
                         dropout=dict(type="StaticDropout", rate=0.3, every=30))]

Before training the hook builds the dropout from the ``MODELS`` registry and sets it at ``replace``
(a dotted module path; MMAction2 heads build their own ``nn.Dropout``, so it is swapped in rather
than named in the head's config). Before every iteration it hands the batch, after the model's data
preprocessor and frame-shuffled along T, to :class:`~sdinterp.plugins.static_dropout.StaticDropoutFeeder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, MODELS
from torch import nn

from sdinterp.plugins.static_dropout.feeder import StaticDropoutFeeder, find_static_dropouts
from sdinterp.plugins.static_dropout.module import StaticDropout

__all__ = ["StaticDropoutHook", "register_mmengine", "recognizer_forward"]


def recognizer_forward(model: nn.Module, inputs: Any) -> Any:
    """Run an MMAction2 recognizer through its head (``extract_feat(stage="head")``), else ``model(inputs)``."""
    extract = getattr(model, "extract_feat", None)
    if extract is not None:
        return extract(inputs, stage="head")
    return model(inputs)


class StaticDropoutHook(Hook):
    """Puts StaticDropout in an MMEngine model and feeds it the frame-shuffled partner of each batch.

    Args:
        replace: dotted module path(s) to replace by a new StaticDropout (``"cls_head.dropout"`` for
            MMAction2 heads); ``None`` uses the StaticDropout modules the model already has.
        dropout: the StaticDropout config, built from ``MODELS`` (default ``dict(type="StaticDropout")``).
        time_dim: the frame axis of the preprocessed inputs (-3: MMAction2's 3-D (B, views, C, T, H, W);
            1 for 2-D recognizers' (B, T, C, H, W)).
        seed: seed of the frame permutations.
    """

    priority = "NORMAL"

    def __init__(
        self,
        replace: str | Sequence[str] | None = "cls_head.dropout",
        dropout: dict | None = None,
        time_dim: int = -3,
        seed: int = 0,
    ):
        self.replace = [replace] if isinstance(replace, str) else list(replace or [])
        self.dropout = dict(dropout or {"type": "StaticDropout"})
        self.feeder = StaticDropoutFeeder(forward=recognizer_forward, time_dim=time_dim, seed=seed)

    @staticmethod
    def _model(runner: Any) -> Any:  # an MMEngine BaseModel (untyped): its data_preprocessor is called
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner: Any) -> None:
        model = self._model(runner)
        for path in self.replace:
            parent_path, _, name = path.rpartition(".")
            try:
                parent = model.get_submodule(parent_path) if parent_path else model
                getattr(parent, name)
            except AttributeError:
                raise ValueError(f"StaticDropoutHook: the model has no module {path!r} to replace") from None
            setattr(parent, name, MODELS.build(dict(self.dropout)))
        if not find_static_dropouts(model):
            raise ValueError("StaticDropoutHook: the model has no StaticDropout; set replace= to the dropout to swap")

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        model = self._model(runner)
        if not any(d.wants_pairs(runner.iter) for d in find_static_dropouts(model)):
            self.feeder.before_iteration(model, runner.iter, None)  # refresh only
            return
        inputs = model.data_preprocessor(data_batch, False)["inputs"]
        self.feeder.before_iteration(model, runner.iter, inputs)


def register_mmengine() -> None:
    """Register StaticDropout (MODELS) and StaticDropoutHook (HOOKS) with MMEngine; idempotent."""
    if "StaticDropout" not in MODELS.module_dict:
        MODELS.register_module(name="StaticDropout", module=StaticDropout)
    if "StaticDropoutHook" not in HOOKS.module_dict:
        HOOKS.register_module(name="StaticDropoutHook", module=StaticDropoutHook)


register_mmengine()
