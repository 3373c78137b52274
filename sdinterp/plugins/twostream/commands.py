"""Command-line tools of the two-stream plugin.

* ``sdinterp fusion-study [MODEL...] INPUT... [--json FILE] [--figure STEM]``: the fusion / cross-connection study
  (:mod:`.study`) over two-stream model specs (default: the paper's four variants, G+U, G+B, CCG+U,
  CCG+B) on (image, flow) pairs of the inputs, flow computed with OpenCV and cached (or read from
  Stylized-DAVIS flow folders with ``--flow images``).
* ``sdinterp twostream-train MODEL --out FILE``: train a two-stream model on synthetic moving
  squares on the CPU (:mod:`.train`), saving a state dict that ``MODEL:FILE`` loads.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from sdinterp.cli_kit import (
    PAIR_FLAGS,
    UsageError,
    add_flags,
    check_flags,
    check_out_dir,
    check_output_file,
    check_positive,
    run_device,
    samplers_from_args,
)
from sdinterp.cli_kit.outputs import check_run_outputs

__all__ = ["register_study", "register_train"]


def _split(items: list[str]) -> tuple[list[str], list[str]]:
    models = [x for x in items if x.startswith("twostream:") or (":" in x and not Path(x).exists())]
    return models, [x for x in items if x not in models]


def _style(value: str | None) -> Any:
    """``--style``: ``random``, a numeric style id (``style_<k>`` folders) or a style name (Lynx...)."""
    return int(value) if value is not None and value.isdigit() else value


def _study(args: argparse.Namespace) -> int:
    from sdinterp.plugin_manager import get_registry
    from sdinterp.plugins.twostream.data import TwoStreamFrames
    from sdinterp.plugins.twostream.protocol import VosAlternating
    from sdinterp.plugins.twostream.spec import STUDY_VARIANTS, parse_spec
    from sdinterp.plugins.twostream.study import format_table, run_study, study_rows

    models, inputs = _split(args.items)
    if not inputs:
        raise UsageError("no INPUT given: pass video files, frame folders or a Stylized-DAVIS root after the models")
    for path in inputs:
        if not Path(path).exists():
            raise UsageError(f"input {path}: no such file or folder (model specs start with twostream:)")
    check_flags(args)  # the shared flags: --n-pairs, --batch-size, --threshold, --json
    for flag in ("frames_per_item", "depth", "width", "cascades"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.size is not None and min(args.size) < 1:
        raise UsageError(f"--size must be two positive integers H W, got {args.size}")
    if args.figure:
        check_output_file("--figure", args.figure + "_layers.png")
    if args.flow_cache:
        check_out_dir(args.flow_cache, "--flow-cache")
    if not models:
        models = [
            f"twostream:{v}-r{args.depth}" + (f"-w{args.width}" if args.width != 64 else "") for v in STUDY_VARIANTS
        ]
    weights = []
    for spec in models:
        if spec.startswith("twostream:"):
            weights.append(parse_spec(spec).weights)  # a bad spec costs nothing
    figures = {
        f"--figure ({kind})": f"{args.figure}_{kind}" for kind in ("layers.png", "layers.svg", "units.png", "units.svg")
    }
    check_run_outputs(
        args,
        outputs=figures if args.figure else {},
        inputs={"INPUT": inputs, "a model's weights": [w for w in weights if w]},
    )
    static, dynamic = samplers_from_args(args)
    if args.protocol == "vos-alternating":
        protocol: Any = VosAlternating(args.frames_per_item)
    else:
        protocol = get_registry().create("protocol", args.protocol)
    _check_both_factors(protocol, args)
    n_clips = protocol.n_clips(args.n_pairs)
    entries = []
    for path in inputs:
        entries += TwoStreamFrames(path, frames_per_item=args.frames_per_item, flow=args.flow).entries
    data = TwoStreamFrames(
        entries,
        frames_per_item=args.frames_per_item,
        num_items=math.ceil(n_clips / args.frames_per_item),
        seed=args.seed,
        flow=args.flow,
        flow_cache=args.flow_cache,
        style=_style(args.style),
        # --flow-at-size: frames shrink to --size as they are decoded and the flow is computed there
        size=tuple(args.size) if args.flow_at_size and args.size else None,
    )
    log = (lambda m: print(m, file=sys.stderr)) if not args.quiet else None
    reports = run_study(
        models,
        data,
        static,
        dynamic,
        protocol,
        args.n_pairs,
        batch_size=args.batch_size,
        seed=args.seed,
        frame_size=tuple(args.size) if args.size else None,
        layers=args.layers,
        threshold=args.threshold,
        model_options={"cascades": args.cascades},
        log=log,
        device=run_device(args.device),
    )
    rows = study_rows(reports)
    print(format_table(rows))
    if args.json:
        out = {"models": list(reports), "rows": rows, "reports": {k: r.to_dict() for k, r in reports.items()}}
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    if args.figure:
        for figure in _figures(reports, args.figure):
            print(f"figure: {figure}", file=sys.stderr)
    return 0


def _check_both_factors(protocol: Any, args: argparse.Namespace) -> None:
    """Refuse, before any flow is computed or model built, a run whose plan makes no pairs of a factor.

    Under ``vos-alternating`` the first ``--frames-per-item`` pairs are all static, so ``--n-pairs``
    at or below it would only fail at scoring time, after the first model has run.

    Raises:
        UsageError: naming ``--n-pairs`` (and ``--frames-per-item``) and what count works.
    """
    from sdinterp.plugins.twostream.study import missing_factors

    missing = missing_factors(protocol, args.n_pairs, args.seed)
    if not missing:
        return
    if args.protocol == "vos-alternating":
        f = args.frames_per_item
        raise UsageError(
            f"--n-pairs {args.n_pairs} with --frames-per-item {f} makes no {missing[0]} pairs: vos-alternating "
            f"gives the first {f} pairs to the static factor, then alternates every {f}; pass --n-pairs above {f} "
            f"(e.g. {2 * f}) or a smaller --frames-per-item"
        )
    raise UsageError(
        f"--n-pairs {args.n_pairs} under --protocol {args.protocol} makes no {' or '.join(missing)} pairs; "
        "pass a larger --n-pairs"
    )


_SHORT = {
    "gated": "G",
    "convex_gated": "CCG",
    "convex_gated_cat": "CCGcat",
    "unidirectional": "U",
    "bidirectional": "B",
    "unidirectional_gated": "Ug",
    "bidirectional_gated": "Bg",
    "none": "none",
}


def _label(spec: str) -> str:
    """The paper's short name of a variant (``G+U``, ``CCG+B``…; a trailing ``*`` marks loaded weights)."""
    body, _, weights = spec.removeprefix("twostream:").partition(":")
    head = [p for p in body.split("-") if not (p[:1] in "rw" and p[1:].isdigit())]
    text = "FusionSeg" if head == ["fusionseg"] else "+".join(_SHORT.get(p, p) for p in head)
    return text + ("*" if weights else "")


