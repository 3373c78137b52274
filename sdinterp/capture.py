"""Named-layer capture: forward hooks that pool each requested activation to (B, C) on the spot.

One forward serves every requested layer. Activations are pooled inside the hook (global average
over every non-channel dim, or a token mean) so nothing bigger than (B, C) per layer is ever kept,
and the pooled copy is detached, so a model that later edits the tensor in place cannot change it.

Early exit: once every requested layer has fired as often as it needs to, the forward is stopped
(a report on ``stage2`` never pays for stages 3-5 and the head). The first forward of a capture
always runs in full, to count how often each layer runs, so a module called more than once is
still refused (or captured per ``LayerInfo.call``) exactly as without early exit.

A module that runs more than once per forward (a shared ``relu`` after each layer) is named with
the call to capture: ``NAME@k`` is its call ``k``, counted from 0 (``relu@2`` is the third call),
and ``NAME@all`` concatenates every call; the same names work on the command line
(``--layers relu@2``) and in the API (:func:`resolve_layer`, :func:`resolve_layers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from sdinterp.errors import CaptureError, UnknownLayerError
from sdinterp.interfaces import LayerInfo, Pooling

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.interfaces import ModelAdapter

__all__ = [
    "LayerCapture",
    "UnknownLayerError",
    "CaptureError",
    "pool",
    "resolve_layer",
    "resolve_layers",
    "module_path",
    "split_call",
    "CALL_SEP",
]

#: Separates a layer name from the call to capture: ``relu@2`` is the third call of ``relu`` (0-based).
CALL_SEP = "@"


class _ForwardDone(Exception):
    """Raised from a hook once every requested layer has fired, to stop the rest of the forward.

    Deliberately not an ``SdinterpError``: it never leaves :meth:`LayerCapture.run`.
    """


def module_path(model: nn.Module, module: nn.Module) -> str:
    """The dotted path of ``module`` inside ``model`` (Captum passes layers as module objects)."""
    for path, m in model.named_modules():
        if m is module:
            return path
    raise UnknownLayerError(f"the {type(module).__name__} module given as a layer is not part of the model")


def split_call(name: str) -> tuple[str, int | Literal["all"] | None]:
    """``"relu@2"`` -> ``("relu", 2)``, ``"relu@all"`` -> ``("relu", "all")``, ``"relu"`` -> ``("relu", None)``.

    Calls are counted from 0 in the order the module runs within one forward.

    Raises:
        UnknownLayerError: something after ``@`` that is neither a call index nor ``all``.

    Examples:
        >>> split_call("relu@2"), split_call("layer1.0.relu@all"), split_call("stage3")
        (('relu', 2), ('layer1.0.relu', 'all'), ('stage3', None))
    """
    base, sep, tail = name.rpartition(CALL_SEP)
    if not sep or not base:
        return name, None
    if tail == "all":
        return base, "all"
    if tail.isdigit():
        return base, int(tail)
    raise UnknownLayerError(
        f"layer {name!r}: after '{CALL_SEP}' give the call to capture, counted from 0 "
        f"({base}{CALL_SEP}0 is the first call) or 'all'"
    )


def call_advice(name: str, calls: int) -> str:
    """How to name one call of a layer that runs ``calls`` times, on the command line and in the API.

    Examples:
        >>> print(call_advice("relu", 2))  # doctest: +NORMALIZE_WHITESPACE
        name the call to capture, counted from 0: relu@0 .. relu@1 (--layers relu@1 on the command line,
        LayerInfo.call=1 in the API), or relu@all for every call concatenated
    """
    last = f"{name}{CALL_SEP}{calls - 1}"
    return (
        f"name the call to capture, counted from 0: {name}{CALL_SEP}0 .. {last} (--layers {last} on the command "
        f"line, LayerInfo.call={calls - 1} in the API), or {name}{CALL_SEP}all for every call concatenated"
    )


def resolve_layer(adapter: ModelAdapter, name: str) -> LayerInfo:
    """One layer by name: ``adapter.resolve(name)``, also for ``NAME@k`` (call ``k`` of a module that
    runs more than once per forward, 0-based) and ``NAME@all`` (every call, concatenated).

    An adapter whose probe counted its modules' calls says so with a ``module_calls()`` method
    (``{module path: calls in one forward}``) and resolves ``NAME@k`` itself, with each call's width
    (the generic adapter does); a layer of a module that runs more than once, named without a call,
    is then refused here, before any forward. For any other adapter the name before ``@`` is
    resolved and its call replaced; the width is then read from the first forward.

    Raises:
        UnknownLayerError: the name (or the one before ``@``) is not a layer of the adapter, a call
            the module does not make, or a module that runs more than once named without a call.
    """
    counted = getattr(adapter, "module_calls", None)
    if CALL_SEP not in name:
        info = adapter.resolve(name)
        calls = counted().get(info.module, 1) if callable(counted) else 1
        if info.call is None and calls > 1:
            raise UnknownLayerError(f"layer {name!r} runs {calls} times in one forward; " + call_advice(name, calls))
        return info
    if callable(counted):
        return adapter.resolve(name)
    try:
        return adapter.resolve(name)
    except UnknownLayerError:
        base, call = split_call(name)  # a tail that is no call says so here
    if call is None:  # "@" with nothing before it: not a call, and not a layer either
        return adapter.resolve(name)
    info = adapter.resolve(base)
    same_call = call == info.call or (call == 0 and info.call is None)
    return dataclasses.replace(info, name=name, call=call, channels=info.channels if same_call else None)


def resolve_layers(
    adapter: ModelAdapter, names: Iterable[str | nn.Module] | str | nn.Module | None
) -> dict[str, LayerInfo]:
    """Resolve many layers at once (``None`` = every canonical layer), failing on the first unknown.

    Layers may be canonical names, module paths, ``input:<path>``, any of these with ``@k`` (call
    ``k`` of a module that runs more than once, 0-based) or ``@all``, or, as in Captum, module objects.
    """
    if names is None:
        layers = dict(adapter.layers())
        if not layers:
            raise UnknownLayerError(
                f"{type(adapter).__name__} lists no layers for {type(adapter.model).__name__} (no submodule of it runs "
                "in a forward); name the layers to measure: raw module paths, or input:<path> for a module's input"
            )
        return layers
    if isinstance(names, (str, nn.Module)):
        names = [names]
    out: dict[str, LayerInfo] = {}
    for name in names:
        key = module_path(adapter.model, name) if isinstance(name, nn.Module) else name
        out[key] = resolve_layer(adapter, key)
    if not out:
        raise ValueError("no layers requested")
    return out


def pool(x: torch.Tensor, pooling: Pooling, layer: str = "?") -> torch.Tensor:
    """Reduce a captured activation to a detached float (B, C) tensor."""
    if callable(pooling):
        out = pooling(x)
    elif pooling == "channels_first":
        if x.dim() < 2:
            raise CaptureError(f"layer {layer!r}: expected (B, C, ...) activations, got shape {tuple(x.shape)}")
        out = x.float().mean(dim=tuple(range(2, x.dim()))) if x.dim() > 2 else x.float()
    elif pooling == "tokens":
        if x.dim() != 3:
            raise CaptureError(f"layer {layer!r}: 'tokens' pooling expects (B, L, C), got {tuple(x.shape)}")
        out = x.float().mean(dim=1)
    elif pooling == "tokens_seq_first":
        if x.dim() != 3:
            raise CaptureError(f"layer {layer!r}: 'tokens_seq_first' pooling expects (L, B, C), got {tuple(x.shape)}")
        out = x.float().mean(dim=0)
    elif pooling == "flat":
        if x.dim() != 2:
            raise CaptureError(f"layer {layer!r}: 'flat' pooling expects (B, C), got {tuple(x.shape)}")
        out = x.float()
    else:
        raise ValueError(f"layer {layer!r}: unknown pooling {pooling!r}")
    if out.dim() != 2:
        raise CaptureError(f"layer {layer!r}: pooling gave shape {tuple(out.shape)}, expected (B, C)")
    # detach + clone: the pooled copy must not alias memory the model may later modify in place.
    return out.detach().clone() if out.data_ptr() == x.data_ptr() else out.detach()


def _select(value: Any, select: Any, layer: str) -> torch.Tensor:
    if select is not None:
        value = select(value) if callable(select) else value[select]
    if not isinstance(value, torch.Tensor):
        kind = type(value).__name__
        raise CaptureError(
            f"layer {layer!r} produced a {kind}, not a tensor; declare LayerInfo.select "
            f"(an index, a key or a function) to pick the tensor to analyse"
        )
    return value


class LayerCapture:
    """Context manager that hooks the requested layers of ``model`` and collects pooled features.

    Example::

        with LayerCapture(model, {"stage3": info}) as cap:
            model(x)
        feats = cap.collect()   # {"stage3": (B, C) tensor}

    Hooks are removed on exit, also when the forward raises. Run forwards through :meth:`run` to
    stop each one as soon as every requested layer has fired (``early_exit=True``).

    Args:
        model: the network.
        layers: layer name -> LayerInfo.
        early_exit: stop forwards run through :meth:`run` once every layer has been captured.
    """

    def __init__(self, model: nn.Module, layers: Mapping[str, LayerInfo], early_exit: bool = True):
        self.model = model
        self.layers = dict(layers)
        self.early_exit = bool(early_exit)
        self._handles: list[Any] = []
        self._pooled: dict[str, list[torch.Tensor]] = {}
        self._calls: dict[str, int] = {}
        self._errors: dict[str, BaseException] = {}
        # Calls each layer needs before the forward may stop; learnt from the first full forward.
        self._needed: dict[str, int] | None = None
        self._stopping = False
        #: Forwards stopped early so far (for benchmarks and tests).
        self.stopped_forwards = 0

    def _hook_for(self, name: str, info: LayerInfo):
        def handle(value: Any) -> None:
            index = self._calls.get(name, 0)
            self._calls[name] = index + 1
            wanted = info.call
            if isinstance(wanted, int) and index != wanted:
                return
            if wanted is None and index > 0:
                return  # reported in collect(): the module ran more than once
            try:
                self._pooled.setdefault(name, []).append(pool(_select(value, info.select, name), info.pooling, name))
            except BaseException as exc:  # noqa: BLE001 - surfaced in collect() with the layer's name
                self._errors.setdefault(name, exc)
            if self._stopping and self._complete():
                raise _ForwardDone

        if info.where == "input":

            def pre_hook(module: nn.Module, args: tuple) -> None:
                handle(args if info.select is not None else (args[0] if args else None))

            return pre_hook, True

        def fwd_hook(module: nn.Module, args: tuple, output: Any) -> None:
            handle(output)

        return fwd_hook, False

    def __enter__(self) -> LayerCapture:
        try:
            for name, info in self.layers.items():
                try:
                    module = self.model.get_submodule(info.module) if info.module else self.model
                except AttributeError as exc:
                    raise UnknownLayerError(
                        f"layer {name!r}: module path {info.module!r} does not exist in the model"
                    ) from exc
                hook, is_pre = self._hook_for(name, info)
                if is_pre:
                    self._handles.append(module.register_forward_pre_hook(hook))
                else:
                    self._handles.append(module.register_forward_hook(hook))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget collected features (call before each forward when reusing the context)."""
        self._pooled.clear()
        self._calls.clear()
        self._errors.clear()

    def _complete(self) -> bool:
        needed = self._needed or {}
        return all(self._calls.get(name, 0) >= n for name, n in needed.items())

    def run(self, forward: Callable[[], Any]) -> None:
        """Run ``forward()`` (one model forward) with the hooks in place, stopping it early once
        every layer has been captured; then :meth:`collect` the features.

        The output of the model is not returned: an early-stopped forward has none.
        """
        self.reset()
        self._stopping = self.early_exit and self._needed is not None
        try:
            forward()
        except _ForwardDone:
            self.stopped_forwards += 1
        finally:
            self._stopping = False
        if self._needed is None and not self._errors:
            # The first forward ran in full: learn how many calls each layer needs (an int call
            # index k needs k + 1 calls, 'all' every call seen, a single call one).
            needed = {}
            for name, info in self.layers.items():
                seen = self._calls.get(name, 0)
                needed[name] = info.call + 1 if isinstance(info.call, int) else (seen if info.call == "all" else 1)
            self._needed = needed

    def collect(self) -> dict[str, torch.Tensor]:
        """Pooled (B, C) features of the last forward, keyed by layer name."""
        out: dict[str, torch.Tensor] = {}
        for name, info in self.layers.items():
            if name in self._errors:
                raise self._errors[name]
            calls = self._calls.get(name, 0)
            if calls == 0:
                raise CaptureError(f"layer {name!r} (module {info.module!r}) did not run in the forward pass")
            if info.call is None and calls > 1:
                raise CaptureError(
                    f"layer {name!r} (module {info.module!r}) ran {calls} times in one forward; "
                    + call_advice(name, calls)
                )
            if isinstance(info.call, int) and info.call >= calls:
                base = split_call(name)[0] if CALL_SEP in name else name
                raise CaptureError(
                    f"layer {name!r}: call {info.call} requested but module {info.module!r} ran {calls} times in one "
                    f"forward; calls are counted from 0: {base}{CALL_SEP}0 .. {base}{CALL_SEP}{calls - 1}"
                )
            pooled = self._pooled[name]
            out[name] = torch.cat(pooled, dim=1) if len(pooled) > 1 else pooled[0]
        return out
