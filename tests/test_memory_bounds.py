"""Memory follows what the model takes, not the source resolution (issue #23 item 3; docs/install.md,
"Memory"): frames shrink in uint8 as they are decoded, one at a time, to the pixels the executor
would have made; counts that allocate or write in proportion are refused before the work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sdinterp
from _paths import VIDEOS
from _videotools import write_frames
from sdinterp.data import VideoClipDataset, open_video, uniform_temporal_subsample
from sdinterp.data.resize import frame_bytes, shrink_frames
from sdinterp.data.video import Backend
from sdinterp.errors import ShortVideoWarning
from sdinterp.interfaces import Factor, PairSampler, Sample
from sdinterp.pipeline.inputs import decode_only_views, to_working_size
from sdinterp.plugin_manager import get_registry

TREE = VIDEOS / "tree.avi"


def test_reading_with_fit_gives_the_pixels_of_shrinking_the_whole_clip(tmp_path):
    folder = write_frames(tmp_path / "frames", open_video(TREE).read(range(6)))
    idx = [5, 0, 3, 3, 1]
    cases: list[tuple[Path, Backend]] = [(TREE, "decord"), (TREE, "pyav"), (folder, "auto")]
    for path, backend in cases:
        src = open_video(path, backend)
        full = src.read(idx)
        seen: list[tuple[int, int]] = []

        def fit(h: int, w: int, seen: list[tuple[int, int]] = seen) -> tuple[int, int]:
            seen.append((h, w))
            return (h // 3, w // 5)

        small = src.read(idx, fit=fit)
        assert small.dtype == np.uint8 and small.shape == (5, 80, 64, 3), backend
        assert np.array_equal(small, shrink_frames(full, (80, 64))), backend
        assert seen == [(240, 320)] * 4, backend  # one call per distinct frame, each at full size
        assert np.array_equal(src.read(idx, fit=lambda h, w: None), full)  # None keeps the frames


class _FullSize(PairSampler):
    """A sampler that needs the frames as read (as one reading other files or computing flow)."""

    factor, name, model_resolution = Factor.STATIC, "full_size", False

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        return anchor


def test_clip_preprocessing_makes_float_one_frame_at_a_time_with_the_whole_clips_values():
    import torch
    import torch.nn.functional as F

    from sdinterp.adapters._clip import ClipPreprocessor

    frames = np.random.default_rng(1).integers(0, 256, (6, 97, 131, 3), dtype=np.uint8)
    clip = ClipPreprocessor(6, 32, 40, mean=None, std=None, scale=1.0)
    whole = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    whole = F.interpolate(whole, size=(40, 54), mode="bilinear", align_corners=False, antialias=True)
    top, left = (40 - 32) // 2, (54 - 32) // 2
    expected = whole[..., top : top + 32, left : left + 32].permute(1, 0, 2, 3)
    assert torch.equal(clip.clip_tensor(frames), expected)


def _samplers(*names: str) -> tuple:
    return tuple(get_registry().create("sampler", n) for n in names)


def test_decode_time_shrink_gives_the_executors_pixels_only_where_samplers_allow_it():
    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    data = VideoClipDataset(TREE, clip_length=12, seed=3, style=None, num_clips=3)
    full = decode_only_views(data, adapter)
    shrunk = decode_only_views(data, adapter, _samplers("frame_shuffle", "restyle"))
    assert full.fit is None and shrunk.fit is not None
    assert shrunk.describe() == full.describe()  # the same run: the pixels do not change
    for i in range(len(data)):
        a, b = full[i], shrunk[i]
        size = adapter.working_size(*a.frames.shape[1:3])
        assert size is not None and b.frames.shape[1:3] == size
        assert np.array_equal(b.frames, to_working_size(a, size).frames)
        assert [v.tolist() for v in b.view_indices()] == [v.tolist() for v in a.view_indices()]
        assert to_working_size(b, adapter.working_size(*size)) is b  # the executor leaves it as is
    kept = decode_only_views(data, adapter, (*_samplers("frame_shuffle"), _FullSize()))
    assert kept.fit is None and kept[0].frames.shape[1:3] == (240, 320)  # as read: the sampler needs them


def test_a_long_clip_window_costs_only_the_frames_read():
    data = VideoClipDataset(TREE, clip_length=10**12, num_frames=4, seed=0, style=None)
    with pytest.warns(ShortVideoWarning, match="looped"):
        sample = data[0]
    assert sample.frames.shape == (4, 240, 320, 3) and sample.meta["start"] == 0
    viewed = VideoClipDataset(TREE, clip_length=10**12, seed=0, style=None)
    viewed = viewed.with_views(lambda n: (uniform_temporal_subsample(n, 3),))
    with pytest.warns(ShortVideoWarning, match="looped"):
        assert viewed[0].frames.shape[0] == 3


_RUN = """
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from sdinterp.cli import main
rc = main(sys.argv[2:])
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print("VMPEAK", int(status["VmPeak"].split()[0]) * 1024, file=sys.stderr)
sys.exit(rc)
"""

#: The ceiling (docs/install.md, "Memory"): the same report on a small video, plus this many
#: full-size RGB frames of the large one: the frame being decoded and the decoder's own buffers
#: (decord holds ~7), whatever the clip length, frames per clip or batch size.
DECODE_FRAMES = 16


def _report_peak(video: Path, out: Path, limit: int = 0) -> tuple[int, int, str]:
    """(exit status, peak address space in bytes, stderr) of a small report run in a subprocess."""
    args = ["report", "tiny:i3d-motion", str(video), "--layers", "stage2", "--crop-size", "32"]
    args += ["--clip-length", "16", "--n-pairs", "2", "--no-progress", "--quiet", "--json", str(out)]
    # One thread and two malloc arenas: the address space then does not depend on the core count.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    run = subprocess.run(
        [sys.executable, "-c", _RUN, str(limit), *args], env=env, capture_output=True, text=True, timeout=600
    )
    peaks = [int(line.split()[1]) for line in run.stderr.splitlines() if line.startswith("VMPEAK ")]
    return run.returncode, peaks[0] if peaks else 0, run.stderr


def _write_large(path: Path, h: int, w: int, frames: int = 3) -> Path:
    import av

    tile = np.random.default_rng(0).integers(0, 256, (h // 48, w // 48, 3), dtype=np.uint8)
    image = np.repeat(np.repeat(tile, 48, axis=0), 48, axis=1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(image, 8 * t, axis=1)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.slow  # ~55 s on 2 shared cores: encoding three 8K frames, two report subprocesses
def test_an_8k_report_fits_under_the_documented_address_space_ceiling(tmp_path):
    h, w = 4320, 7680
    small = _write_large(tmp_path / "small.mp4", 192, 336)
    large = _write_large(tmp_path / "large.mp4", h, w)
    rc, baseline, err = _report_peak(small, tmp_path / "small.json")
    assert rc == 0 and baseline > 0, err
    allowance = DECODE_FRAMES * frame_bytes(h, w)
    # Holding the run's clips at full size (2 clips x 16 window positions, the old path) cannot fit.
    assert 2 * 16 * frame_bytes(h, w) > allowance
    rc, peak, err = _report_peak(large, tmp_path / "large.json", limit=baseline + allowance)
    assert rc == 0, f"baseline {baseline / 2**20:.0f} MB + {allowance / 2**20:.0f} MB: {err[-2000:]}"
    assert json.loads((tmp_path / "large.json").read_text())["layers"]
    assert baseline < peak <= baseline + allowance
    print(f"address space: baseline {baseline / 2**20:.0f} MB, 8K run {peak / 2**20:.0f} MB")


def test_synth_counts_are_checked_before_anything_is_written(tmp_path, capsys, monkeypatch):
    from sdinterp.cli import main
    from sdinterp.plugins.synthetic import budget

    out = tmp_path / "ds"
    assert main(["synth", "--videos", str(10**9), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--videos {10**9}: at most {budget.MAX_VIDEOS} videos" in err[0]
    assert main(["synth", "--size", "50000", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size 50000 --frames 16: rendering one video takes about" in err[0]

    class Usage:
        free = 10 * 2**20  # a disk with 10 MB free

    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: Usage)
    args = ["synth", "--videos", "2000", "--frames", "8", "--size", "48", "--out", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--videos 2000: the dataset would take about" in err[0] and "10.0 MB free" in err[0]
    assert sorted(os.listdir(tmp_path)) == []  # neither the dataset nor the scratch probe is left
    assert main(["synth", "--videos", "20", "--frames", "8", "--size", "48", "--out", str(out)]) == 0
    assert len(list((out / "videos").iterdir())) == 20
