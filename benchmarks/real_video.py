"""A report on real video files vs the bare forwards of the same inputs, side by side in one process.

For each model and each shared real clip (concert 176x144, vtest 768x576) it times
  (a) ``StaticDynamic.attribute`` on the video file (decoding, views, pairs, prepare, capture,
      moments, the validity check: everything a user waits for), and
  (b) the bare forwards: the model run on the same number of already-prepared inputs in the same
      batch sizes, with no hooks and no data side;
and prints report / bare. It also prints the data side's own throughput (clips/s with the model
replaced by nothing: decoding, views, pairs and prepare only), beside the forward throughput, so a
GPU user can read whether the data side keeps up with a fast device; the CPU seconds of reading
alone (the decoder's, which nothing else in the run can save) over the bare forwards' time; and the
CPU seconds of the whole data side (reading, views, pairs, prepare, on one thread as the run's data
thread does it) over the bare forwards' time. On cores the forwards already fill (2 here: the
forwards' two OpenMP threads and the data thread take turns), the data side's CPU time is added to
the forwards', not hidden behind them, so report / bare is about 1 + data cpu/bare.

Two-stream rows: ``twostream-128`` reads frames at the model's 128 x 128 and computes optical flow
there (``TwoStreamFrames(size=...)``); ``twostream-128-fullflow`` computes the flow at the videos' own
resolution, as the reference does, into a cold cache (the first report on a video pays for it; a
second one reads it). docs/method.md, "Pairs at the model's resolution", has the effect on scores.

    .venv/bin/python benchmarks/real_video.py            # r3d_18, MViT-v2-S, two-stream (both flows)
    .venv/bin/python benchmarks/real_video.py --quick    # r3d_18 only, 4 pairs
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import torch

import sdinterp
from sdinterp.pipeline import RunPlan, get_protocol
from sdinterp.pipeline.accumulate import prepared_batches
from sdinterp.pipeline.executor import Executor
from sdinterp.pipeline.inputs import as_samples, decode_only_views
from sdinterp.pipeline.prefetch import prefetched

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = ("concert_176x144.mp4", "vtest.avi")

#: name -> (spec, adapter options, layers)
MODELS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "r3d_18": ("torchvision:r3d_18", {"num_frames": 8, "crop_size": 112}, ["stage5"]),
    "mvit_v2_s": ("torchvision:mvit_v2_s", {}, ["block15"]),
    "twostream-128": ("twostream:gated-bidirectional-r18", {"frame_size": (128, 128)}, ["fusion5"]),
    "twostream-128-fullflow": ("twostream:gated-bidirectional-r18", {"frame_size": (128, 128)}, ["fusion5"]),
}


def _data(model: str, path: Path, n: int, adapter: Any) -> Any:
    if model.startswith("twostream"):
        import tempfile

        from sdinterp.plugins.twostream.data import TwoStreamFrames

        # A cold flow cache per row, so the report pays for the flow it needs; ``twostream-128``
        # reads frames at the model's size and computes the flow there.
        size = None if model.endswith("fullflow") else adapter.frame_size
        cache = tempfile.mkdtemp(prefix="sdinterp-bench-flow-")
        # One item of n frames spread over the video: every clip a frame of its own, decoded once.
        return TwoStreamFrames(str(path), frames_per_item=n, num_items=1, flow="dis", size=size, flow_cache=cache)
    from sdinterp.data import VideoClipDataset

    return VideoClipDataset(str(path), clip_length=32, style=None, num_clips=n)


def _samplers(model: str) -> dict[str, str]:
    return {"static_sampler": "flow_jitter"} if model.startswith("twostream") else {}


def _time_report(sd: Any, data: Any, run: dict[str, Any]) -> float:
    sd.attribute(data, **{**run, "n_pairs": 1, "batch_size": 3})  # warm-up: decoders, caches, kernels
    t0 = time.perf_counter()
    sd.attribute(data, **run)
    return time.perf_counter() - t0


def _drop_cache(data: Any) -> None:
    cache = getattr(data, "flow_cache", None)
    if cache and Path(cache).name.startswith("sdinterp-bench-flow-"):
        shutil.rmtree(cache, ignore_errors=True)


def measure(model: str, clip: str, pairs: int, batch: int, repeats: int = 1) -> dict[str, Any]:
    """Report and bare forwards timed ``repeats`` times, one after the other (each report on fresh
    data: a cold flow cache); the ratio is the median of the repeats' ratios."""
    spec, options, layers = MODELS[model]
    adapter = sdinterp.load_adapter(spec, **options)
    sd = sdinterp.StaticDynamic(adapter, layers=layers, **_samplers(model))  # type: ignore[arg-type]
    run: dict[str, Any] = dict(n_pairs=pairs, batch_size=batch, seed=0, show_progress=False)
    reports, bares = [], []
    prepared: list[Any] = []
    data_s = 0.0
    for _ in range(max(1, repeats)):
        data = _data(model, VIDEOS / clip, pairs, adapter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reports.append(_time_report(sd, data, run))
            if not prepared:
                # The data side alone, exactly as the run makes it: in the background thread.
                config = sdinterp.RunConfig(**run)
                clips = as_samples(decode_only_views(data, adapter, (sd.static_sampler, sd.dynamic_sampler)))
                plan = RunPlan.build(get_protocol(config.protocol), len(clips), pairs, batch, 0)
                executor = Executor(adapter, sd.layer_infos, sd.static_sampler, sd.dynamic_sampler)
                t0 = time.perf_counter()
                prepared = list(prefetched(prepared_batches(executor, plan, clips, 0), config.prefetch))
                data_s = time.perf_counter() - t0
                # The data side's CPU seconds, as the run's data thread spends them (one intra-op
                # thread), and reading alone (decoding, and the flow cache, warm by now): what no
                # design of the rest can save.
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    t0 = time.process_time()
                    for _ in prepared_batches(executor, plan, clips, 0):
                        pass
                    data_cpu = time.process_time() - t0
                    t0 = time.process_time()
                    for planned in plan.clips():
                        clips[planned.source]
                    read_s = time.process_time() - t0
                finally:
                    torch.set_num_threads(threads)
        adapter.model.eval()
        with torch.inference_mode():
            t0 = time.perf_counter()
            for _, x, _, _, _ in prepared:
                adapter.forward(x)
            bares.append(time.perf_counter() - t0)
        _drop_cache(data)
    n_inputs = sum(len(s) for _, _, s, _, _ in prepared)
    report_s, bare_s = statistics.median(reports), statistics.median(bares)
    return {
        "report": report_s,
        "bare": bare_s,
        "ratio": statistics.median(r / b for r, b in zip(reports, bares)),
        "data_clips_per_s": n_inputs / data_s,
        "read": read_s,
        "data_cpu": data_cpu,
        "forward_clips_per_s": n_inputs / bare_s,
        "inputs": n_inputs,
        "model": type(adapter.model).__name__,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="r3d_18 only, 4 pairs")
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="time report and bare forwards this many times, alternately, and print medians (for a shared machine)",
    )
    args = ap.parse_args()
    if args.quick:
        args.models, args.pairs = ["r3d_18"], 4
    torch.manual_seed(0)
    print(
        f"torch threads {torch.get_num_threads()}; {args.pairs} pairs per factor, batch {args.batch}; "
        f"medians of {max(1, args.repeats)} repeat(s)"
    )
    head = (
        f"{'model':<24}{'clip':<22}{'report s':>9}{'bare s':>9}{'ratio':>8}{'data clips/s':>14}{'fwd clips/s':>13}"
        f"{'read s':>8}{'read/bare':>10}{'data cpu/bare':>14}"
    )
    print(head)
    print("-" * len(head))
    for model in args.models:
        for clip in CLIPS:
            r = measure(model, clip, args.pairs, args.batch, args.repeats)
            print(
                f"{model:<24}{clip:<22}{r['report']:9.2f}{r['bare']:9.2f}{r['ratio']:8.3f}"
                f"{r['data_clips_per_s']:14.1f}{r['forward_clips_per_s']:13.1f}"
                f"{r['read']:8.2f}{r['read'] / r['bare']:10.2f}{r['data_cpu'] / r['bare']:14.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
