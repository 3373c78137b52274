"""Small pieces a command needs besides flags and loading: a ``python:`` function given on the
command line (a metric, a data factory), checked when the flags are read; and JSON output that
names the flag when it cannot be written."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdinterp.cli_kit.checks import UsageError

__all__ = ["load_callable", "write_json"]


def load_callable(spec: str, flag: str, called_as: str | None = None) -> Callable[..., Any]:
    """``python:package.module:function`` -> the function (imported now, so a typo costs nothing).

    Args:
        spec: the ``python:`` spec.
        flag: the flag or setting it came from, for messages.
        called_as: e.g. ``"fn(adapter, clips)"``: the function must accept that many positional
            arguments, checked now rather than after the model has run.

    Returns:
        The function.

    Raises:
        UsageError: not a ``python:`` spec, the module cannot be imported, it has no such function,
            or the function cannot be called as ``called_as``.

    Examples:
        >>> load_callable("python:os.path:join", "--metric", called_as="fn(a, b)")("a", "b")
        'a/b'
        >>> load_callable("os.path.join", "--metric")
        Traceback (most recent call last):
        ...
        sdinterp.cli_kit.checks.UsageError: --metric 'os.path.join': expected python:package.module:function
    """
    if not spec.startswith("python:") or spec.count(":") < 2:
        raise UsageError(f"{flag} {spec!r}: expected python:package.module:function")
    module_name, _, attr = spec[len("python:") :].rpartition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{flag} {spec!r}: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UsageError(f"{flag} {spec!r}: {module_name!r} has no function {attr!r}")
    if called_as is not None:
        n_args = called_as.count(",") + 1
        try:
            inspect.signature(fn).bind(*([None] * n_args))
        except TypeError:
            raise UsageError(
                f"{flag} {spec!r}: {attr}{inspect.signature(fn)} cannot be called as {called_as}"
            ) from None
        except ValueError:  # a builtin without a signature: it will tell at call time
            pass
    return fn


def write_json(path: str | None, payload: dict[str, Any], flag: str = "--json") -> None:
    """Write ``payload`` as indented JSON to ``path`` (nothing when ``path`` is None); values JSON
    cannot hold are written as their ``repr``.

    Raises:
        UsageError: the file cannot be written (naming ``flag``).
    """
    if path:
        try:
            Path(path).write_text(json.dumps(payload, indent=1, default=repr))
        except OSError as exc:
            raise UsageError(f"{flag} {path}: cannot write ({exc.strerror or exc})") from None
