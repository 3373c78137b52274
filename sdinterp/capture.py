"""Named-layer capture: forward hooks that pool each requested activation to (B, C) on the spot.

One forward serves every requested layer. Activations are pooled inside the hook (global average
over every non-channel dim, or a token mean) so nothing bigger than (B, C) per layer is ever kept,
and the pooled copy is detached, so a model that later edits the tensor in place cannot change it.

Early exit: once every requested layer has fired as often as it needs to, the forward is stopped
(a report on ``stage2`` never pays for stages 3-5 and the head). The first forward of a capture
always runs in full, to count how often each layer runs, so a module called more than once is
still refused (or captured per ``LayerInfo.call``) exactly as without early exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sdinterp.errors import CaptureError, UnknownLayerError
from sdinterp.interfaces import LayerInfo, Pooling

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.interfaces import ModelAdapter

__all__ = ["LayerCapture", "UnknownLayerError", "CaptureError", "pool", "resolve_layers", "module_path"]


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


def resolve_layers(
    adapter: ModelAdapter, names: Iterable[str | nn.Module] | str | nn.Module | None
) -> dict[str, LayerInfo]:
    """Resolve many layers at once (``None`` = every canonical layer), failing on the first unknown.

    Layers may be canonical names, module paths, ``input:<path>`` or, as in Captum, module objects.
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
        out[key] = adapter.resolve(key)
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
                    f"layer {name!r} (module {info.module!r}) ran {calls} times in one forward; declare which "
                    f"call to capture (LayerInfo.call = 0..{calls - 1}) or 'all'"
                )
            if isinstance(info.call, int) and info.call >= calls:
                raise CaptureError(f"layer {name!r}: call {info.call} requested but the module ran {calls} times")
            pooled = self._pooled[name]
            out[name] = torch.cat(pooled, dim=1) if len(pooled) > 1 else pooled[0]
        return out
