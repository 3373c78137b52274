"""The bootstrap resamples source videos, not clips (docs/confidence.md, "Reused videos").

Criteria, fixed before measuring: on the embedded motion-trained I3D-like net with ground-truth
dynamic pairs, 12 independent sets of 16 probe videos, each used 8 times (128 pairs), give 95%
intervals of S_dyn (stage3) that contain the reference value (256 other videos) at least 10 times
of 12 (nominal 11.4; P(<= 9 | 0.95) = 2%); and the same clips, labelled as 128 distinct videos
(what a clip-keyed bootstrap assumes), give intervals at least 1.5x narrower — the overconfidence
the cluster bootstrap removes. Measured when written: cluster 12/12, median width 0.458; clips
as videos 9/12, width 0.189; standard deviation of the 12 estimates 0.088.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.interfaces import Sample
from sdinterp.replicates import cluster_weights

SETS, VIDEOS, REUSE = 12, 16, 8


def test_clips_of_one_video_share_their_counts():
    w = cluster_weights(3, 50)(["a.mp4", "b.mp4", "a.mp4"])
    assert torch.equal(w[:, 0], w[:, 2]) and not torch.equal(w[:, 0], w[:, 1])
    assert torch.equal(cluster_weights(3, 50)(["b.mp4"])[:, 0], w[:, 1])  # no dependence on the batch
    assert not torch.equal(cluster_weights(4, 50)(["a.mp4"]), cluster_weights(3, 50)(["a.mp4"]))


@pytest.fixture(scope="module")
def tiny_motion():
    from sdinterp.plugins.tiny_models.train import TinyTask, task_clips

    adapter = sdinterp.load_adapter("tiny:i3d-motion")
    sd = sdinterp.StaticDynamic(adapter, layers=["stage3"], dynamic_sampler="synthetic_restyle")
    pool = task_clips(TinyTask(kind="motion", val_videos=VIDEOS * SETS + 256), "probe", 0)
    return sd, pool


@pytest.mark.slow  # 59 s measured on 2 shared cores
def test_reused_videos_give_nominal_coverage(tiny_motion):
    sd, pool = tiny_motion
    run = dict(batch_size=96, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sd.attribute(pool[VIDEOS * SETS :], n_pairs=256, seed=5, **run)["stage3"].scores["dynamic"]
        hits, widths, naive_widths = 0, [], []
        for s in range(SETS):
            clips = pool[VIDEOS * s : VIDEOS * (s + 1)]
            report = sd.attribute(clips, n_pairs=VIDEOS * REUSE, seed=s, bootstrap=200, **run)
            assert report.sampling == {"clips": VIDEOS * REUSE, "videos": VIDEOS}
            lo, hi = report["stage3"].intervals["scores"]["dynamic"]
            hits += lo <= ref <= hi
            widths.append(hi - lo)
            if s < 4:  # the same pairs, each reuse claiming to be its own video
                as_videos = [
                    Sample(frames=c.frames, video_id=f"{c.video_id}#{i}", meta=c.meta, style=c.style)
                    for i, c in enumerate(clips[i % VIDEOS] for i in range(VIDEOS * REUSE))
                ]
                lo, hi = sd.attribute(as_videos, n_pairs=VIDEOS * REUSE, seed=s, bootstrap=200, **run)[
                    "stage3"
                ].intervals["scores"]["dynamic"]
                naive_widths.append(hi - lo)
    assert hits >= 10, (hits, widths)
    assert np.median(widths) >= 1.5 * np.median(naive_widths), (widths, naive_widths)
