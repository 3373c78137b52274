"""``sdinterp layers MODEL_SPEC``: every canonical layer with its module path, channels and stream,
and the modules that run more than once per forward with their call counts (each call is a layer
of its own, ``NAME@k`` with ``k`` counted from 0)."""

from __future__ import annotations

import argparse
import json
from typing import Any

#: Shared modules listed by name before the list is cut (a per-sample model runs every module per clip).
_SHOWN_REPEATED = 40


def _repeated(adapter: Any) -> dict[str, int]:
    """``{module path: calls}`` of the modules that run more than once per forward, where the adapter
    counted them (``module_calls()``, as the generic adapter's probe does); ``{}`` otherwise."""
    counted = getattr(adapter, "module_calls", None)
    if not callable(counted):
        return {}
    return {path: n for path, n in counted().items() if n > 1}


def run(args: argparse.Namespace) -> int:
    from sdinterp.adapt import load_adapter
    from sdinterp.capture import CALL_SEP
    from sdinterp.cli_kit import check_positive

    options = {}
    for flag, key in (("frames", "num_frames"), ("crop_size", "crop_size"), ("short_side", "short_side")):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
        if getattr(args, flag) is not None:
            options[key] = getattr(args, flag)
    adapter = load_adapter(args.model, **options)
    rows = [info.describe() for info in adapter.layers().values()]
    repeated = _repeated(adapter)
    if args.json:
        shared = [{"name": p, "module": p, "calls": n, "default": False} for p, n in repeated.items()]
        print(json.dumps([{**r, "default": True} for r in rows] + shared, indent=2, default=repr))
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
    if repeated:
        print(
            f"{len(repeated)} module(s) run more than once per forward (no default layer): name one call as "
            f"NAME{CALL_SEP}k, k counted from 0 (NAME{CALL_SEP}1 is the second call), or NAME{CALL_SEP}all"
        )
        width = max(len(p) for p in repeated)
        for path, n in list(repeated.items())[:_SHOWN_REPEATED]:
            print(f"  {path.ljust(width)}  {n} calls: {path}{CALL_SEP}0 .. {path}{CALL_SEP}{n - 1}")
        if len(repeated) > _SHOWN_REPEATED:
            print(f"  and {len(repeated) - _SHOWN_REPEATED} more (--json lists them all)")
    print("Raw module paths and input:<path> are accepted too.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "layers",
        help="list a model's canonical layers (module path, channels, stream) and its modules that run more than once",
    )
    p.add_argument(
        "model",
        help="model spec, e.g. torchvision:r3d_18, pytorchvideo:slowfast_r50, "
        "mmaction2:CONFIG[:WEIGHTS], python:pkg.mod:factory",
    )
    p.add_argument("--frames", type=int, help="frames the model takes (default: the model's native count)")
    p.add_argument("--crop-size", type=int, help="centre crop in pixels (default: the model's native size)")
    p.add_argument("--short-side", type=int, help="short-side resize in pixels (default: the model's native size)")
    p.add_argument(
        "--json",
        action="store_true",
        help="machine-readable output: one object per canonical layer (default: true) and per module that runs "
        "more than once (default: false, with its calls) (default: a table)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks (default: one line)")
    p.set_defaults(func=run)
