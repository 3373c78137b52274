"""The adapter of the tiny nets: the generic clip preprocessing, and only the canonical layers
(``stageK``, ``slow.stageK``, ``fast.stageK``) instead of every module that runs."""

from __future__ import annotations

from typing import Any

import numpy as np

from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.interfaces import LayerInfo, Sample
from sdinterp.plugins.tiny_models.nets import TinyVideoNet

__all__ = ["TinyModelAdapter"]


class TinyModelAdapter(GenericVideoAdapter):
    """Adapter of a :class:`~sdinterp.plugins.tiny_models.nets.TinyVideoNet`.

    Args:
        model: the tiny net.
        **options: :class:`~sdinterp.adapters.generic.GenericVideoAdapter` options (the defaults
            are the ones the trainer uses: all frames, no resize, mean 0.45, std 0.225).

    Examples:
        >>> from sdinterp.plugins.tiny_models.nets import build
        >>> list(TinyModelAdapter(build("i3d")).layers())
        ['stage1', 'stage2', 'stage3']
    """

    family = "tiny_models"
    model: TinyVideoNet

    def __init__(self, model: TinyVideoNet, **options: Any):
        super().__init__(model, **options)

    def layers(self) -> dict[str, LayerInfo]:
        every = super().layers()
        # The pathway streams say which pathway a layer is in (the report groups by stream).
        return {
            name: LayerInfo(
                name=name,
                module=name,
                channels=every[name].channels,
                stream=name.split(".")[0] if "." in name else "rgb",
                pooling=every[name].pooling,
            )
            for name in self.model.canonical_layers
        }

    def probe_samples(self) -> list[Sample]:
        """Two random clips of the size and length the net was built for."""
        rng = np.random.default_rng(0)
        shape = (self.num_frames or self.model.frames, self.model.size, self.model.size, 3)
        return [Sample(frames=rng.integers(0, 256, shape, dtype=np.uint8), video_id=f"probe{i}") for i in range(2)]
