"""``sdinterp train-tiny``: train every tiny architecture on the motion- and appearance-class
tasks from one seed and write their checkpoints (issue #13, item 2)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sdinterp.errors import SdinterpError

__all__ = ["register", "run"]


class TrainTinyError(SdinterpError, ValueError):
    """A bad ``train-tiny`` flag."""


def run(args: argparse.Namespace) -> int:
    from sdinterp.plugins.tiny_models.adapter import TinyModelAdapter
    from sdinterp.plugins.tiny_models.nets import ARCHITECTURES
    from sdinterp.plugins.tiny_models.train import TinyTask, accuracy, save_checkpoint, task_clips, train_tiny

    archs = args.arch or list(ARCHITECTURES)
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        raise TrainTinyError(f"--arch: unknown {', '.join(unknown)}; choose from {', '.join(ARCHITECTURES)}")
    if args.seed < 0 or args.epochs < 1:
        raise TrainTinyError("--seed must be >= 0 and --epochs >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for arch in archs:
        for kind in args.kind:
            task = TinyTask(arch=arch, kind=kind, epochs=args.epochs)
            t0 = time.perf_counter()
            net = train_tiny(task, seed=args.seed)
            acc = accuracy(TinyModelAdapter(net), task_clips(task, "val", args.seed))
            path = out / f"{arch}_{kind}_seed{args.seed}.pt"
            save_checkpoint(net, task, args.seed, path, {"val_accuracy": acc})
            row = {"arch": arch, "kind": kind, "seed": args.seed, "val_accuracy": acc,
                   "seconds": round(time.perf_counter() - t0, 1), "bytes": path.stat().st_size, "path": str(path)}
            summary.append(row)
            print(f"{arch:9s} {kind:10s} seed {args.seed}: val acc {acc:.3f}  {row['seconds']:5.1f} s  {row['bytes']} B -> {path}",
                  flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-tiny", help="train the tiny C2D/I3D/SlowOnly/FastOnly/SlowFast nets on synthetic videos (CPU)")
    p.add_argument("--out", required=True, help="folder for the checkpoints (<arch>_<kind>_seed<S>.pt) and summary.json")
    p.add_argument("--seed", type=int, default=0, help="training seed (init, batch order, data)")
    p.add_argument("--arch", action="append", help="train only this architecture (repeatable; default: all)")
    p.add_argument("--kind", nargs="+", default=["motion", "appearance"], choices=["motion", "appearance"],
                   help="which tasks (default both)")
    p.add_argument("--epochs", type=int, default=20, help="epochs per model (default 20)")
    p.set_defaults(func=run)
