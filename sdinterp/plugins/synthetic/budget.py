"""What ``sdinterp synth`` may take: every count that allocates or writes in proportion is checked
before the work, and refused in one line naming the flag and the limit.

* ``--videos``: at most :data:`MAX_VIDEOS` (``annotations.json`` holds every video's boxes and
  attributes in memory until it is written), and what the dataset will take on disk (the first
  videos are written to a scratch folder beside ``--out`` and measured, then scaled to ``--videos``)
  must fit in the disk's free space.
* ``--size`` and ``--frames``: one video is rendered in memory (float64 frames): its measured peak,
  :func:`render_bytes`, must fit in the memory available.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

from sdinterp.cli_kit import UsageError
from sdinterp.data.synthetic import SynthConfig

__all__ = ["MAX_VIDEOS", "render_bytes", "available_memory", "check_render_memory", "check_disk", "human"]

#: Most videos one dataset holds: its annotations (boxes of every frame) stay in memory until written.
MAX_VIDEOS = 100_000
#: Margin on the disk projection: videos of other classes and styles compress differently.
_DISK_MARGIN = 1.25
#: Videos written to measure the bytes per video (one per class, at most this many).
_PROBE_VIDEOS = 4


def human(n: float) -> str:
    """Bytes in a short readable form.

    Examples::

        >>> human(3 * 2**30)
        '3.0 GB'
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def render_bytes(config: SynthConfig) -> int:
    """Peak memory of rendering one video: ``size**2 * (72 * frames + 128)`` bytes, measured with
    tracemalloc on every kind (float64 RGB frames and their rounded copy, masks, coordinate grids).

    Examples::

        >>> render_bytes(SynthConfig(frames=16, size=64)) // 1024
        5120
    """
    return int(config.size) ** 2 * (72 * int(config.frames) + 128)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_render_memory(config: SynthConfig, available: int | None = None) -> None:
    """Refuse ``--size``/``--frames`` whose one video does not fit in memory.

    Raises:
        UsageError: naming both flags, the need and what is available.
    """
    free = available_memory() if available is None else available
    need = render_bytes(config)
    if free is not None and need > free:
        raise UsageError(
            f"--size {config.size} --frames {config.frames}: rendering one video takes about {human(need)} of "
            f"memory, more than the {human(free)} available; lower --size or --frames"
        )


def _disk_bytes(folder: Path) -> int:
    """Bytes the files under ``folder`` occupy on disk (allocated blocks, so tiny files count whole)."""
    total = 0
    for p in folder.rglob("*"):
        st = p.stat()
        total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def check_disk(config: SynthConfig, out: Path, fmt: str, masks: bool, styles: int) -> None:
    """Refuse ``--videos`` beyond :data:`MAX_VIDEOS` or beyond what the disk holding ``out`` can take.

    The bytes per video are measured by writing the first few videos (all styles and masks) to a
    scratch folder beside ``out``, removed afterwards.

    Raises:
        UsageError: naming ``--videos``, the projected size and the free space.
    """
    from sdinterp.plugins.synthetic.dataset import write_dataset

    if config.videos > MAX_VIDEOS:
        raise UsageError(
            f"--videos {config.videos}: at most {MAX_VIDEOS} videos per dataset (every video's annotations are "
            "held in memory until annotations.json is written); write several datasets with different --seed"
        )
    parent = out if out.is_dir() else out.parent
    probe = dataclasses.replace(config, videos=min(config.videos, config.classes, _PROBE_VIDEOS))
    with tempfile.TemporaryDirectory(prefix=".sdinterp-synth-probe-", dir=parent) as scratch:
        write_dataset(probe, scratch, fmt=fmt, masks=masks, styles=styles)  # type: ignore[arg-type]
        per_video = _disk_bytes(Path(scratch)) / probe.videos
    need = per_video * config.videos * _DISK_MARGIN
    free = shutil.disk_usage(parent).free
    if need > free:
        raise UsageError(
            f"--videos {config.videos}: the dataset would take about {human(need)} on disk "
            f"({human(per_video)} per video, measured on the first {probe.videos}), but {parent} has "
            f"{human(free)} free; lower --videos, --frames or --size, or free space"
        )
