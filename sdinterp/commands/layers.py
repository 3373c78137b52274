"""``sdinterp layers MODEL_SPEC``: every canonical layer with its module path, channels and stream."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from sdinterp.adapt import load_adapter
    from sdinterp.cli_kit import check_positive

    options = {}
    for flag, key in (("frames", "num_frames"), ("crop_size", "crop_size"), ("short_side", "short_side")):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
        if getattr(args, flag) is not None:
            options[key] = getattr(args, flag)
    adapter = load_adapter(args.model, **options)
    rows = [info.describe() for info in adapter.layers().values()]
    if args.json:
        print(json.dumps(rows, indent=2, default=repr))
        return 0
    head = ("layer", "module", "channels", "stream", "pooling")
    table = [
        (
            r["name"],
            r["module"] or "(model)",
            "?" if r["channels"] is None else str(r["channels"]),
            str(r["stream"]),
            str(r["pooling"]),
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head] + table) for i in range(len(head))]
    print(f"{adapter.family} adapter for {type(adapter.model).__name__}: {len(rows)} canonical layers")
    for row in [head, tuple("-" * w for w in widths)] + table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print("Raw module paths and input:<path> are accepted too.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="list a model's canonical layers (module path, channels, stream)")
    p.add_argument(
        "model",
        help="model spec, e.g. torchvision:r3d_18, pytorchvideo:slowfast_r50, "
        "mmaction2:CONFIG[:WEIGHTS], python:pkg.mod:factory",
    )
    p.add_argument("--frames", type=int, help="frames the model takes (default: the model's native count)")
    p.add_argument("--crop-size", type=int, help="centre crop in pixels (default: the model's native size)")
    p.add_argument("--short-side", type=int, help="short-side resize in pixels (default: the model's native size)")
    p.add_argument("--json", action="store_true", help="machine-readable output (default: a table)")
    p.add_argument("--debug", action="store_true", help="show tracebacks (default: one line)")
    p.set_defaults(func=run)
