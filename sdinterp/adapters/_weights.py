"""Local weights files for every adapter: recognised by their first bytes, read weights-only unless
the user trusts the file, and checked against the model, every refusal in one line.

:func:`read_state_dict_file` reads a ``torch.save`` file (zip or legacy) or a ``.safetensors`` file;
text (YAML, JSON), plain pickles and empty files are refused as "not a weights file" before they are
opened (:func:`sdinterp.models.weights_format`), and a torch file holding objects other than tensors
is unpickled only with ``trusted=True`` (``--trust-weights``). :func:`load_state_dict_file` loads it
into a model, refusing another model's weights with a count of the keys that do not fit.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sdinterp.models import weights_format

__all__ = ["load_state_dict_file", "read_state_dict_file", "one_line"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# torch's weights-only refusal names the first global it would have had to import.
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's first non-empty line, without terminal colour codes (torch bolds some words)."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]


def _few(keys: Sequence[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def read_state_dict_file(path: str | Path, trusted: bool = False) -> dict[str, Any]:
    """The state dict in a local weights file (never downloads).

    The file's kind is read from its first bytes (:func:`sdinterp.models.weights_format`): a
    ``torch.save`` file (zip or legacy) is read weights-only, a ``.safetensors`` file with
    safetensors; anything else (text, a plain pickle) is refused before it is opened. Containers are
    unwrapped (``model_state`` from SlowFast/pytorchvideo, ``state_dict`` from MMEngine, ``model``),
    and a ``module.`` (DataParallel) prefix on every key is removed.

    Args:
        path: a local file.
        trusted: if a torch file holds objects other than tensors (MMEngine metadata, argparse
            namespaces), unpickle it fully. Only for files you trust: unpickling can run code.

    Returns:
        The state dict.

    Raises:
        FileNotFoundError: ``path`` is not a local file (URLs are refused the same way).
        ValueError: not a weights file, a torch file that needs unpickling while ``trusted`` is
            False, or a file that holds no state dict. Every message is one line.
    """
    kind = weights_format(path)
    name = str(path)
    if kind == "safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(name))
        except Exception as exc:  # noqa: BLE001 - a damaged file means the same to the user
            raise ValueError(f"weights file {name!r} cannot be read as safetensors ({one_line(exc)})") from None
    try:
        state = torch.load(name, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        objects = f" ({found.group(1)})" if found else ""
        if not trusted:
            raise ValueError(
                f"weights file {name!r} holds objects other than tensors{objects}; it was not loaded, because "
                "unpickling can run any code. Only if you trust where it came from, pass trust_weights=True "
                "(CLI: --trust-weights)"
            ) from None
        # The one place sdinterp unpickles: only on the user's explicit opt-in, and said when it happens.
        warnings.warn(
            f"weights file {name!r} is unpickled in full (trust_weights / --trust-weights): it can run "
            "code, so load only files whose origin you trust",
            stacklevel=3,
        )
        try:
            state = torch.load(name, map_location="cpu", weights_only=False)
        except Exception as exc2:  # noqa: BLE001 - any failure to read means the same to the user
            raise ValueError(f"weights file {name!r} cannot be read as a torch file ({one_line(exc2)})") from None
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign archive means the same to the user
        raise ValueError(f"weights file {name!r} cannot be read as a torch file ({one_line(exc)})") from None
    for key in ("model_state", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        what = type(state).__name__ if not isinstance(state, dict) else "a dict of other things than tensors"
        raise ValueError(
            f"weights file {name!r} holds {what}, not a state dict; save model.state_dict() with torch.save"
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_state_dict_file(model: nn.Module, path: str | Path, strict: bool = True, trusted: bool = False) -> None:
    """Load a local weights file into ``model`` (never downloads): :func:`read_state_dict_file`, then
    a check that it fits the model.

    A file that does not fit (another model's weights) is refused in one line that counts the
    missing, unexpected and differently shaped keys and names a few of each.

    Args:
        model: the network to load into.
        path: a local file (``torch.save`` or ``.safetensors``).
        strict: every key of the model must be in the file and no other (shapes must match either way).
        trusted: unpickle a torch file that holds objects other than tensors (only files you trust).

    Raises:
        FileNotFoundError: ``path`` is not a local file.
        ValueError: see :func:`read_state_dict_file`; or the file does not fit ``model``.
    """
    state = read_state_dict_file(path, trusted)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if shapes or (strict and (missing or unexpected)):
        parts = [f"{len(missing)} of its {len(own)} keys missing ({_few(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unexpected ({_few(unexpected)})"] if unexpected else []
        if shapes:
            k = shapes[0]
            parts.append(
                f"{len(shapes)} of another shape ({k}: {tuple(state[k].shape)} in the file, "
                f"{tuple(own[k].shape)} in the model)"
            )
        raise ValueError(
            f"weights file {str(path)!r} does not fit this {type(model).__name__}: {'; '.join(parts)}; it holds "
            "another model's (or another variant's) weights: give a state dict saved from this model"
            + (" (or load the keys that match with strict=False)" if not shapes and len(missing) < len(own) else "")
        )
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # what the key check above cannot see (e.g. a module's own load hook)
        raise ValueError(
            f"weights file {str(path)!r} does not fit this {type(model).__name__} ({one_line(exc)})"
        ) from None
