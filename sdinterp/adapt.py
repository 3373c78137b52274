"""Turn a user's model (or a model spec string) into a :class:`~sdinterp.interfaces.ModelAdapter`
by asking the plugins (``sdinterp_adapt`` / ``sdinterp_load_model`` hooks)."""

from __future__ import annotations

from typing import Any

from sdinterp.errors import UnsupportedModelError
from sdinterp.interfaces import ModelAdapter
from sdinterp.plugin_manager import get_plugin_manager, list_plugins

__all__ = ["adapt", "load_model", "load_adapter"]


#: Size options every adapter family takes; 0 or a negative value is refused here, once, so no family
#: can read it as "not given" and silently fall back to its native size.
_SIZE_OPTIONS = ("num_frames", "crop_size", "short_side", "size")


def _check_sizes(options: dict[str, Any]) -> None:
    for name in _SIZE_OPTIONS:
        value = options.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int,))
            and not (isinstance(value, float) and value.is_integer())
        ):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if value < 1:
            raise ValueError(
                f"{name} must be a positive integer, got {value!r} (leave it unset for the model's native size)"
            )


def _check_ready_adapter(adapter: ModelAdapter, options: dict[str, Any]) -> None:
    """An adapter is already built: size options it does not have are refused, never ignored."""
    described = adapter.describe()
    clip = described.get("clip")
    clip = clip if isinstance(clip, dict) else {}
    differ = []
    for name in ("num_frames", "crop_size", "short_side"):
        wanted = options.get(name)
        have = described.get(name, clip.get(name))
        if wanted is not None and wanted != have:
            differ.append(f"{name}={wanted} (it has {have})")
    # ``size`` (an int: a square crop, or a square two-stream frame) and ``frame_size`` ((H, W)) too
    have_size = described.get("frame_size", described.get("crop_size", clip.get("crop_size")))
    for name, wanted in (("size", options.get("size")), ("frame_size", options.get("frame_size"))):
        if wanted is None:
            continue
        want = [int(wanted), int(wanted)] if isinstance(wanted, (int, float)) else [int(v) for v in wanted]
        have = (
            [int(v) for v in have_size]
            if isinstance(have_size, (list, tuple))
            else (None if have_size is None else [int(have_size), int(have_size)])
        )
        if want != have:
            differ.append(f"{name}={wanted} (it has {have_size})")
    if differ:
        raise ValueError(
            f"a ready {type(adapter).__name__} was given, so {', '.join(differ)} cannot be applied; build the "
            "adapter with those options (e.g. in your python: factory) or leave them out"
        )


def adapt(model: Any, **options: Any) -> ModelAdapter:
    """Wrap ``model`` in the adapter of its family (first plugin to answer wins).

    Args:
        model: an ``nn.Module`` (or an adapter, returned unchanged).
        **options: adapter options (e.g. ``num_frames``, ``size``, ``mean``, ``std``).

    Raises:
        UnsupportedModelError: no plugin recognises the model (a ``TypeError``).
    """
    if isinstance(model, ModelAdapter):
        _check_ready_adapter(model, options)
        return model
    _check_sizes(options)
    adapter = get_plugin_manager().hook.sdinterp_adapt(model=model, options=dict(options))
    if adapter is None:
        raise UnsupportedModelError(
            f"no adapter plugin recognises a {type(model).__module__}.{type(model).__name__}; "
            f"loaded plugins: {', '.join(p['name'] for p in list_plugins()) or '(none)'}. "
            "Wrap it yourself with sdinterp.adapters.generic.GenericVideoAdapter or write an adapter plugin."
        )
    return adapter


def load_model(spec: str, **options: Any) -> Any:
    """Resolve a model spec (``mmaction2:CFG[:WEIGHTS]``, ``pytorchvideo:slowfast_r50``,
    ``torchvision:r3d_18``, ``python:pkg.mod:factory``) to a model or adapter via the plugins.

    Args:
        spec: the model spec.
        **options: family options, e.g. ``weights`` (a local weights file; never downloaded),
            ``trust_weights`` (allow unpickling a weights file you trust), ``num_frames``,
            ``crop_size``, ``short_side``.
    """
    _check_sizes(options)
    result = get_plugin_manager().hook.sdinterp_load_model(spec=spec, options=dict(options))
    if result is None:
        family = spec.split(":", 1)[0] if ":" in spec else spec
        broken = [p for p in list_plugins() if p["error"]]
        extra = "".join(f"; plugin {p['name']} ({p['distribution']}) failed to load: {p['error']}" for p in broken)
        raise ValueError(
            f"no plugin can load model spec {spec!r} (family {family!r}). Expected forms: "
            "mmaction2:CONFIG[:WEIGHTS], pytorchvideo:NAME, torchvision:NAME, python:module:factory" + extra
        )
    return result


def load_adapter(spec: str, **options: Any) -> ModelAdapter:
    """:func:`load_model` then :func:`adapt`."""
    return adapt(load_model(spec, **options), **options)