def _figures(reports: dict[str, Any], stem: str) -> list[Path]:
    """``STEM_layers`` (paper Fig. 4 left: layer-wise %) and ``STEM_units`` (Fig. 15 top: unit
    categories), every model in one figure, as PNG and SVG."""
    from sdinterp.report.plots import plot_layers, plot_unit_categories, save_figure

    short = [_label(spec) for spec in reports]
    names = short if len(set(short)) == len(short) else [spec.removeprefix("twostream:") for spec in reports]
    labels = dict(zip(names, reports.values()))
    return save_figure(
        plot_layers(labels, title="Fusion / cross-connection study: layer-wise"), f"{stem}_layers"
    ) + save_figure(
        plot_unit_categories(labels, title="Fusion / cross-connection study: unit categories"), f"{stem}_units"
    )


def register_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fusion-study",
        help="fusion / cross-connection study of two-stream segmentation models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "items",
        nargs="+",
        metavar="MODEL_OR_INPUT",
        help="two-stream model specs (twostream:FUSION-CROSS[-rDEPTH][-wWIDTH][:WEIGHTS]; default: the "
        "paper's four variants) followed by video files, frame folders or a Stylized-DAVIS root",
    )
    # The shared flags (sdinterp.cli_kit): `sdinterp report`'s names, defaults and checks.
    add_flags(
        p,
        "n-pairs",
        "batch-size",
        "seed",
        helps={
            "n-pairs": "pairs (in total under vos-alternating; default: {default})",
            "batch-size": "(image, flow) clips per forward pass (default: {default})",
        },
    )
    p.add_argument(
        "--frames-per-item",
        type=int,
        default=8,
        help="frames per sequence item; the factor alternates per item (default: 8)",
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        default=[480, 854],
        help="resize image and flow to H W (reference: 480 854; default: 480 854)",
    )
    p.add_argument("--depth", type=int, default=18, help="ResNet depth of the default models (default: 18)")
    p.add_argument("--width", type=int, default=64, help="stream base width of the default models (default: 64)")
    p.add_argument(
        "--cascades", type=int, default=5, help="co-attention cascades of the cross connections (default: 5)"
    )
    p.add_argument(
        "--flow",
        choices=["dis", "farneback", "images"],
        default="dis",
        help="compute OpenCV flow (dis, farneback) or read the dataset's flow images (default: dis)",
    )
    p.add_argument("--flow-cache", metavar="DIR", help="folder to cache computed flow (default: a temporary folder)")
    p.add_argument(
        "--flow-at-size",
        action="store_true",
        help="shrink frames to --size as they are read and compute the flow there: far cheaper on videos "
        "larger than --size, but another flow (docs/method.md, 'Pairs at the model's resolution'; "
        "recorded in the reports); default: flow at the videos' own resolution, as the reference",
    )
    p.add_argument(
        "--style",
        default=None,
        help="style of the anchor images of a stylized dataset: random or an id (default: none)",
    )
    p.add_argument(
        "--protocol", default="vos-alternating", help="vos-alternating (reference; default) or any registered protocol"
    )
    # Two-stream models take (image, flow): the static pair jitters the flow instead of shuffling frames.
    add_flags(
        p,
        *PAIR_FLAGS,
        "layers",
        "threshold",
        "device",
        "json",
        defaults={"static-sampler": "flow_jitter"},
        helps={
            "layers": "layer names (default: every stream and fusion layer)",
            "json": "write the rows and every report as JSON (default: none)",
        },
    )
    p.add_argument(
        "--figure",
        metavar="STEM",
        help="draw every model in one layer-wise and one unit-category figure, "
        "STEM_layers.png/.svg and STEM_units.png/.svg (default: none)",
    )
    add_flags(p, "quiet", "debug", helps={"quiet": "no progress lines on stderr (default: off)"})
    p.set_defaults(func=_study)


