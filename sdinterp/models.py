"""Model specs, parsed once: ``FAMILY:NAME[:WEIGHTS]`` and ``python:package.module:factory``.

Every family that loads models from a spec string (``torchvision:r3d_18``,
``pytorchvideo:slowfast_r50:/w/sf.pyth``, ``mmaction2:CONFIG[:WEIGHTS]``, ``twostream:...``)
registers its builder by spec prefix with :func:`family_loader`, which parses the spec with
:func:`parse_model_spec` and answers the ``sdinterp_load_model`` hook only for its own prefix. The
``python:`` spec is loaded here too (:func:`load_python_object`), for the generic adapter's hook and
for any ``python:module:function`` command-line flag.

Examples:
    >>> parse_model_spec("torchvision:r3d_18")
    ModelSpec(family='torchvision', name='r3d_18', weights=None)
    >>> parse_model_spec("pytorchvideo:x3d_s:/w/x3d.pyth").weights
    '/w/x3d.pyth'
    >>> load_python_object("python:os.path:join")("a", "b")
    'a/b'
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sdinterp.hookspecs import hookimpl

__all__ = ["ModelSpec", "parse_model_spec", "load_python_object", "family_loader", "PYTHON_PREFIX"]

PYTHON_PREFIX = "python:"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed ``FAMILY:NAME[:WEIGHTS]`` spec.

    Attributes:
        family: the prefix before the first ``:`` (``torchvision``, ``mmaction2``...).
        name: what the family builds (a model name, a config name or path, a variant).
        weights: a local weights file, or ``None``.
    """

    family: str
    name: str
    weights: str | None = None


def parse_model_spec(spec: str) -> ModelSpec:
    """Split ``FAMILY:NAME[:WEIGHTS]``: the name ends at the next ``:`` unless the whole rest is an
    existing file (a config path given alone), so a weights path may itself contain ``:``.

    Raises:
        ValueError: ``spec`` has no ``FAMILY:`` prefix or no name.
    """
    family, sep, rest = spec.partition(":")
    if not sep or not family or not rest:
        raise ValueError(f"model spec {spec!r}: expected FAMILY:NAME[:WEIGHTS] (e.g. torchvision:r3d_18)")
    if Path(rest).is_file():
        return ModelSpec(family, rest)
    name, _, weights = rest.partition(":")
    return ModelSpec(family, name, weights or None)


def load_python_object(spec: str, what: str = "model spec") -> Any:
    """``python:package.module:attr`` -> the attribute (imported now, so a typo fails at once).

    Args:
        spec: the ``python:`` spec.
        what: how the message names the spec (``"model spec"``, ``"--metric"``...).

    Raises:
        ValueError: not of that form, or the module has no such attribute.
        ImportError: the module cannot be imported (its own message included).
    """
    target = spec[len(PYTHON_PREFIX) :] if spec.startswith(PYTHON_PREFIX) else ""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise ValueError(f"{what} {spec!r}: expected python:package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"{what} {spec!r}: cannot import {module_name!r}: {exc}") from exc
    if not hasattr(module, attr):
        raise ValueError(f"{what} {spec!r}: {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def family_loader(family: str, build: Callable[..., Any], keys: Sequence[str]) -> Callable[..., Any]:
    """An ``sdinterp_load_model`` hook implementation for the specs ``FAMILY:NAME[:WEIGHTS]``.

    Args:
        family: the spec prefix, without the colon.
        build: ``build(name, **options)``; gets the ``keys`` among the options that are set, and
            ``weights`` from the spec when it names one (the spec wins over the option).
        keys: the options ``build`` takes.

    Returns:
        The hook function: assign it to ``sdinterp_load_model`` in the family's plugin module.

    Examples:
        >>> hook = family_loader("demo", lambda name, **o: (name, o), ("weights",))
        >>> hook(spec="demo:net:/w.pt", options={}), hook(spec="other:net", options={})
        (('net', {'weights': '/w.pt'}), None)
    """
    prefix = f"{family}:"

    @hookimpl
    def sdinterp_load_model(spec: str, options: dict[str, Any]) -> Any:
        if not spec.startswith(prefix):
            return None
        parsed = parse_model_spec(spec)
        kwargs = {k: options[k] for k in keys if options.get(k) is not None}
        if parsed.weights:
            kwargs["weights"] = parsed.weights
        return build(parsed.name, **kwargs)

    sdinterp_load_model.__doc__ = (
        f"``{family}:NAME[:WEIGHTS]`` -> ``{getattr(build, '__name__', 'build')}(NAME, ...)``."
    )
    return sdinterp_load_model
