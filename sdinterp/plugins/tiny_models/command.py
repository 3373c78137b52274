"""``sdinterp train-tiny``: train every tiny architecture on the motion- and appearance-class
tasks from one seed and write their checkpoints and ``index.json`` (issue #13, item 2).

``sdinterp train-tiny --seed 0 --avos --out plugins/tiny_models/checkpoints`` and ``sdinterp train-tiny
--seed 0 --arch slowfast --kind both --out plugins/tiny_models/checkpoints`` regenerate the embedded set
(:mod:`sdinterp.plugins.tiny_models.embedded`) bit for bit on a machine of the kind recorded in its
``index.json`` (torch version and CPU capability).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from sdinterp.errors import SdinterpError

__all__ = ["register", "run", "machine"]


class TrainTinyError(SdinterpError, ValueError):
    """A bad ``train-tiny`` flag."""


def machine() -> dict[str, str]:
    """What decides the last bits of a CPU training: the torch build and the CPU's vector ISA."""
    import torch

    return {"torch": torch.__version__, "cpu_capability": str(torch.backends.cpu.get_cpu_capability())}


def _index(out: Path) -> dict[str, Any]:
    path = out / "index.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if isinstance(data.get("checkpoints"), dict):
                return data
        except (OSError, ValueError):
            pass
    return {"format": "sdinterp.tiny_checkpoints/1", "checkpoints": {}}


def _avos_variants(args: argparse.Namespace) -> list[str]:
    from sdinterp.plugins.tiny_models.avos import AVOS_VARIANTS

    if args.avos is None:
        return []
    return list(args.avos) or list(AVOS_VARIANTS)


def _train_avos(variant: str, args: argparse.Namespace, out: Path, index: dict[str, Any]) -> None:
    from sdinterp.plugins.tiny_models.avos import AvosTask, avos_iou, avos_samples, save_avos_checkpoint, train_avos
    from sdinterp.plugins.tiny_models.embedded import avos_checkpoint_name

    task = AvosTask(variant=variant)
    t0 = time.perf_counter()
    net = train_avos(task, args.seed)
    iou = avos_iou(net, avos_samples(task, "val", args.seed))
    path = out / avos_checkpoint_name(variant, args.seed)
    save_avos_checkpoint(net, task, args.seed, path, {"val_iou": iou})
    index["checkpoints"][path.name] = {
        "family": "twostream",
        "variant": variant,
        "seed": args.seed,
        "val_iou": round(iou, 4),
        "bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "task": dataclasses.asdict(task),
        **machine(),
    }
    print(
        f"avos {variant:27s} seed {args.seed}: val IoU {iou:.3f}  {time.perf_counter() - t0:5.1f} s  "
        f"{path.stat().st_size} B -> {path}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter
    from sdinterp.plugins.tiny_models.embedded import checkpoint_name
    from sdinterp.plugins.tiny_models.nets import ARCHITECTURES
    from sdinterp.plugins.tiny_models.train import TinyTask, accuracy, save_checkpoint, task_clips, train_tiny

    archs = [] if args.only_avos else (args.arch or list(ARCHITECTURES))
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        raise TrainTinyError(f"--arch: unknown {', '.join(unknown)}; choose from {', '.join(ARCHITECTURES)}")
    if args.seed < 0 or (args.epochs is not None and args.epochs < 1):
        raise TrainTinyError("--seed must be >= 0 and --epochs >= 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TrainTinyError(f"--out {out}: is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    index = _index(out)
    for arch in archs:
        for kind in args.kind:
            task = TinyTask(arch=arch, kind=kind, **({"epochs": args.epochs} if args.epochs else {}))
            t0 = time.perf_counter()
            net = train_tiny(task, seed=args.seed)
            acc = accuracy(TinyModelAdapter(net), task_clips(task, "val", args.seed))
            path = out / checkpoint_name(arch, kind, args.seed)
            save_checkpoint(net, task, args.seed, path, {"val_accuracy": acc})
            seconds = time.perf_counter() - t0
            index["checkpoints"][path.name] = {
                "arch": arch,
                "kind": kind,
                "seed": args.seed,
                "val_accuracy": round(acc, 4),
                "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "task": dataclasses.asdict(task),
                **machine(),
            }
            print(
                f"{arch:9s} {kind:10s} seed {args.seed}: val acc {acc:.3f}  {seconds:5.1f} s  "
                f"{path.stat().st_size} B -> {path}",
                flush=True,
            )
    for variant in _avos_variants(args):
        _train_avos(variant, args, out, index)
    index["checkpoints"] = dict(sorted(index["checkpoints"].items()))
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"index of {len(index['checkpoints'])} checkpoints: {out / 'index.json'}")
    return 0


def _study_variants() -> tuple[str, ...]:
    from sdinterp.plugins.tiny_models.avos import AVOS_VARIANTS

    return AVOS_VARIANTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-tiny",
        help="train the tiny C2D/I3D/SlowOnly/FastOnly/SlowFast nets on synthetic videos (CPU)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="folder for the checkpoints (<arch>_<kind>_seed<S>.pt) and index.json")
    p.add_argument("--seed", type=int, default=0, help="training seed (init, batch order, data) (default 0)")
    p.add_argument("--arch", action="append", help="train only this architecture (repeatable; default: all)")
    p.add_argument(
        "--kind",
        nargs="+",
        default=["motion", "appearance"],
        choices=["motion", "appearance", "both"],
        help="which tasks: the factor that carries the class (default: motion appearance)",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs per action model (default: the task's, 30)")
    p.add_argument(
        "--avos",
        nargs="*",
        metavar="VARIANT",
        choices=list(_study_variants()),
        help="also train these two-stream AVOS variants on camouflage videos (bare --avos: all four: "
        f"{', '.join(_study_variants())}; default: none)",
    )
    p.add_argument("--only-avos", action="store_true", help="train only the --avos variants (default: off)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors (default: one line)")
    p.set_defaults(func=run)
