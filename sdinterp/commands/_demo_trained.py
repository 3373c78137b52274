"""The trained half of ``sdinterp demo``: the embedded seed-0 tiny nets of the motion-class and the
appearance-class task (the same I3D-like architecture, trained on the synthetic generator's videos;
docs/tiny_models.md).

First what the method can see: each net on unseen probe videos of the task it was trained for,
with ground-truth dynamic pairs (the generator's re-renderings: same motion, new appearance) and
with the default pairs side by side, each with its validity verdict
(:func:`probe_comparison`). Then each net on real clips, put side by side, with the verdict the
check gives there (:func:`trained_comparison`).

The nets come through their model specs (``tiny:i3d-motion``, ``tiny:i3d-appearance``), i.e.
through the plugins, as any user's model does. Real clips are read at the nets' own input: 8 frames
of 32 x 32 (short side resized to 32, centre crop, once, before pairing), from 16-frame windows,
four per video, decoded once; each model's pairs cycle over them with their own shuffles and styles.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

__all__ = ["MODELS", "DEFAULT_VIDEOS", "real_clip_entries", "probe_comparison", "trained_comparison", "verdict_cell"]

#: Label -> model spec of the two nets compared.
MODELS = {"motion-class": "tiny:i3d-motion", "appearance-class": "tiny:i3d-appearance"}
#: Where the real clips are, beside a clone of the repository (../shared/data/videos).
DEFAULT_VIDEOS = Path("..") / "shared" / "data" / "videos"


#: The pairs compared on the probe videos: label -> dynamic sampler (static pairs: frame shuffle).
PROBE_PAIRS = {"ground truth": "synthetic_restyle", "default": "restyle"}


def verdict_cell(report: Any, width: int = 0) -> str:
    """The report's validity status and, when not ok, the first reason (shortened to ``width``)."""
    v = getattr(report, "validity", None)
    if v is None:
        return "not checked"
    if v.status == "ok":
        return "ok"
    worst = next((f for f in v.factors.values() if f.status == v.status), None)
    finding = next((x for x in (worst.findings if worst else []) if x.get("status") == v.status), None)
    text = (
        v.status
        if worst is None
        else f"{v.status}: {worst.factor} pairs ({worst.sampler}) fail {finding['check'] if finding else 'a check'}"
    )
    return text if not width or len(text) <= width else text[: width - 3] + "..."


def probe_comparison(seed: int = 0, pairs: int = 128, layer: str = "stage3") -> tuple[str, dict[str, Any]]:
    """Both nets on ``pairs`` unseen probe videos of their own task, with ground-truth and default
    dynamic pairs: the table and the reports (keyed ``"<net> / <pairs>"``)."""
    import warnings

    from sdinterp.adapt import load_model
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.plugin_manager import get_registry

    task_probe_clips = get_registry().create("probe_clips", "tiny")  # the tiny-models plugin's

    rows, reports = [], {}
    for label, spec in MODELS.items():
        clips = task_probe_clips(spec, pairs, seed)
        model = load_model(spec)
        for pair_label, sampler in PROBE_PAIRS.items():
            sd = StaticDynamic(model, layers=[layer], dynamic_sampler=sampler)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the verdict below says what matters here
                report = sd.attribute(clips, n_pairs=pairs, batch_size=48, seed=seed, show_progress=False)
            reports[f"{label} / {pair_label}"] = report
            lb, c = report[layer], report[layer].category_counts
            units = f"{c['dynamic']}/{c['static']}/{c['joint']}/{c['residual']}"
            rows.append(
                [label, f"{pair_label} ({sampler})", units, f"{lb.percent['dynamic']:.1f}", verdict_cell(report, 90)]
            )
    head = ["net", "dynamic pairs", f"{layer} units dyn/stat/joint/resid", "dyn %", "validity"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [head, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines), reports


def real_clip_entries(videos: Path) -> list[Any]:
    """The video files (not frame folders or loose images) under ``videos``."""
    from sdinterp.data.layouts import find_videos
    from sdinterp.data.video import VIDEO_EXTENSIONS

    return [
        e for e in find_videos(videos) if all(Path(p).suffix.lower() in VIDEO_EXTENSIONS for p in e.sources.values())
    ]


def _at_model_size(sample: Any, side: int = 32) -> Any:
    """The clip resized (short side, area interpolation) and centre-cropped to the nets' 32 x 32,
    before pairing: the restyler then works at the nets' resolution, not on 768 x 576 frames that
    the model would shrink anyway (the adapter's own resize would give the same input)."""
    import cv2
    import numpy as np

    t, h, w, _ = sample.frames.shape
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in sample.frames])
    y0, x0 = (frames.shape[1] - side) // 2, (frames.shape[2] - side) // 2
    return sample.replace(frames=np.ascontiguousarray(frames[:, y0 : y0 + side, x0 : x0 + side]))


def trained_comparison(
    videos: Path, out: Path, seed: int = 0, pairs: int = 64
) -> tuple[Any, dict[str, Any], list[str]]:
    """Report both nets on the real clips of ``videos`` (``pairs`` pairs per factor, default
    samplers), write each report under ``out/<label>/`` and the comparison (``compare.csv``,
    ``compare.html``, ``compare_layers.png``, ``compare_units.png``) under ``out``.

    Returns:
        The :class:`~sdinterp.report.compare.Comparison`, the reports by label, and the warnings
        the runs raised (each once: both nets read the same clips).

    Raises:
        UsageError: no video files under ``videos``.
    """
    from sdinterp.cli_kit import UsageError
    from sdinterp.data.datasets import VideoClipDataset
    from sdinterp.report.compare import compare_reports

    entries = real_clip_entries(videos)
    if not entries:
        raise UsageError(f"--videos {videos}: no video files there; give a folder of .mp4/.avi/... clips")
    # Decoded once, shared by both models: 4 windows per video; pair i takes clip i mod len(clips).
    dataset = VideoClipDataset(entries, clip_length=16, num_frames=8, seed=seed, num_clips=min(pairs, 4 * len(entries)))
    clips = [_at_model_size(dataset[i]) for i in range(len(dataset))]
    reports = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for label, spec in MODELS.items():
            reports[label] = _real_clip_report(label, spec, clips, pairs, seed, out)
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    comparison = compare_reports(reports)
    comparison.write(out, formats=("png",))
    return comparison, reports, notes


def _real_clip_report(label: str, spec: str, clips: Any, pairs: int, seed: int, out: Path) -> Any:
    from sdinterp.adapt import load_model
    from sdinterp.cli_kit import weights_provenance
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.report.bundle import write_report_folder

    model = load_model(spec)
    report = StaticDynamic(model).attribute(clips, n_pairs=pairs, batch_size=32, seed=seed, show_progress=False)
    report.identity["model"] = {
        "spec": spec,
        "weights": weights_provenance(None, seed, model),
        **report.identity.get("model", {}),
    }
    (out / label).mkdir(parents=True, exist_ok=True)
    write_report_folder(report, out / label)
    return report
