"""A run's identity: everything that changes its numbers, recorded in the report and compared when
a saved run state is resumed.

The identity covers the inputs (each video file's path, size and modification time, or a content
hash of clips held in memory), the model (its class and a hash of the parameters and buffers
actually loaded, so random init with another seed or other weights differ), the adapter options,
samplers, scorer, protocol, seed and pair count. :func:`differences` names what differs between two
identities, after a JSON round trip so a tuple and a list of the same values are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp.interfaces import Sample

__all__ = [
    "data_identity",
    "model_identity",
    "model_identity_later",
    "file_identity",
    "bootstrap_identity",
    "normalise",
    "differences",
]


def _tensor_bytes(t: torch.Tensor) -> Any:
    t = t.detach().to("cpu").contiguous()
    # Viewed as bytes, any dtype hashes (bfloat16 has no numpy twin); handed to the hash as a
    # buffer, not copied into a bytes object.
    return t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b""


def model_identity(model: nn.Module) -> dict[str, Any]:
    """The model's class and a sha256 of its state (names, dtypes, shapes and values), so two runs
    are the same model exactly when they hold the same weights."""
    return _hashed(type(model), model.state_dict(keep_vars=False))


def model_identity_later(model: nn.Module) -> Callable[[], dict[str, Any]]:
    """:func:`model_identity`, hashed in a background thread; call the result for it.

    The state is taken here, in the caller's thread; hashing (about 1 s per GB of weights; sha256
    releases the GIL) then runs while the run's data thread prepares the first batch, when the
    forwards have nothing to do yet and a core would otherwise wait. The run must not change the
    weights before the result is called (a run does not: its forwards are in inference mode).

    Examples:
        >>> result = model_identity_later(torch.nn.Linear(2, 2))
        >>> sorted(result())
        ['class', 'state_numel', 'state_sha256']
    """
    state = model.state_dict(keep_vars=False)
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["identity"] = _hashed(type(model), state)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=work, name="sdinterp-model-hash", daemon=True)
    thread.start()

    def result() -> dict[str, Any]:
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["identity"]

    return result


def _hashed(cls: type, state: Mapping[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256()
    n_params = 0
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(_tensor_bytes(value))
        n_params += value.numel()
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "state_sha256": digest.hexdigest(),
        "state_numel": n_params,
    }


def _clip_digest(digest: Any, sample: Any) -> None:
    if isinstance(sample, Sample):
        digest.update(f"{sample.video_id}|{sample.style}|".encode())
        for part in (sample.frames, sample.flow):
            if part is not None:
                arr = np.ascontiguousarray(part)
                digest.update(f"{arr.dtype}|{arr.shape}|".encode())
                digest.update(arr.tobytes())
        for v in sample.views or ():
            digest.update(np.asarray(v, dtype=np.int64).tobytes())
    else:
        arr = np.ascontiguousarray(np.asarray(sample))
        digest.update(f"{arr.dtype}|{arr.shape}|".encode())
        digest.update(arr.tobytes())


def data_identity(data: Any) -> dict[str, Any]:
    """What a run reads.

    A dataset with a ``describe()`` method (as :class:`~sdinterp.data.VideoClipDataset`, which lists
    each file's path, size and modification time) describes itself. Clips held in memory (arrays, a
    list of Samples) are hashed in full. Any other dataset is identified by its type, length and a
    hash of its first clip only, which the identity says (``"partial": true``): give it a
    ``describe()`` to be identified fully.
    """
    describe = getattr(data, "describe", None)
    if callable(describe) and not isinstance(data, (np.ndarray, torch.Tensor)):
        return {"kind": type(data).__name__, **describe()}
    digest = hashlib.sha256()
    if isinstance(data, (np.ndarray, torch.Tensor, Sample)):
        arr = data.numpy() if isinstance(data, torch.Tensor) else data
        _clip_digest(digest, arr)
        n = 1 if isinstance(arr, Sample) or arr.ndim == 4 else len(arr)
        return {"kind": "clips in memory", "n_clips": n, "sha256": digest.hexdigest()}
    n = len(data)
    if isinstance(data, (list, tuple)):
        for item in data:
            _clip_digest(digest, item)
        return {"kind": "clips in memory", "n_clips": n, "sha256": digest.hexdigest()}
    if n:
        _clip_digest(digest, data[0])
    return {"kind": type(data).__name__, "n_clips": n, "first_clip_sha256": digest.hexdigest(), "partial": True}


def bootstrap_identity(replicates: int, level: float) -> dict[str, Any]:
    """The bootstrap part of a run's identity (empty when off, so a run without it is identified
    as before): the replicate count B, the level and the weight stream. A saved run state with
    another B (or none) is refused on resume, since its replicates cannot be continued.

    Examples:
        >>> bootstrap_identity(0, 0.95)
        {}
        >>> bootstrap_identity(100, 0.95)["bootstrap"]["replicates"]
        100
    """
    from sdinterp.replicates import WEIGHT_STREAM

    if not replicates:
        return {}
    return {
        "bootstrap": {
            "replicates": int(replicates),
            "level": float(level),
            "weights": f"poisson(1) per source video (cluster bootstrap) from "
            f"default_rng([seed, sha256(video id)[:8], {WEIGHT_STREAM:#x}])",
        }
    }


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A file's resolved path, size and modification time (a folder: its sorted entries' too)."""
    p = os.path.realpath(path)
    if os.path.isdir(p):
        names = sorted(os.listdir(p))
        stats = [os.stat(os.path.join(p, n)) for n in names]
        sig = hashlib.sha256("".join(f"{n}|{s.st_size}|{s.st_mtime_ns};" for n, s in zip(names, stats)).encode())
        return {"path": p, "files": len(names), "listing_sha256": sig.hexdigest()}
    st = os.stat(p)
    return {"path": p, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def normalise(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The identity as JSON would store it (tuples become lists, unknown objects their repr)."""
    return json.loads(json.dumps(identity, sort_keys=True, default=repr))


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
        out[f"{prefix}.length"] = len(value)
    else:
        out[prefix] = value


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def differences(saved: Mapping[str, Any], now: Mapping[str, Any], limit: int = 3) -> list[str]:
    """``"key: saved -> now"`` for every differing leaf of two identities (JSON-normalised), the
    first ``limit`` in full and the rest counted."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(normalise(saved), "", a)
    _flatten(normalise(now), "", b)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]
    shown = [f"{k}: {_short(a.get(k, '<absent>'))} -> {_short(b.get(k, '<absent>'))}" for k in keys[:limit]]
    if len(keys) > limit:
        shown.append(f"and {len(keys) - limit} more")
    return shown
