"""Pairs at the model's resolution (docs/method.md §3, "Pairs at the model's resolution").

Tolerance, fixed before measuring: on a trained net (`tiny:i3d-motion` at crop 32, 128 generator
videos rendered at 96 px, default pairs), unit scores with and without the shrink correlate at
r >= 0.98 per factor with max |difference| <= 0.1, and at least 90% of the unit categories agree.
Measured when written: r >= 0.9956, max |d| 0.041, categories 94-100%.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sdinterp
from sdinterp.interfaces import Factor, PairSampler, Sample
from sdinterp.pipeline.inputs import to_working_size


def test_to_working_size_shrinks_never_enlarges_and_leaves_flow_clips_alone():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 96, 128, 3), dtype=np.uint8)
    s = Sample(frames=frames, meta={"unstyled": frames.copy()})
    small = to_working_size(s, (48, 64))
    assert small.frames.shape == (4, 48, 64, 3) and small.frames.dtype == np.uint8
    assert small.meta["unstyled"].shape == (4, 48, 64, 3)
    assert abs(float(small.frames.mean()) - float(frames.mean())) < 1.0  # an average, not a crop
    assert to_working_size(s, (192, 256)) is s and to_working_size(s, None) is s and to_working_size(s, (96, 128)) is s
    with_flow = Sample(frames=frames, flow=np.zeros((4, 96, 128, 2), np.float32))
    assert to_working_size(with_flow, (48, 64)) is with_flow


class _Seen(PairSampler):
    """A static sampler that records the frame size it is given."""

    factor, name = Factor.STATIC, "seen"

    def __init__(self, model_resolution: bool):
        self.model_resolution = model_resolution
        self.sizes: set[tuple[int, int]] = set()

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        self.sizes.add(anchor.frames.shape[1:3])
        return anchor.replace(views=tuple(rng.permutation(v) for v in anchor.view_indices()))


def test_samplers_see_the_models_size_only_when_both_allow_it():
    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    clips = [
        Sample(frames=np.random.default_rng(i).integers(0, 256, (8, 96, 120, 3), dtype=np.uint8), video_id=f"v{i}")
        for i in range(4)
    ]
    for allowed, size in ((True, (32, 40)), (False, (96, 120))):
        seen = _Seen(allowed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdinterp.StaticDynamic(adapter, layers=["stage3"], static_sampler=seen).attribute(
                clips, n_pairs=4, batch_size=12, seed=0, show_progress=False, validity=False
            )
        assert seen.sizes == {size}


@pytest.mark.slow
def test_scores_at_the_models_resolution_agree_with_full_resolution():
    from sdinterp.data.synthetic import SynthConfig
    from sdinterp.plugins.synthetic.pairs import synthetic_samples

    adapter = sdinterp.load_adapter("tiny:i3d-motion", crop_size=32)
    clips = synthetic_samples(
        SynthConfig(kind="motion", classes=2, videos=128, frames=8, size=96, seed=2), id_prefix="big-"
    )
    reports = {}
    for shrink in (True, False):
        sd = sdinterp.StaticDynamic(adapter, layers=["stage2", "stage3"])
        sd.static_sampler.model_resolution = sd.dynamic_sampler.model_resolution = shrink
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reports[shrink] = sd.attribute(
                clips, n_pairs=128, batch_size=48, seed=0, show_progress=False, validity=False
            )
    for layer in ("stage2", "stage3"):
        a, b = reports[True][layer], reports[False][layer]
        for factor in ("dynamic", "static"):
            x, y = np.asarray(a.unit_scores[factor]), np.asarray(b.unit_scores[factor])
            assert np.corrcoef(x, y)[0, 1] >= 0.98 and np.max(np.abs(x - y)) <= 0.1, (layer, factor)
        assert np.mean(np.asarray(a.categories) == np.asarray(b.categories)) >= 0.9, layer
