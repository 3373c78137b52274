"""Plugin hook specifications (pluggy project name ``sdinterp``).

Every built-in adapter, sampler and scorer implements these same hooks, as a third-party package
does; the built-ins are registered in code (``sdinterp.plugin_manager.DEFAULT_PLUGINS``), third-party
plugins through the ``sdinterp`` entry-point group. Each kind of extension has one way in: model
objects -> :func:`sdinterp_adapt`, model specs -> :func:`sdinterp_load_model`, every named
component -> :func:`sdinterp_register` (docs/plugins.md). Each hook below is documented;
``tests/test_plugins.py`` fails if one is not.

A plugin is any module or object with functions decorated by :data:`hookimpl`::

    # my_package/sdinterp_plugin.py
    from sdinterp import hookimpl

    @hookimpl
    def sdinterp_register(registry):
        registry.add_sampler("my_sampler", MySampler)

and one line in the plugin distribution's ``pyproject.toml``::

    [project.entry-points.sdinterp]
    my_package = "my_package.sdinterp_plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from sdinterp.interfaces import ModelAdapter
    from sdinterp.registry import Registry

PROJECT = "sdinterp"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    """Wrap a model object in a :class:`~sdinterp.interfaces.ModelAdapter`.

    Called by :func:`sdinterp.adapt` for any object that is not already an adapter. Return an adapter
    if this plugin recognises the model (e.g. by its class or package), otherwise ``None`` so the next
    plugin is asked. The first non-``None`` answer wins; the generic adapter answers last.

    Args:
        model: the user's model object (usually an ``nn.Module``).
        options: keyword options the user passed to ``adapt`` (e.g. ``num_frames``, ``size``).
    """


@hookspec(firstresult=True)
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> nn.Module | ModelAdapter | None:
    """Resolve a command-line model spec to a model (or directly to an adapter).

    Specs look like ``family:rest``, e.g. ``mmaction2:CONFIG[:WEIGHTS]``,
    ``pytorchvideo:slowfast_r50``, ``torchvision:r3d_18`` or ``python:pkg.mod:factory``. Return
    ``None`` for specs of other families. Loading must never download anything.

    Args:
        spec: the spec string as typed by the user.
        options: extra keyword options (e.g. ``weights``, ``trust_weights``, ``num_frames``).
    """


@hookspec
def sdinterp_register(registry: Registry) -> None:
    """Add named components to the registry: samplers, restylers, scorers, pair protocols, or any other kind.

    Called once per plugin when the registry is first used. Use the ``registry.add_*`` methods or
    ``registry.add(kind, name, factory)``. A name another plugin also registers is kept for both: only
    using the bare name fails, naming both owners, and ``distribution:name`` chooses. If the hook
    raises, whatever it added is removed and the plugin is listed as failed.
    """
