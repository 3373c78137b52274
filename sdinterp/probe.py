"""The one probe forward every adapter family uses to learn what its model does.

Two questions are answered by running the model once on a small input, never by trusting module
names (a TANet's last registered submodule is a temporal Conv1d, so "the last conv's width" gave 64
for a 2048-channel stage):

* **Which modules run, how often, in which order, with which output shapes and layouts?**
  :func:`trace` (a module called more than once, e.g. a shared ``relu``, is counted; its later
  calls are named ``NAME@k`` by :func:`sdinterp.capture.split_call`).
* **How wide is each layer, as the report will see it?** :func:`probe_widths` runs the forward
  through the same :class:`~sdinterp.capture.LayerCapture` a report uses (same selection, same
  pooling), so the declared channels are exactly what the estimator receives; ``stop_after`` ends
  the forward after a given module (a large model's head need not run) and hands back that
  module's output.

Both put the model in eval mode for the forward (and restore its mode) and run under
``torch.inference_mode``. The caller builds the input; a failing forward propagates its exception,
which the adapter turns into a one-line refusal naming the model.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> from sdinterp.interfaces import LayerInfo
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3))
    >>> x = torch.zeros(1, 3, 8, 8)
    >>> sorted(trace(net, lambda: net(x)))
    ['0', '1', '2']
    >>> probe_widths(net, {"c2": LayerInfo("c2", "2", None, "rgb")}, lambda: net(x)).widths
    {'c2': 6}
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from sdinterp.capture import LayerCapture, pool
from sdinterp.interfaces import LayerInfo, Pooling

__all__ = [
    "Trace",
    "Probe",
    "trace",
    "probe_widths",
    "tolerant_pooling",
    "evaluating",
    "CHANNELS_FIRST",
    "CHANNELS_LAST",
    "TRACED_CALLS",
]


#: Calls of one module whose output shape :func:`trace` keeps (a per-sample model runs a module once
#: per clip: its count is kept, not every shape).
TRACED_CALLS = 16

#: Output layouts :func:`trace` tells apart: channels on axis 1 (B, C, ...) or on the last axis
#: (B, ..., C: a transformer's tokens, Swin's channels-last maps).
CHANNELS_FIRST, CHANNELS_LAST = "channels_first", "channels_last"

# Modules whose output layout is fixed by what they compute: a Linear or a LayerNorm acts on the
# last axis, a convolution, a batch/group norm or a pooling on axis 1.
_LAST_AXIS_MODULES: tuple[type[nn.Module], ...] = (nn.Linear, nn.LayerNorm, nn.Embedding)
_FIRST_AXIS_MODULES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
)


@dataclasses.dataclass(frozen=True)
class Trace:
    """One module's first call in a probe forward.

    Attributes:
        path: dotted path inside the traced root.
        order: position of the call's *end* among all calls (children end before parents).
        shape: shape of the output tensor (the first tensor of a tuple/list output), or ``None``.
        tensor_output: whether the output itself is a floating-point tensor (not a tuple, a list or
            an integer tensor).
        calls: how many times the module ran in the forward (more than one: a shared module such as
            one ``relu`` applied after several layers).
        layout: where the output's channels are: :data:`CHANNELS_FIRST` (B, C, ...),
            :data:`CHANNELS_LAST` (B, ..., C) or ``None`` when it cannot be told (see :func:`trace`).
        outputs: ``(shape, layout)`` of each of the first :data:`TRACED_CALLS` calls (a shared
            module may be applied to outputs of other widths or layouts).
    """

    path: str
    order: int
    shape: tuple[int, ...] | None
    tensor_output: bool = False
    calls: int = 1
    layout: str | None = None
    outputs: tuple[tuple[tuple[int, ...] | None, str | None], ...] = ()


@dataclasses.dataclass(frozen=True)
class Probe:
    """What :func:`probe_widths` saw.

    Attributes:
        widths: pooled width of every layer (``None`` where a :func:`tolerant_pooling` could not pool).
        stopped_output: the output of the ``stop_after`` module (``None`` without one).
    """

    widths: dict[str, int | None]
    stopped_output: Any = None


class _ProbeDone(Exception):
    """Raised by the ``stop_after`` hook: the probe has what it needs."""


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """``model.eval()`` for the block, then its previous mode again."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _layout(module: nn.Module, shape: tuple[int, ...], recent: Mapping[tuple[int, ...], str]) -> str | None:
    """Where the channels of ``module``'s output of ``shape`` are.

    (B, C) has only one place. A Linear, a LayerNorm (last axis) or a convolution, a batch/group norm,
    a pooling (axis 1) say it themselves. Anything else (an activation, a dropout, a residual block,
    a container) keeps the layout of the latest output of the same shape: its input, or the last
    module that ran inside it. With no such output, a map of four or more dims is taken as
    channels-first (convolutional); a (B, N, C)-like output stays unknown rather than guessed, since
    reading it the wrong way gives token counts as widths.
    """
    if len(shape) <= 2:
        return CHANNELS_FIRST
    if isinstance(module, _LAST_AXIS_MODULES):
        return CHANNELS_LAST
    if isinstance(module, _FIRST_AXIS_MODULES):
        return CHANNELS_FIRST
    if shape in recent:
        return recent[shape]
    return CHANNELS_FIRST if len(shape) >= 4 else None


