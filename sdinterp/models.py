"""Model specs, parsed once: ``FAMILY:NAME[:WEIGHTS]`` and ``python:package.module:factory``.

Every family that loads models from a spec string (``torchvision:r3d_18``,
``pytorchvideo:slowfast_r50:/w/sf.pyth``, ``mmaction2:CONFIG[:WEIGHTS]``, ``twostream:...``)
registers its builder by spec prefix with :func:`family_loader`, which parses the spec with
:func:`parse_model_spec` and answers the ``sdinterp_load_model`` hook only for its own prefix; an option
it does not take is refused by name (:func:`refuse_unknown_options`), never dropped, and a weights file
is recognised by its first bytes before anything is built (:func:`weights_format`). The
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
import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import ModelAdapter

__all__ = [
    "ModelSpec",
    "parse_model_spec",
    "load_python_object",
    "family_loader",
    "refuse_unknown_options",
    "weights_format",
    "check_weights_options",
    "weights_file_provenance",
    "OPTION_FLAGS",
    "PYTHON_PREFIX",
]

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


#: How the command line spells the options it passes to every family (``--frames`` is ``num_frames``).
OPTION_FLAGS = {
    "num_frames": "--frames",
    "crop_size": "--crop-size",
    "short_side": "--short-side",
    "weights": "--weights",
    "trust_weights": "--trust-weights",
}

# The first bytes of ``torch.save``'s legacy (non-zip) files: pickle protocol 2, then the pickled
# magic number 0x1950a86a20f9469cfc6c that ``torch.load`` checks first.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def option_label(name: str) -> str:
    """``num_frames (--frames)`` for an option the command line sets, else the option's name."""
    return f"{name} ({OPTION_FLAGS[name]})" if name in OPTION_FLAGS else name


def refuse_unknown_options(
    spec: str, options: Mapping[str, Any], accepted: Sequence[str], passed_on: Sequence[str] = ()
) -> None:
    """Refuse the options a family's loader would otherwise drop without a word.

    Args:
        spec: the model spec, for the message.
        options: the options given to ``load_model`` (``None`` values count as not given).
        accepted: the options the loader applies.
        passed_on: options the loader leaves to the family's adapter (``adapt`` applies or refuses them).

    Raises:
        ValueError: one line naming every such option and listing the accepted ones.

    Examples:
        >>> refuse_unknown_options("demo:net", {"weights": "w.pt", "crop_size": None}, ("weights",))
        >>> refuse_unknown_options("demo:net", {"checkpoint": "w.pt"}, ("weights",))
        Traceback (most recent call last):
        ...
        ValueError: demo:net: the demo loader does not take checkpoint; it takes weights (--weights)
    """
    known = set(accepted) | set(passed_on)
    unknown = sorted(k for k, v in options.items() if v is not None and k not in known)
    if unknown:
        family = spec.split(":", 1)[0]
        takes = ", ".join(option_label(k) for k in (*accepted, *passed_on)) or "no options"
        raise ValueError(
            f"{spec}: the {family} loader does not take {', '.join(option_label(k) for k in unknown)}; it takes {takes}"
        )


def weights_format(path: str | Path) -> str:
    """What kind of weights file ``path`` is, read from its first bytes (nothing is unpickled).

    Args:
        path: a local file.

    Returns:
        ``"torch"`` (``torch.save``'s zip archive), ``"torch-legacy"`` (its older pickle format) or
        ``"safetensors"``.

    Raises:
        FileNotFoundError: ``path`` is not a local file (URLs included: weights are never downloaded).
        ValueError: any other file (text such as YAML or JSON, a plain Python pickle, an empty file...).
    """
    p = Path(path)
    if "://" in str(path) or not p.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} is not a local file (sdinterp never downloads weights)")
    with open(p, "rb") as fh:
        head = fh.read(16)
    size = p.stat().st_size
    if head.startswith(b"PK\x03\x04"):
        return "torch"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) > 8 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    if not head:
        what = "it is empty"
    elif head[:1] == b"\x80":
        what = "it is a plain Python pickle, not a torch.save file"
    elif all(b >= 32 or b in b"\t\n\r" for b in head):
        start = head.decode("utf-8", "replace").strip().splitlines()[0] if head.strip() else ""
        what = f"it is text (it starts with {start!r}: YAML, JSON or the like)"
    else:
        what = f"its first bytes ({head[:8].hex(' ')}) are those of no torch, pickle or safetensors file"
    raise ValueError(
        f"weights file {str(path)!r} is not a weights file: {what}; give a state dict saved with torch.save "
        "(.pt/.pth) or a .safetensors file"
    )


