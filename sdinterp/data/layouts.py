"""Dataset layouts: which videos a dataset root holds, in which styles, with which flow.

Layouts (reference: YorkUCVIL/Static-Dynamic-Interpretability, ``dataset_factory/ssv2.py`` and
``StylizedDAVIS.py``):

* plain: any video files (mp4, avi, mkv, webm, mov) and frame folders under a root;
* stylized action recognition: ``root/style_<k>/<video>/<frames>`` (or ``root/style_<k>/<video>.mp4``),
  every video present in every style with the same number of frames;
* Stylized-DAVIS: ``root/JPEGImages/<Style>/<seq>/*.jpg`` for the styles Lynx, Maruska640, Zuzka1,
  Zuzka2 (styles 1-4 of the reference) and RGB flow images ``root/FlowImages_gap1/<seq>/*.png``,
  one per frame except the last (the reference drops the last frame of every sequence).

Discovery only lists directories; it reports structural problems (a video missing from one style)
without opening files. :mod:`sdinterp.data.scan` opens every file and reports everything at once;
:mod:`sdinterp.data.datasets` turns entries into clips.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from sdinterp.data.video import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoReadError,
    VideoSource,
    list_frames,
    natural_key,
)

__all__ = [
    "DAVIS_STYLES",
    "Layout",
    "Problem",
    "VideoEntry",
    "find_videos",
    "stylized_layout",
    "davis_layout",
    "detect_layout",
    "discover",
    "flow_image_paths",
]

Style = int | str
Layout = Literal["auto", "plain", "stylized", "davis"]

#: Stylized-DAVIS style folders; the reference calls them styles 1-4 (``StylizedDAVIS.style_map``).
DAVIS_STYLES: tuple[str, ...] = ("Lynx", "Maruska640", "Zuzka1", "Zuzka2")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem found in a dataset: the offending file or folder, what is wrong, a kind
    (``unreadable``, ``empty``, ``too_short``, ``color``, ``frame_size``, ``missing_style``,
    ``frame_count``, ``flow_missing``, ``flow_count``, ``flow_size``, ``layout``) and a severity
    (``"error"``, or ``"warning"`` for something the readers handle, e.g. grayscale frames that are
    converted)."""

    path: str
    message: str
    kind: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclasses.dataclass(frozen=True)
class VideoEntry:
    """One video of a dataset, possibly in several styles.

    Attributes:
        video_id: a stable name (relative path without extension).
        sources: style -> video file or frame folder; the key ``None`` is an unstyled video.
        flow_dir: folder of precomputed RGB flow images, one per frame (Stylized-DAVIS), if any.
    """

    video_id: str
    sources: Mapping[Any, str]
    flow_dir: str | None = None

    @property
    def styles(self) -> list[Style | None]:
        return list(self.sources)


def _is_frame_dir(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir())