def trace(root: nn.Module, run: Callable[[], Any]) -> dict[str, Trace]:
    """The modules of ``root`` (not ``root`` itself) that ran during ``run()``: their first call's
    output shape and layout, and how many times each ran.

    Only shapes are kept, never activations, so tracing a large model costs one forward and no
    memory beyond it. ``run`` is called as given (no eval mode or inference mode is set here: the
    callers' probes do that around it).
    """
    names = {m: n for n, m in root.named_modules() if n}
    seen: dict[str, Trace] = {}
    calls: dict[str, int] = {}
    outputs: dict[str, list[tuple[tuple[int, ...] | None, str | None]]] = {}
    recent: dict[tuple[int, ...], str] = {}  # output shape -> layout of the latest call that gave it
    counter = [0]

    def record(module: nn.Module, _args: Any, output: Any) -> None:
        name = names[module]
        counter[0] += 1
        calls[name] = calls.get(name, 0) + 1
        t = _first_tensor(output)
        shape = tuple(t.shape) if t is not None else None
        layout = _layout(module, shape, recent) if shape is not None else None
        if shape is not None and layout is not None:
            recent[shape] = layout
        if calls[name] <= TRACED_CALLS:
            outputs.setdefault(name, []).append((shape, layout))
        if name not in seen:
            floating = isinstance(output, torch.Tensor) and output.is_floating_point()
            seen[name] = Trace(name, counter[0], shape, floating, layout=layout)

    handles = [m.register_forward_hook(record) for m in names]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return {n: dataclasses.replace(t, calls=calls[n], outputs=tuple(outputs[n])) for n, t in seen.items()}


def tolerant_pooling(pooling: Pooling, layer: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """``pooling`` that gives a (B, 0) tensor instead of raising: a probe of every module (the
    generic adapter's) reports such a layer's width as ``None`` rather than failing."""

    def reduce(x: torch.Tensor) -> torch.Tensor:
        try:
            return pool(x, pooling, layer)
        except Exception:  # noqa: BLE001 - a layer that does not pool this way has no width yet
            return x.new_zeros((x.shape[0] if x.dim() else 1, 0), dtype=torch.float32)

    return reduce


def probe_widths(
    model: nn.Module, layers: Mapping[str, LayerInfo], run: Callable[[], Any], stop_after: str | None = None
) -> Probe:
    """Pooled width of every layer in one forward, read through the report's own capture path.

    Args:
        model: the network (put in eval mode for the forward).
        layers: the layers to measure.
        run: one forward of the model on a probe input.
        stop_after: a module path; the forward stops once it has run, and its output is returned
            as :attr:`Probe.stopped_output`.

    Returns:
        A :class:`Probe`.

    Raises:
        whatever the forward or the capture raises (the caller turns it into a one-line refusal).
    """
    stopped: list[Any] = []

    def stop(_module: nn.Module, _args: Any, output: Any) -> None:
        stopped.append(output)
        raise _ProbeDone

    with evaluating(model), torch.inference_mode(), LayerCapture(model, layers, early_exit=False) as cap:
        handle = model.get_submodule(stop_after).register_forward_hook(stop) if stop_after is not None else None
        try:
            cap.run(run)
        except _ProbeDone:
            pass
        finally:
            if handle is not None:
                handle.remove()
        widths = {name: (int(z.shape[1]) or None) for name, z in cap.collect().items()}
    return Probe(widths, stopped[0] if stopped else None)
