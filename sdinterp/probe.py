"""The one probe forward every adapter family uses to learn what its model does.

Two questions are answered by running the model once on a small input, never by trusting module
names (a TANet's last registered submodule is a temporal Conv1d, so "the last conv's width" gave 64
for a 2048-channel stage):

* **Which modules run, in which order, with which output shapes?** :func:`trace`.
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

__all__ = ["Trace", "Probe", "trace", "probe_widths", "tolerant_pooling", "evaluating"]


@dataclasses.dataclass(frozen=True)
class Trace:
    """One module's first call in a probe forward.

    Attributes:
        path: dotted path inside the traced root.
        order: position of the call's *end* among all calls (children end before parents).
        shape: shape of the output tensor (the first tensor of a tuple/list output), or ``None``.
        tensor_output: whether the output itself is a floating-point tensor (not a tuple, a list or
            an integer tensor).
    """

    path: str
    order: int
    shape: tuple[int, ...] | None
    tensor_output: bool = False


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


def trace(root: nn.Module, run: Callable[[], Any]) -> dict[str, Trace]:
    """The modules of ``root`` (not ``root`` itself) that ran during ``run()``, with their output shapes.

    Only shapes are kept, never activations, so tracing a large model costs one forward and no
    memory beyond it. ``run`` is called as given (no eval mode or inference mode is set here: the
    callers' probes do that around it).
    """
    names = {m: n for n, m in root.named_modules() if n}
    seen: dict[str, Trace] = {}
    counter = [0]

    def record(module: nn.Module, _args: Any, output: Any) -> None:
        name = names[module]
        counter[0] += 1
        if name not in seen:
            t = _first_tensor(output)
            floating = isinstance(output, torch.Tensor) and output.is_floating_point()
            seen[name] = Trace(name, counter[0], tuple(t.shape) if t is not None else None, floating)

    handles = [m.register_forward_hook(record) for m in names]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return seen


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
