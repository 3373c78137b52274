"""Check a whole video dataset and report every problem at once (``sdinterp scan``).

Readers stop at the first bad file; a scan opens every video of every style and every flow image
and collects all problems, so a broken dataset is fixed in one pass instead of one crash at a time.

:func:`scan_dataset` is the one set of checks: ``sdinterp scan`` prints what it finds and ``sdinterp
report`` (and every command reading videos) refuses the same errors before any model is loaded, so
the two cannot disagree. Problems are errors, warnings (something the readers handle, e.g. looped
short videos) or notes (e.g. frames far larger than any model input, which cost memory to decode).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sdinterp.data.images import not_an_image
from sdinterp.data.layouts import Layout, Problem, VideoEntry, discover, flow_image_paths
from sdinterp.data.resize import frame_bytes
from sdinterp.data.video import (
    Backend,
    ColorMode,
    FrameFolderSource,
    VideoReadError,
    VideoSource,
    list_frames,
    open_video,
)

__all__ = ["MIN_FRAMES", "LARGE_FRAME_PIXELS", "check_entry", "scan_dataset"]

#: Fewest frames a usable video has: a static pair needs two different frames (a frame-shuffled
#: clip of one frame is the clip itself).
MIN_FRAMES = 2
#: Frames with more pixels than this (Full HD) get a ``resolution`` note: they are far larger than
#: any model input, and each decoded frame costs memory in proportion (docs/install.md, "Memory").
LARGE_FRAME_PIXELS = 1920 * 1080


def _image_header(path: Path) -> tuple[tuple[int, int], str] | str:
    """((H, W), mode) from an image header, or an error message."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return (im.height, im.width), im.mode
    except (OSError, ValueError, SyntaxError) as exc:
        return f"cannot read image ({type(exc).__name__}: {exc})"


def _check_folder(src: FrameFolderSource, color: ColorMode, deep: bool) -> tuple[list[Problem], tuple[int, int] | None]:
    problems: list[Problem] = []
    size: tuple[int, int] | None = None
    odd_modes: dict[str, list[str]] = {}
    for f in src.files:
        head = _image_header(f)
        if isinstance(head, str):
            problems.append(Problem(str(f), not_an_image(f) or head, "unreadable"))
            continue
        hw, mode = head
        if size is None:
            size = hw
        elif hw != size:
            problems.append(
                Problem(
                    str(f),
                    f"frame is {hw[0]}x{hw[1]} but the first frame of {src.path} is {size[0]}x{size[1]}",
                    "frame_size",
                )
            )
        if mode != "RGB":
            odd_modes.setdefault(mode, []).append(f.name)
        if deep:
            try:
                from sdinterp.data.video import read_image

                read_image(f, "convert")
            except VideoReadError as exc:
                problems.append(Problem(str(f), str(exc)[len(str(f)) + 2 :], "unreadable"))
    for mode, names in odd_modes.items():
        strict = color == "strict"
        what = "are rejected (color='strict')" if strict else "are converted to RGB"
        problems.append(
            Problem(
                src.path,
                f"{len(names)} frame(s) in mode {mode!r}, not RGB, {what}: "
                f"{', '.join(names[:3])}{'...' if len(names) > 3 else ''}",
                "color",
                "error" if strict else "warning",
            )
        )
    return problems, size


