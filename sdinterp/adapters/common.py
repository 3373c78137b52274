"""The public kit of the adapters: what a plugin (or an adapter outside this package) may import.

Everything here is re-exported from the adapters' private modules, which may change; import it from
``sdinterp.adapters.common`` (or the two-stream path from :mod:`sdinterp.adapters.image_flow`), never
from ``sdinterp.adapters._*`` (``tests/test_import_rules.py`` enforces it over ``sdinterp/plugins``).

* Preprocessing: :class:`ClipPreprocessor` (a clip of ``T`` frames -> (3, T, H, W)),
  :class:`VideoClipAdapter` (its base adapter), the statistics :data:`KINETICS_MEAN` /
  :data:`KINETICS_STD` / :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD` (defined once, in
  ``adapters/_clip.py``).
* Weights and widths: :func:`load_state_dict_file` (local files only, never downloads),
  :func:`module_width`, :func:`replace_modules`.
* Imports of the video stack: :func:`ensure_torchvision` (call it before ``import torchvision``:
  a CPU torch with a CUDA-built torchvision wheel cannot import it otherwise, ``docs/install.md``),
  :func:`ensure_pytorchvideo`, :func:`import_optional`.
* Options: :func:`refuse_options` (an option a family cannot apply is refused, never ignored),
  :func:`crop_option` (the one name of a clip model's input size).
* Recognising a model by its attribute paths: :func:`has_modules`, :func:`find_wrapped`.

Examples:
    >>> from sdinterp.adapters.common import ensure_torchvision
    >>> ensure_torchvision()
    >>> import torchvision  # works on this CPU-only install only after ensure_torchvision()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from sdinterp.adapters._clip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    KINETICS_MEAN,
    KINETICS_STD,
    ClipPreprocessor,
    VideoClipAdapter,
    load_state_dict_file,
    module_width,
    replace_modules,
)
from sdinterp.adapters._compat import (
    applied_fixes,
    ensure_pytorchvideo,
    ensure_torchvision,
    ensure_video_stack,
    import_optional,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KINETICS_MEAN",
    "KINETICS_STD",
    "ClipPreprocessor",
    "VideoClipAdapter",
    "applied_fixes",
    "ensure_pytorchvideo",
    "ensure_torchvision",
    "ensure_video_stack",
    "import_optional",
    "load_state_dict_file",
    "module_width",
    "refuse_options",
    "replace_modules",
]


def refuse_options(options: dict[str, Any], names: Sequence[str], family: str) -> None:
    """Raise if an option this family cannot apply was given: an option is never ignored.

    Args:
        options: the options given to ``adapt``.
        names: the options this family cannot apply.
        family: how the message names the family (and what to set instead).

    Raises:
        ValueError: naming the first such option.

    Examples:
        >>> refuse_options({"crop_size": None}, ("crop_size",), "VisTR")
        >>> refuse_options({"crop_size": 32}, ("crop_size",), "VisTR (set short_side)")
        Traceback (most recent call last):
        ...
        ValueError: option crop_size=32 does not apply to VisTR (set short_side)
    """
    given = [n for n in names if options.get(n) is not None]
    if given:
        raise ValueError(f"option {given[0]}={options[given[0]]!r} does not apply to {family}")


def crop_option(options: dict[str, Any]) -> int | None:
    """The requested square input size of a clip model: ``crop_size`` (the command line's
    ``--crop-size``), or ``size``, which ``sdinterp.adapt`` accepts as its short name; ``None``: native.

    Examples:
        >>> crop_option({"size": 64}), crop_option({"crop_size": 112, "size": 64}), crop_option({})
        (64, 112, None)
    """
    return options.get("crop_size") or options.get("size")


def has_modules(obj: Any, names: Sequence[str]) -> bool:
    """Whether every one of ``names`` is an ``nn.Module`` attribute of ``obj`` (how the segmentation
    adapters recognise MATNet, RTNet and VisTR: by their attribute paths, ``docs/method.md`` §8)."""
    return all(isinstance(getattr(obj, a, None), nn.Module) for a in names)


def find_wrapped(model: Any, test: Callable[[Any], bool], attr: str) -> str | None:
    """``""`` if ``test(model)``, ``attr`` if ``model.<attr>`` passes it (a wrapper such as MATNet's
    ``.encoder`` or VisTRsegm's ``.vistr``), else ``None``.

    Examples:
        >>> wrapper = nn.Module(); wrapper.inner = nn.Linear(2, 2)
        >>> find_wrapped(wrapper, lambda m: isinstance(m, nn.Linear), "inner")
        'inner'
    """
    if test(model):
        return ""
    if isinstance(model, nn.Module) and test(getattr(model, attr, None)):
        return attr
    return None
