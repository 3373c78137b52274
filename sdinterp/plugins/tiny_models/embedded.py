"""The committed seed-0 checkpoints of the tiny nets, and the ``tiny:`` model specs that load them
(issue #13, item 2).

``plugins/tiny_models/checkpoints/`` ships inside the package (package data): one
``<arch>_<kind>_seed0.pt`` per architecture and task (and ``slowfast_both_seed0.pt``) and one
``avos_<variant>_seed0.pt`` per two-stream study variant, written by ``sdinterp train-tiny --seed 0 --avos``,
and ``index.json`` with each file's sha256, validation accuracy and the torch version and CPU
capability that made it. A checkpoint regenerates bit for bit from its seed on a machine of that
kind (tests/test_tiny_models.py); loading checks the sha256, so a damaged file is refused by name.

Specs::

    tiny:i3d-motion                     the embedded seed-0 I3D-like net of the motion task
    tiny:avos-gated-bidirectional       the embedded seed-0 two-stream AVOS net (G+B) of camouflage videos
    tiny:slowfast-appearance --weights ckpt/slowfast_appearance_seed1.pt   a train-tiny checkpoint

``sdinterp report tiny:i3d-motion VIDEOS`` records ``embedded weights ...`` with the sha256 as the
run's weights, never "random init".
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any

from sdinterp.errors import SdinterpError

__all__ = [
    "CHECKPOINT_DIR",
    "PREFIX",
    "EmbeddedCheckpointError",
    "embedded_index",
    "load_embedded",
    "load_embedded_avos",
    "load_spec",
    "checkpoint_name",
    "avos_checkpoint_name",
]

PREFIX = "tiny:"
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class EmbeddedCheckpointError(SdinterpError, ValueError):
    """A ``tiny:`` spec that names no embedded checkpoint, or an embedded file that fails its sha256."""


def checkpoint_name(arch: str, kind: str, seed: int = 0) -> str:
    """The file name ``sdinterp train-tiny`` writes for one net."""
    return f"{arch}_{kind}_seed{int(seed)}.pt"


def avos_checkpoint_name(variant: str, seed: int = 0) -> str:
    """The file name ``sdinterp train-tiny --avos`` writes for one two-stream AVOS variant."""
    return f"avos_{variant}_seed{int(seed)}.pt"


def embedded_index() -> dict[str, dict[str, Any]]:
    """``{file name: {"sha256", "arch", "kind", "seed", "val_accuracy", "torch", "cpu_capability", ...}}``
    of the committed checkpoints (empty if the package ships none)."""
    path = CHECKPOINT_DIR / "index.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["checkpoints"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_embedded(arch: str, kind: str) -> Any:
    """The embedded seed-0 net ``arch`` trained on ``kind``, in eval mode, with its provenance in
    ``model.sdinterp_weights``.

    Raises:
        EmbeddedCheckpointError: no such checkpoint (the message lists the embedded ones), or the
            file's sha256 differs from ``index.json``.

    Examples:
        >>> net = load_embedded("i3d", "motion")
        >>> net.sdinterp_weights["source"], net.sdinterp_weights["seed"]
        ('embedded', 0)
    """
    from sdinterp.plugins.tiny_models.train import load_checkpoint

    return _verified(f"{PREFIX}{arch}-{kind}", checkpoint_name(arch, kind, 0), load_checkpoint)


def load_embedded_avos(variant: str) -> Any:
    """The embedded seed-0 tiny two-stream AVOS net of ``variant`` (a study variant, e.g.
    ``gated-bidirectional``), trained on camouflage videos (:mod:`.avos`), with its provenance.

    Raises:
        EmbeddedCheckpointError: as :func:`load_embedded`.
    """
    from sdinterp.plugins.tiny_models.avos import load_avos_checkpoint

    return _verified(f"{PREFIX}avos-{variant}", avos_checkpoint_name(variant), load_avos_checkpoint)


def _verified(spec: str, name: str, loader: Any) -> Any:
    index = embedded_index()
    if name not in index:
        have = ", ".join(_spec_of(v) for v in index.values()) or "none"
        raise EmbeddedCheckpointError(f"{spec}: no embedded checkpoint of that name; embedded: {have}")
    path = CHECKPOINT_DIR / name
    entry = index[name]
    if not path.is_file() or _sha256(path) != entry["sha256"]:
        raise EmbeddedCheckpointError(
            f"embedded checkpoint {path} is missing or damaged (sha256 differs from index.json); "
            "reinstall sdinterp or regenerate it with `sdinterp train-tiny --seed 0 --avos`"
        )
    net, _task, seed = loader(path)
    metrics = {k: entry[k] for k in ("val_accuracy", "val_iou") if k in entry}
    net.sdinterp_weights = {"source": "embedded", "path": str(path), "sha256": entry["sha256"], "seed": seed, **metrics}
    return net


def _spec_of(entry: dict[str, Any]) -> str:
    return (
        f"{PREFIX}avos-{entry['variant']}"
        if entry.get("family") == "twostream"
        else f"{PREFIX}{entry['arch']}-{entry['kind']}"
    )


def load_spec(spec: str, options: dict[str, Any]) -> Any:
    """``tiny:ARCH-KIND`` (embedded) or ``tiny:ARCH-KIND`` with ``options["weights"]`` (a
    train-tiny checkpoint, read weights-only; its architecture and task must match the spec)."""
    from sdinterp.plugins.tiny_models.nets import ARCHITECTURES
    from sdinterp.plugins.tiny_models.train import load_checkpoint

    rest = spec[len(PREFIX) :]
    if rest.startswith("avos-"):
        return _avos_spec(spec, rest[len("avos-") :], options)
    arch, _, kind = rest.partition("-")
    if arch not in ARCHITECTURES or kind not in ("motion", "appearance", "both"):
        raise EmbeddedCheckpointError(
            f"{spec}: tiny specs are tiny:ARCH-KIND with ARCH one of {', '.join(ARCHITECTURES)} "
            "and KIND motion, appearance or both, e.g. tiny:i3d-motion"
        )
    weights = options.get("weights")
    if not weights:
        return load_embedded(arch, kind)
    net, task, _seed = _read(load_checkpoint, weights)
    if (task.arch, task.kind) != (arch, kind):
        raise EmbeddedCheckpointError(
            f"--weights {weights}: a {task.arch}-{task.kind} checkpoint, not {arch}-{kind}; "
            f"use the spec {PREFIX}{task.arch}-{task.kind}"
        )
    return net


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _read(loader: Any, path: str) -> Any:
    """A user's ``--weights`` file through ``loader``, or one line saying it is not a train-tiny
    checkpoint (a bare state dict, another tool's file, or one carrying Python objects, which
    the weights-only load never unpickles)."""
    try:
        return loader(path)
    except FileNotFoundError:
        raise EmbeddedCheckpointError(f"--weights {path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read means the same to the user
        # torch's own text would advise full unpickling (with terminal colour codes): never for these files
        text = _ANSI.sub("", str(exc)).strip()
        detail = (
            "it holds objects other than tensors"
            if isinstance(exc, pickle.UnpicklingError)
            else f"{type(exc).__name__}: {text.splitlines()[0][:120] if text else ''}"
        )
        raise EmbeddedCheckpointError(f"--weights {path}: not a `sdinterp train-tiny` checkpoint ({detail})") from None


def _avos_spec(spec: str, variant: str, options: dict[str, Any]) -> Any:
    from sdinterp.plugins.tiny_models.avos import AVOS_VARIANTS, load_avos_checkpoint

    if variant not in AVOS_VARIANTS:
        raise EmbeddedCheckpointError(
            f"{spec}: tiny AVOS specs are tiny:avos-VARIANT with VARIANT one of {', '.join(AVOS_VARIANTS)}"
        )
    if not options.get("weights"):
        return load_embedded_avos(variant)
    net, task, _seed = _read(load_avos_checkpoint, options["weights"])
    if task.variant != variant:
        raise EmbeddedCheckpointError(
            f"--weights {options['weights']}: a {task.variant} checkpoint, not {variant}; "
            f"use the spec {PREFIX}avos-{task.variant}"
        )
    return net