def _video_like(folder: Path) -> dict[str, Path]:
    """Immediate children of ``folder`` that are videos: video files (by stem) and frame folders."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir(), key=lambda q: natural_key(q.name)):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            out[p.stem] = p
        elif p.is_dir():
            out[p.name] = p
    return out


def find_videos(root: str | os.PathLike[str]) -> list[VideoEntry]:
    """Every video file and frame folder under ``root`` (recursively), as unstyled entries.

    Examples::

        >>> [e.video_id for e in find_videos("../shared/data/videos")]        # doctest: +SKIP
        ['concert_176x144', 'tree', 'vtest']
    """
    root = Path(root)
    if root.is_file():
        return [VideoEntry(root.stem, {None: str(root)})]
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        d = Path(dirpath)
        if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
            entries.append(VideoEntry(str(d.relative_to(root)).replace(os.sep, "/"), {None: str(d)}))
        for f in filenames:
            if Path(f).suffix.lower() in VIDEO_EXTENSIONS and not f.startswith("."):
                rel = (d / f).relative_to(root).with_suffix("")
                entries.append(VideoEntry(str(rel).replace(os.sep, "/"), {None: str(d / f)}))
    return sorted(entries, key=lambda e: natural_key(e.video_id))


def _style_id(name: str) -> Style:
    return int(name) if name.isdigit() else name


def _collect_styles(folders: Mapping[Any, Path], what: str) -> tuple[dict[str, dict[Any, str]], list[Problem]]:
    """Videos per style folder, and a problem for every video missing from some style."""
    per_style = {style: _video_like(folder) for style, folder in folders.items()}
    names = sorted(set().union(*[set(v) for v in per_style.values()]), key=natural_key) if per_style else []
    videos: dict[str, dict[Any, str]] = {}
    problems = []
    for name in names:
        have = {s: str(v[name]) for s, v in per_style.items() if name in v}
        missing = [s for s in per_style if s not in have]
        if missing:
            for s in missing:
                problems.append(
                    Problem(
                        str(folders[s] / name),
                        f"{what} {name!r} is missing from style {s!r} (present in styles {list(have)})",
                        "missing_style",
                    )
                )
            continue
        videos[name] = have
    return videos, problems


def stylized_layout(
    root: str | os.PathLike[str], styles: Sequence[Style] | None = None
) -> tuple[list[VideoEntry], list[Problem]]:
    """Entries of a ``root/style_<k>/<video>`` dataset and its structural problems.

    Args:
        root: folder holding ``style_1``, ``style_2``...
        styles: the styles to use (default: every ``style_*`` folder).

    Returns:
        (entries with one source per style, problems). A video missing from a style is a problem and
        is left out of the entries.

    Examples::

        >>> entries, problems = stylized_layout("stylized_ssv2")             # doctest: +SKIP
    """
    root = Path(root)
    found = {_style_id(p.name[len("style_") :]): p for p in sorted(root.glob("style_*")) if p.is_dir()}
    if styles is not None:
        absent = [s for s in styles if s not in found]
        if absent:
            return [], [
                Problem(str(root / f"style_{s}"), f"style folder for style {s!r} not found", "layout") for s in absent
            ]
        found = {s: found[s] for s in styles}
    if not found:
        return [], [Problem(str(root), "no style_<k> folders found", "layout")]
    videos, problems = _collect_styles(found, "video")
    return [VideoEntry(name, srcs) for name, srcs in videos.items()], problems


def davis_layout(
    root: str | os.PathLike[str],
    styles: Sequence[str] = DAVIS_STYLES,
    split: str | None = None,
    flow_folder: str = "FlowImages_gap1",
    stylized_root: str | os.PathLike[str] | None = None,
) -> tuple[list[VideoEntry], list[Problem]]:
    """Entries of a Stylized-DAVIS dataset and its structural problems.

    Args:
        root: DAVIS root holding ``FlowImages_gap1`` (and ``ImageSets/480p/<split>.txt``).
        styles: style folder names under ``JPEGImages``.
        split: ``"val"`` etc. to keep only the sequences listed in ``ImageSets/480p/<split>.txt``
            (the reference uses the 20 ``val`` sequences); ``None`` keeps every sequence.
        flow_folder: flow image folder name (``FlowImages_gap-1`` for backward flow).
        stylized_root: where ``JPEGImages/<Style>`` lives, if not under ``root``.

    Returns:
        (entries with one source per style and ``flow_dir`` set, problems).

    Examples::

        >>> entries, problems = davis_layout("DAVIS", split="val")            # doctest: +SKIP
    """
    root = Path(root)
    sroot = Path(stylized_root) if stylized_root is not None else root
    folders = {s: sroot / "JPEGImages" / s for s in styles}
    problems = [
        Problem(str(p), f"style folder for style {s!r} not found", "layout")
        for s, p in folders.items()
        if not p.is_dir()
    ]
    if problems:
        return [], problems
    seqs, problems = _collect_styles(folders, "sequence")
    if split is not None:
        listing = root / "ImageSets" / "480p" / f"{split}.txt"
        if not listing.is_file():
            return [], problems + [Problem(str(listing), f"split file for split {split!r} not found", "layout")]
        wanted = []
        for line in listing.read_text().splitlines():
            if line.strip():
                parts = Path(line.split()[0]).parts
                wanted.append(parts[-2] if len(parts) >= 2 else parts[-1])
        wanted = list(dict.fromkeys(wanted))
        reported = {Path(p.path).name for p in problems}
        for w in wanted:
            if w not in seqs and w not in reported:
                problems.append(
                    Problem(
                        str(folders[styles[0]] / w),
                        f"sequence {w!r} of split {split!r} has no stylized frames",
                        "missing_style",
                    )
                )
        seqs = {w: seqs[w] for w in wanted if w in seqs}
    entries = []
    for name, srcs in seqs.items():
        flow_dir = root / flow_folder / name
        if not flow_dir.is_dir():
            problems.append(Problem(str(flow_dir), f"flow folder of sequence {name!r} not found", "flow_missing"))
            continue
        entries.append(VideoEntry(name, srcs, str(flow_dir)))
    return entries, problems


def detect_layout(root: str | os.PathLike[str]) -> Literal["plain", "stylized", "davis"]:
    """``davis`` when ``root/JPEGImages`` exists, ``stylized`` when ``root/style_*`` folders exist,
    ``plain`` otherwise."""
    root = Path(root)
    if (root / "JPEGImages").is_dir():
        return "davis"
    if root.is_dir() and any(p.is_dir() for p in root.glob("style_*")):
        return "stylized"
    return "plain"


def discover(
    root: str | os.PathLike[str], layout: Layout = "auto", **options: Any
) -> tuple[list[VideoEntry], list[Problem]]:
    """Entries and structural problems of a dataset root in any supported layout.

    Args:
        root: the dataset root (or one video file for ``plain``).
        layout: ``"auto"`` (see :func:`detect_layout`), ``"plain"``, ``"stylized"`` or ``"davis"``.
        **options: passed to :func:`stylized_layout` / :func:`davis_layout`.

    Returns:
        (entries, structural problems).

    Examples::

        >>> entries, problems = discover("../shared/data/videos")        # doctest: +SKIP
    """
    root = Path(root)
    if not root.exists():
        return [], [Problem(str(root), "dataset root not found", "layout")]
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "davis":
        return davis_layout(root, **options)
    if layout == "stylized":
        return stylized_layout(root, **options)
    if layout == "plain":
        entries = find_videos(root)
        return entries, ([] if entries else [Problem(str(root), "no videos or frame folders found", "layout")])
    raise ValueError(f"unknown layout {layout!r}; expected 'auto', 'plain', 'stylized' or 'davis'")


def flow_image_paths(entry: VideoEntry, source: VideoSource) -> list[Path]:
    """The flow image of each frame of ``source`` (matched by file stem for frame folders).

    Every frame but the last needs a flow image (the reference drops the last frame); a flow image
    for the last frame is used when present.

    Args:
        entry: a video with ``flow_dir`` set.
        source: the opened video (any style: all styles share the original's flow).

    Returns:
        One path per frame, possibly without the last frame.

    Examples::

        >>> flow_image_paths(entry, open_video(entry.sources["Lynx"]))[0].name   # doctest: +SKIP
        '00000.png'

    Raises:
        VideoReadError: naming the flow folder or the missing flow file.
    """
    if entry.flow_dir is None:
        raise VideoReadError(entry.video_id, "this video has no flow folder")
    flows = list_frames(entry.flow_dir)
    files = getattr(source, "files", None)
    if files is not None:
        by_stem = {p.stem: p for p in flows}
        out = [by_stem.get(f.stem) for f in files]
        for f, fl in zip(files[:-1], out[:-1]):
            if fl is None:
                raise VideoReadError(Path(entry.flow_dir) / f"{f.stem}.png", f"flow image for frame {f.name} not found")
        return [p for p in out if p is not None]
    if len(flows) not in (len(source), len(source) - 1):
        raise VideoReadError(entry.flow_dir, f"{len(flows)} flow images for {len(source)} frames of {source.path}")
    return flows