def _check_video(
    path: str, backend: Backend, color: ColorMode, deep: bool
) -> tuple[list[Problem], VideoSource | None, tuple[int, int] | None]:
    try:
        src = open_video(path, backend, color)
    except VideoReadError as exc:
        msg = str(exc)[len(exc.path) + 2 :]
        kind = "empty" if ("empty" in msg or "no frames" in msg) else "unreadable"
        return [Problem(path, msg, kind)], None, None
    if isinstance(src, FrameFolderSource):
        problems, size = _check_folder(src, color, deep)
        return problems, src, size
    n = len(src)
    probe = np.arange(n) if deep else np.unique([0, n // 2, n - 1])
    size = None
    try:
        for _, frame in src.iter_frames(probe):  # one frame at a time: an 8K video costs one frame
            size = (int(frame.shape[0]), int(frame.shape[1]))
    except VideoReadError as exc:
        return [Problem(path, str(exc)[len(exc.path) + 2 :], "unreadable")], src, None
    return [], src, size


def _resolution_note(path: str, size: tuple[int, int]) -> Problem:
    h, w = size
    return Problem(
        path,
        f"frames are {w}x{h} ({frame_bytes(h, w) / 2**20:.0f} MB each as RGB), far larger than a model input: "
        "with the default samplers each is shrunk to the model's input as it is decoded, one at a time "
        "(docs/install.md, 'Memory'); resizing the videos beforehand makes runs faster",
        "resolution",
        "note",
    )


def check_entry(
    entry: VideoEntry,
    min_frames: int = MIN_FRAMES,
    color: ColorMode = "convert",
    backend: Backend = "auto",
    deep: bool = False,
    clip_length: int | None = None,
) -> list[Problem]:
    """Every problem of one video entry: each style's file, frame counts and sizes across styles,
    and its flow images.

    Args:
        entry: the video (see :func:`sdinterp.data.datasets.discover`).
        min_frames: fewer frames than this is a problem (the clip length, when videos are not cycled);
            never fewer than :data:`MIN_FRAMES`, which every run needs.
        color: ``"strict"`` makes non-RGB frames errors; ``"convert"`` reports them as warnings.
        backend: decoder for video files.
        deep: decode every frame (slow) instead of the first, middle and last frame and image headers.
        clip_length: a clip window; a video with fewer frames gets a ``short`` warning (its frames
            will be looped to fill the window).

    Returns:
        The problems, possibly empty.

    Examples::

        >>> [str(p) for p in check_entry(VideoEntry("v", {None: "v.mp4"}), min_frames=64)]  # doctest: +SKIP
        ['v.mp4: has 40 frames, fewer than the 64 required']
    """
    problems: list[Problem] = []
    counts: dict[Any, tuple[str, int, tuple[int, int] | None]] = {}
    first_src: VideoSource | None = None
    for style, path in entry.sources.items():
        probs, src, size = _check_video(str(path), backend, color, deep)
        problems += probs
        if src is None:
            continue
        first_src = first_src or src
        n = len(src)
        if n < MIN_FRAMES:
            problems.append(
                Problem(
                    str(path),
                    f"has {n} frame(s): a static pair needs at least {MIN_FRAMES} different frames "
                    "(a frame-shuffled clip of one frame is the clip itself)",
                    "too_short",
                )
            )
        elif n < min_frames:
            problems.append(Problem(str(path), f"has {n} frame(s), fewer than the {min_frames} required", "too_short"))
        elif clip_length is not None and n < clip_length:
            problems.append(
                Problem(
                    str(path),
                    f"has {n} frames, fewer than the {clip_length}-frame clip window: "
                    "its frames are looped to fill it (reference behaviour)",
                    "short",
                    "warning",
                )
            )
        if size is not None and size[0] * size[1] > LARGE_FRAME_PIXELS:
            problems.append(_resolution_note(str(path), size))
        counts[style] = (str(path), n, size)
    if len(counts) > 1:
        (ref_style, (ref_path, ref_n, ref_size)), *rest = counts.items()
        for style, (path, n, size) in rest:
            if n != ref_n:
                problems.append(
                    Problem(
                        path,
                        f"style {style!r} has {n} frames but style {ref_style!r} ({ref_path}) has {ref_n}",
                        "frame_count",
                    )
                )
            if size is not None and ref_size is not None and size != ref_size:
                problems.append(
                    Problem(
                        path,
                        f"style {style!r} frames are {size[0]}x{size[1]} but style "
                        f"{ref_style!r} ({ref_path}) frames are {ref_size[0]}x{ref_size[1]}",
                        "frame_size",
                    )
                )
    if entry.flow_dir is not None and first_src is not None:
        problems += _check_flow(entry, first_src, next(iter(counts.values()))[2] if counts else None)
    return problems


def _check_flow(entry: VideoEntry, src: VideoSource, size: tuple[int, int] | None) -> list[Problem]:
    problems = []
    flows = list_frames(entry.flow_dir) if entry.flow_dir and Path(entry.flow_dir).is_dir() else []
    if not flows:
        return [Problem(str(entry.flow_dir), "flow folder has no images", "flow_missing")]
    try:
        paths = flow_image_paths(entry, src)
    except VideoReadError as exc:
        return [Problem(exc.path, str(exc)[len(exc.path) + 2 :], "flow_count")]
    if len(paths) < len(src) - 1:
        problems.append(Problem(str(entry.flow_dir), f"{len(paths)} flow images for {len(src)} frames", "flow_count"))
    for p in paths:
        head = _image_header(p)
        if isinstance(head, str):
            problems.append(Problem(str(p), head, "unreadable"))
        elif size is not None and head[0] != size:
            problems.append(
                Problem(
                    str(p),
                    f"flow image is {head[0][0]}x{head[0][1]} but the frames are {size[0]}x{size[1]}",
                    "flow_size",
                )
            )
        elif head[1] not in ("RGB", "RGBA"):
            problems.append(Problem(str(p), f"flow image has mode {head[1]!r}, not RGB", "flow_size"))
    return problems


def scan_dataset(
    root: str | os.PathLike[str],
    layout: Layout = "auto",
    min_frames: int = MIN_FRAMES,
    color: ColorMode = "convert",
    backend: Backend = "auto",
    deep: bool = False,
    layout_options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, VideoEntry], None] | None = None,
    clip_length: int | None = None,
) -> tuple[list[VideoEntry], list[Problem]]:
    """Discover a dataset and check every video, collecting all problems.

    Args:
        root: dataset root or a single video file.
        layout: see :func:`sdinterp.data.datasets.discover`.
        min_frames, color, backend, deep, clip_length: see :func:`check_entry`.
        layout_options: extra options of the layout (``styles``, ``split``...).
        progress: called as ``progress(i, n, entry)`` before each entry.

    Returns:
        (entries found, problems); errors, warnings and notes are told apart by ``Problem.severity``.

    Examples::

        >>> entries, problems = scan_dataset("stylized_ssv2", min_frames=64)    # doctest: +SKIP
        >>> [str(p) for p in problems if p.severity == "error"]                  # doctest: +SKIP
    """
    entries, problems = discover(root, layout, **dict(layout_options or {}))
    for i, entry in enumerate(entries):
        if progress is not None:
            progress(i, len(entries), entry)
        problems += check_entry(entry, min_frames, color, backend, deep, clip_length)
    return entries, problems
