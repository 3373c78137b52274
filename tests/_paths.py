"""Where the suite's real data lives: ``../shared`` beside the repository (CI clones the repository
with ``../shared`` next to it). One place for the path; tests take the ``shared_videos`` fixture
(tests/conftest.py) or, where a module-level constant is needed, import :data:`VIDEOS` from here."""

from __future__ import annotations

from pathlib import Path

#: The repository root.
REPO = Path(__file__).resolve().parents[1]
#: ``../shared``: the paper, the method notes and the real clips.
SHARED = REPO.parent / "shared"
#: The real clips (vtest.avi, tree.avi, concert_176x144.mp4).
VIDEOS = SHARED / "data" / "videos"


def small_report_flags(n_pairs: int = 4) -> list[str]:
    """`sdinterp report` flags for a seconds-long torchvision r3d_18 run: stage2, 4 frames of 32 px
    from 8-frame windows, ``n_pairs`` pairs, no progress bar."""
    return [
        "--layers",
        "stage2",
        "--frames",
        "4",
        "--crop-size",
        "32",
        "--n-pairs",
        str(n_pairs),
        "--clip-length",
        "8",
        "--no-progress",
    ]
