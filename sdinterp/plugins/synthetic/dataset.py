"""Writing a synthetic dataset to disk, as any other dataset the toolkit reads, and reading its labels.

Layout of ``OUT``::

    OUT/videos/v00000/0000.png ...   frame folders (``--format frames``, lossless), or
    OUT/videos/v00000.avi            lossless FFV1 (``--format avi``) / v00000.mp4 H.264 (``--format mp4``, lossy)
    OUT/masks/v00000/0000.png ...    the object's mask of every frame (0 / 255)
    OUT/videos/style_<k>/v00000/...  with ``--styles K``: style 0 (the videos themselves) to K (their
                                     restylings: same trajectory and shape, new colours and textures),
                                     the stylized layout the ``prestylized`` sampler reads
    OUT/labels.csv                   video_id,label,path
    OUT/annotations.json             the config, and per video its label, drawn attributes and boxes

``OUT/videos`` is a plain dataset root: ``sdinterp scan OUT/videos``, ``sdinterp report MODEL
OUT/videos`` and :class:`~sdinterp.data.VideoClipDataset` read it like any other; the masks live
outside it so they are never taken for videos.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sdinterp.data.synthetic import SynthConfig, SynthVideo, render_video

__all__ = ["generate", "write_dataset", "read_labels", "FORMATS"]

Format = Literal["frames", "avi", "mp4"]
FORMATS: tuple[str, ...] = ("frames", "avi", "mp4")


def generate(config: SynthConfig) -> Iterator[tuple[str, SynthVideo]]:
    """Every video of a dataset in memory, as ``(video_id, SynthVideo)`` (for training loops that
    need no files).

    Examples:
        >>> from sdinterp.data.synthetic import SynthConfig
        >>> [vid for vid, _ in generate(SynthConfig(videos=2, frames=2, size=16))]
        ['v00000', 'v00001']
    """
    for i in range(config.videos):
        yield f"v{i:05d}", render_video(config, i)


def _write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), image[..., ::-1] if image.ndim == 3 else image):
        raise OSError(f"cannot write {path}")


def _write_video(path: Path, frames: np.ndarray, fmt: Format) -> None:
    import av

    codec, pix = ("ffv1", "bgr0") if fmt == "avi" else ("libx264", "yuv420p")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix
        if fmt == "mp4":
            stream.options = {"crf": "12"}  # near-lossless: colour and texture survive the codec
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_frames(folder: Path, vid: str, frames: np.ndarray, fmt: Format) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt != "frames":
        path = folder / f"{vid}.{fmt}"
        _write_video(path, frames, fmt)
        return path
    path = folder / vid
    path.mkdir(exist_ok=True)
    for t, frame in enumerate(frames):
        _write_png(path / f"{t:04d}.png", frame)
    return path


def write_dataset(
    config: SynthConfig, out: str | os.PathLike[str], fmt: Format = "frames", masks: bool = True, styles: int = 0
) -> Path:
    """Render a dataset and write it under ``out`` (layout in the module docstring).

    Args:
        config: the dataset.
        out: the output folder (created; files of an earlier dataset there are overwritten).
        fmt: ``frames`` (PNG folders, lossless), ``avi`` (FFV1, lossless) or ``mp4`` (H.264, even sizes only).
        masks: also write the per-frame masks (shared by every style: a restyling keeps the shape).
        styles: write style folders 0..``styles`` (0: no style folders).

    Returns:
        The dataset root to give the toolkit (``out/videos``).

    Raises:
        ValueError: an unknown format, or an odd size for mp4.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "mp4" and config.size % 2:
        raise ValueError(f"--format mp4 needs an even --size (H.264 4:2:0), got {config.size}")
    if isinstance(styles, bool) or not isinstance(styles, int) or styles < 0:
        raise ValueError(f"styles must be an integer >= 0, got {styles!r}")
    root = Path(out)
    videos, mask_root = root / "videos", root / "masks"
    videos.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    notes: dict[str, Any] = {}
    for vid, video in generate(config):
        if styles:
            index = int(vid[1:])
            path = _write_frames(videos / "style_0", vid, video.frames, fmt)
            for k in range(1, styles + 1):
                _write_frames(videos / f"style_{k}", vid, render_video(config, index, style=k).frames, fmt)
        else:
            path = _write_frames(videos, vid, video.frames, fmt)
        if masks:
            folder = mask_root / vid
            folder.mkdir(parents=True, exist_ok=True)
            for t, m in enumerate(video.masks):
                _write_png(folder / f"{t:04d}.png", m.astype(np.uint8) * 255)
        rows.append({"video_id": vid, "label": video.label, "path": str(path.relative_to(root))})
        notes[vid] = {"label": video.label, "params": video.params, "boxes": video.boxes.tolist()}
    with open(root / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["video_id", "label", "path"])
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "format": "sdinterp.synthetic/1",
        "config": {**vars(config)},
        "video_format": fmt,
        "styles": styles,
        "carried_by": {
            "appearance": ["appearance"],
            "motion": ["motion"],
            "both": ["appearance", "motion"],
            "camouflage": ["motion"],
            # the appearance cue of a shortcut split names the class for a share `cue` of each class
            "shortcut": ["motion"],
            "joint": ["appearance", "motion"],
        }[config.kind],
        "videos": notes,
    }
    (root / "annotations.json").write_text(json.dumps(meta, indent=1))
    return videos


def read_labels(out: str | os.PathLike[str]) -> dict[str, int]:
    """``{video_id: label}`` of a written dataset (``OUT/labels.csv``).

    Video ids are the names :func:`sdinterp.data.find_videos` gives the videos of ``OUT/videos``,
    so a clip's label is ``read_labels(out)[clip.video_id]``.
    """
    with open(Path(out) / "labels.csv", newline="") as fh:
        return {row["video_id"]: int(row["label"]) for row in csv.DictReader(fh)}
