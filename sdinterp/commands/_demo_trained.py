"""The trained half of ``sdinterp demo``: the embedded seed-0 tiny nets of the motion-class and the
appearance-class task (the same I3D-like architecture, trained on the synthetic generator's videos;
docs/tiny_models.md), each reported on real clips, then put side by side.

The nets come through their model specs (``tiny:i3d-motion``, ``tiny:i3d-appearance``), i.e.
through the plugins, as any user's model does. Real clips are read at the nets' own input: 8 frames
of 32 x 32 (short side resized to 32, centre crop, once, before pairing), from 16-frame windows,
four per video, decoded once; each model's pairs cycle over them with their own shuffles and styles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MODELS", "DEFAULT_VIDEOS", "real_clip_entries", "trained_comparison"]

#: Label -> model spec of the two nets compared.
MODELS = {"motion-class": "tiny:i3d-motion", "appearance-class": "tiny:i3d-appearance"}
#: Where the real clips are, beside a clone of the repository (../shared/data/videos).
DEFAULT_VIDEOS = Path("..") / "shared" / "data" / "videos"


def real_clip_entries(videos: Path) -> list[Any]:
    """The video files (not frame folders or loose images) under ``videos``."""
    from sdinterp.data.layouts import find_videos
    from sdinterp.data.video import VIDEO_EXTENSIONS

    return [e for e in find_videos(videos) if all(Path(p).suffix.lower() in VIDEO_EXTENSIONS for p in e.sources.values())]


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
    return sample.replace(frames=np.ascontiguousarray(frames[:, y0:y0 + side, x0:x0 + side]))


def trained_comparison(videos: Path, out: Path, seed: int = 0, pairs: int = 64) -> Any:
    """Report both nets on the real clips of ``videos`` (``pairs`` pairs per factor, default
    samplers), write each report under ``out/<label>/`` and the comparison (``compare.csv``,
    ``compare.html``, ``compare_layers.png``, ``compare_units.png``) under ``out``.

    Returns:
        The :class:`~sdinterp.report.compare.Comparison`.

    Raises:
        UsageError: no video files under ``videos``.
    """
    from sdinterp.adapt import load_model
    from sdinterp.cli_kit import UsageError, weights_provenance
    from sdinterp.data.datasets import VideoClipDataset
    from sdinterp.pipeline import StaticDynamic
    from sdinterp.report.bundle import write_report_folder
    from sdinterp.report.compare import compare_reports

    entries = real_clip_entries(videos)
    if not entries:
        raise UsageError(f"--videos {videos}: no video files there; give a folder of .mp4/.avi/... clips")
    # Decoded once, shared by both models: 4 windows per video; pair i takes clip i mod len(clips).
    dataset = VideoClipDataset(entries, clip_length=16, num_frames=8, seed=seed, num_clips=min(pairs, 4 * len(entries)))
    clips = [_at_model_size(dataset[i]) for i in range(len(dataset))]
    reports = {}
    for label, spec in MODELS.items():
        model = load_model(spec)
        sd = StaticDynamic(model)
        report = sd.attribute(clips, n_pairs=pairs, batch_size=32, seed=seed, show_progress=False)
        report.config["model"] = {"spec": spec, "weights": weights_provenance(None, seed, model), **report.config.get("model", {})}
        (out / label).mkdir(parents=True, exist_ok=True)
        write_report_folder(report, out / label)
        reports[label] = report
    comparison = compare_reports(reports)
    comparison.write(out, formats=("png",))
    return comparison
