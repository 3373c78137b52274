"""``sdinterp layers MODEL_SPEC``: every canonical layer with its module path, channels and stream."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from sdinterp.adapt import load_adapter

    adapter = load_adapter(args.model)
    rows = [info.describe() for info in adapter.layers().values()]
    if args.json:
        print(json.dumps(rows, indent=2, default=repr))
        return 0
    head = ("layer", "module", "channels", "stream", "pooling")
    table = [(r["name"], r["module"] or "(model)", "?" if r["channels"] is None else str(r["channels"]), str(r["stream"]), str(r["pooling"])) for r in rows]
    widths = [max(len(x[i]) for x in [head] + table) for i in range(len(head))]
    print(f"{adapter.family} adapter for {type(adapter.model).__name__}: {len(rows)} canonical layers")
    for row in [head, tuple("-" * w for w in widths)] + table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print("Raw module paths and input:<path> are accepted too.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="list a model's canonical layers (module path, channels, stream)")
    p.add_argument("model", help="model spec, e.g. torchvision:r3d_18, pytorchvideo:slowfast_r50, mmaction2:CONFIG[:WEIGHTS], python:pkg.mod:factory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)