def weights_file_provenance(path: str | Path) -> dict[str, Any]:
    """``{"source": "file", "path": ..., "sha256": ...}``: what a report records for a weights file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"source": "file", "path": str(Path(path).resolve()), "sha256": digest.hexdigest()}


def check_weights_options(spec: str, weights: str | None, trust_weights: Any) -> None:
    """Before anything is built: ``weights`` is a weights file, and ``trust_weights`` has one to apply to.

    Raises:
        FileNotFoundError: ``weights`` is not a local file.
        ValueError: ``weights`` is not a weights file (:func:`weights_format`), or ``trust_weights``
            was given without a weights file.
    """
    if weights:
        weights_format(weights)
    elif trust_weights:
        raise ValueError(
            f"{spec}: trust_weights (--trust-weights) applies to a weights file and none was given; "
            "give one (--weights FILE) or leave trust_weights out"
        )


def family_loader(
    family: str, build: Callable[..., Any], keys: Sequence[str], passed_on: Sequence[str] = ()
) -> Callable[..., Any]:
    """An ``sdinterp_load_model`` hook implementation for the specs ``FAMILY:NAME[:WEIGHTS]``.

    No option is dropped: one that neither ``build`` takes (``keys``) nor the family's adapter
    applies (``passed_on``) is refused by name, before anything is built, and so are a weights file
    that is not one, ``trust_weights`` without weights, and a ``weights`` option beside a spec that
    names other weights. The weights file loaded is recorded on the model (``model.sdinterp_weights``),
    so a report says which file it ran with, also when only the spec names it.

    Args:
        family: the spec prefix, without the colon.
        build: ``build(name, **options)``; gets the ``keys`` among the options that are set, and
            ``weights`` from the spec when it names one.
        keys: the options ``build`` takes.
        passed_on: options ``build`` does not take but the family's ``sdinterp_adapt`` does (for a
            ``build`` that returns a model, not an adapter); they are left to ``adapt``.

    Returns:
        The hook function: assign it to ``sdinterp_load_model`` in the family's plugin module.

    Examples:
        >>> hook = family_loader("demo", lambda name, **o: (name, o), ("num_frames",))
        >>> hook(spec="demo:net", options={"num_frames": 8}), hook(spec="other:net", options={})
        (('net', {'num_frames': 8}), None)
    """
    prefix = f"{family}:"

    @hookimpl
    def sdinterp_load_model(spec: str, options: dict[str, Any]) -> Any:
        if not spec.startswith(prefix):
            return None
        parsed = parse_model_spec(spec)
        refuse_unknown_options(spec, options, keys, passed_on)
        kwargs = {k: options[k] for k in keys if options.get(k) is not None}
        if parsed.weights:
            given = kwargs.get("weights")
            if given and Path(given).resolve() != Path(parsed.weights).resolve():
                raise ValueError(
                    f"{spec} names the weights {parsed.weights} and weights (--weights) gives {given}: give one of them"
                )
            kwargs["weights"] = parsed.weights
        check_weights_options(spec, kwargs.get("weights"), kwargs.get("trust_weights"))
        result = build(parsed.name, **kwargs)
        if kwargs.get("weights"):  # what the report records: the file that was loaded
            module = result.model if isinstance(result, ModelAdapter) else result
            if isinstance(module, nn.Module):  # a plain attribute (nn.Module.__setattr__ types it as a tensor)
                object.__setattr__(module, "sdinterp_weights", weights_file_provenance(kwargs["weights"]))
        return result

    sdinterp_load_model.__doc__ = (
        f"``{family}:NAME[:WEIGHTS]`` -> ``{getattr(build, '__name__', 'build')}(NAME, ...)``."
    )
    return sdinterp_load_model