def _train(args: argparse.Namespace) -> int:
    import torch

    from sdinterp.adapt import adapt, load_model
    from sdinterp.plugins.twostream.adapter import TwoStreamAdapter
    from sdinterp.plugins.twostream.spec import parse_spec
    from sdinterp.plugins.twostream.train import train_synthetic

    check_flags(args)  # the shared flags: --seed, --debug
    for flag in ("steps", "batch_size", "size"):
        check_positive("--" + flag.replace("_", "-"), getattr(args, flag))
    if args.batch_size < 2:
        raise UsageError("--batch-size must be at least 2 (batch norm needs two samples)")
    check_output_file("--out", args.out)
    spec_weights = parse_spec(args.model).weights if args.model.startswith("twostream:") else None
    # given={}: its --out is a file, not the report folder the kit takes a shared --out for
    check_run_outputs(args, given={}, outputs={"--out": args.out}, inputs={"the model spec's weights": spec_weights})
    torch.manual_seed(args.seed)
    adapter = adapt(load_model(args.model), frame_size=(args.size, args.size))
    if not isinstance(adapter, TwoStreamAdapter):
        raise UsageError(f"{args.model}: not a two-stream (image, flow) model; give a twostream:... spec")
    result = train_synthetic(
        adapter,
        steps=args.steps,
        batch_size=args.batch_size,
        size=args.size,
        lr=args.lr,
        seed=args.seed,
        time_limit=args.time_limit,
        log=lambda m: print(m, file=sys.stderr),
    )
    torch.save(adapter.model.state_dict(), args.out)
    first, last = (
        sum(result.losses[:10]) / min(10, len(result.losses)),
        sum(result.losses[-10:]) / min(10, len(result.losses)),
    )
    print(
        f"{args.model}: {len(result.losses)} steps in {result.seconds:.0f} s, loss {first:.4f} -> {last:.4f}, "
        f"train IoU {result.iou:.3f}; weights: {args.out} (use {args.model}:{args.out})"
    )
    return 0


def register_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("twostream-train", help="train a two-stream model on synthetic moving squares (CPU)")
    p.add_argument("model", help="two-stream model spec, e.g. twostream:gated-unidirectional-r18-w16")
    p.add_argument("--out", required=True, metavar="FILE", help="where to save the trained state dict")
    p.add_argument("--steps", type=int, default=300, help="optimiser steps (default: 300)")
    # Not the shared --batch-size (videos per forward of a report): samples per optimiser step.
    p.add_argument("--batch-size", type=int, default=8, help="training samples per step, at least 2 (default: 8)")
    p.add_argument("--size", type=int, default=64, help="side of the synthetic frames (default: 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 0.001)")
    p.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds (default: none)")
    add_flags(p, "seed", "debug")
    p.set_defaults(func=_train)
