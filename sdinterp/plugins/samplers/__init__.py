"""Built-in pair samplers, one module each and each a built-in plugin of its own (``DEFAULT_PLUGINS``):
``frame_shuffle``, ``restyle``, ``identical`` (:mod:`.basic`), ``flow_jitter`` (two-stream models,
:mod:`.flow_jitter`) and ``prestylized`` (real stylized folders, :mod:`.prestylized`)."""

from sdinterp.plugins.samplers.basic import FrameShuffle, Identical, Restyle
from sdinterp.plugins.samplers.flow_jitter import FlowJitter
from sdinterp.plugins.samplers.prestylized import PreStylized

__all__ = ["FrameShuffle", "Identical", "Restyle", "FlowJitter", "PreStylized"]
