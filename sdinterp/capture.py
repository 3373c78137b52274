"""Named-layer capture: forward hooks that pool each requested activation to (B, C) on the spot.

One forward serves every requested layer. Activations are pooled inside the hook (global average
over every non-channel dim, or a token mean) so nothing bigger than (B, C) per layer is ever kept,
and the pooled copy is detached, so a model that later edits the tensor in place cannot change it.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import torch
from torch import nn

from sdinterp.interfaces import LayerInfo, Pooling

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.interfaces import ModelAdapter

__all__ = ["LayerCapture", "UnknownLayerError", "CaptureError", "pool", "resolve_layer", "resolve_layers"]

INPUT_PREFIX = "input:"


class UnknownLayerError(KeyError):
    """A layer name that is neither canonical nor a module path; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class CaptureError(RuntimeError):
    """A captured activation that cannot be used (wrong shape, several calls, not a tensor...)."""


def _format_names(names: list[str], limit: int = 400) -> str:
    shown = names[:limit]
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def resolve_layer(adapter: "ModelAdapter", name: str) -> LayerInfo:
    """Resolve a canonical name, a raw module path or ``input:<module path>`` to a LayerInfo."""
    canonical = adapter.layers()
    if name in canonical:
        return canonical[name]
    where = "input" if name.startswith(INPUT_PREFIX) else "output"
    path = name[len(INPUT_PREFIX):] if where == "input" else name
    modules = dict(adapter.model.named_modules())
    if path in modules:
        for info in canonical.values():
            if info.module == path and info.where == where:
                return dataclasses.replace(info, name=name)
        return LayerInfo(name=name, module=path, where=where, pooling=getattr(adapter, "default_pooling", "channels_first"))
    paths = [p for p in modules if p]
    close = difflib.get_close_matches(path, list(canonical) + paths, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownLayerError(
        f"unknown layer {name!r} for the {getattr(adapter, 'family', '?')} adapter of "
        f"{type(adapter.model).__name__}.{hint}\n"
        f"Canonical layers: {_format_names(list(canonical)) or '(none)'}\n"
        f"Raw module paths are accepted too ({len(paths)}): {_format_names(paths)}\n"
        f"Prefix a module path with '{INPUT_PREFIX}' to capture that module's input instead of its output."
    )


def module_path(model: nn.Module, module: nn.Module) -> str:
    """The dotted path of ``module`` inside ``model`` (Captum passes layers as module objects)."""
    for path, m in model.named_modules():
        if m is module:
            return path
    raise UnknownLayerError(f"the {type(module).__name__} module given as a layer is not part of the model")


def resolve_layers(adapter: "ModelAdapter", names: Iterable[str | nn.Module] | str | nn.Module | None) -> dict[str, LayerInfo]:
    """Resolve many layers at once (``None`` = every canonical layer), failing on the first unknown.

    Layers may be canonical names, module paths, ``input:<path>`` or, as in Captum, module objects.
    """
    if names is None:
        return dict(adapter.layers())
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

    Hooks are removed on exit, also when the forward raises.
    """

    def __init__(self, model: nn.Module, layers: Mapping[str, LayerInfo]):
        self.model = model
        self.layers = dict(layers)
        self._handles: list[Any] = []
        self._pooled: dict[str, list[torch.Tensor]] = {}
        self._calls: dict[str, int] = {}
        self._errors: dict[str, BaseException] = {}

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
            except BaseException as exc:  # surfaced in collect() with the layer's name
                self._errors.setdefault(name, exc)

        if info.where == "input":
            def pre_hook(module: nn.Module, args: tuple) -> None:
                handle(args if info.select is not None else (args[0] if args else None))
            return pre_hook, True

        def fwd_hook(module: nn.Module, args: tuple, output: Any) -> None:
            handle(output)
        return fwd_hook, False

    def __enter__(self) -> "LayerCapture":
        try:
            for name, info in self.layers.items():
                try:
                    module = self.model.get_submodule(info.module) if info.module else self.model
                except AttributeError as exc:
                    raise UnknownLayerError(f"layer {name!r}: module path {info.module!r} does not exist in the model") from exc
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
