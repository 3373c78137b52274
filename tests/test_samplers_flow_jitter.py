"""FlowJitter: the reference's static pair for two-stream models (same image, jittered flow image)."""

from __future__ import annotations

import numpy as np
import pytest

from _videotools import VIDEOS, moving_texture
from sdinterp.data.flow import clip_flow, flow_to_rgb
from sdinterp.data.video import read_image
from sdinterp.interfaces import Factor, Sample
from sdinterp.plugins.samplers.flow_jitter import FlowJitter, adjust_hue, adjust_saturation


def two_stream_sample() -> Sample:
    frames = moving_texture(4, 48, 64, shift=(2, 1))
    return Sample(frames=frames, flow=clip_flow(frames), video_id="synthetic", frame_indices=np.arange(4))


def test_image_identical_flow_jittered_per_frame() -> None:
    sampler = FlowJitter()
    assert sampler.factor is Factor.STATIC
    rng = np.random.default_rng(0)
    anchor = sampler.anchor(two_stream_sample(), rng)
    assert anchor.flow.dtype == np.uint8 and anchor.flow.shape == (4, 48, 64, 3)  # float flow encoded
    partner = sampler.partner(anchor, rng)
    assert partner.frames is anchor.frames  # the image is untouched
    np.testing.assert_array_equal(partner.frame_indices, anchor.frame_indices)
    assert partner.flow.shape == anchor.flow.shape and partner.flow.dtype == np.uint8
    diffs = [np.abs(partner.flow[t].astype(int) - anchor.flow[t]).mean() for t in range(4)]
    assert min(diffs) > 0.5
    params = partner.meta["flow_jitter"]
    assert len(params) == 4 and len({p[:2] for p in params}) == 4  # drawn independently per frame


def test_jitter_parameter_ranges_follow_the_reference() -> None:
    # h ~ U(0.1, 0.5), s ~ U(0.1, 1.0); hue shift ~ U(-h, h); saturation ~ U(max(0, 1 - s), 1 + s)
    rng = np.random.default_rng(1)
    draws = np.array([FlowJitter().draw(rng)[:2] for _ in range(20000)])
    hue, sat = draws[:, 0], draws[:, 1]
    assert hue.min() >= -0.5 and hue.max() <= 0.5 and hue.min() < -0.45 and hue.max() > 0.45
    assert sat.min() >= 0.0 and sat.max() <= 2.0 and sat.min() < 0.05 and sat.max() > 1.95
    assert abs(np.abs(hue).mean() - 0.15) < 0.005  # E|U(-h, h)| = E[h] / 2 = 0.15
    assert abs(sat.mean() - 1.0) < 0.01
    # |shift| <= 0.1 is always possible, |shift| > 0.45 needs h > 0.45: rarer than uniform
    assert (np.abs(hue) < 0.1).mean() > 2 * (np.abs(hue) > 0.4).mean()
    order = [FlowJitter().draw(rng)[2] for _ in range(2000)]
    assert 0.45 < np.mean(order) < 0.55  # random order of the two adjustments


def test_seeded_and_errors() -> None:
    anchor = FlowJitter().anchor(two_stream_sample(), np.random.default_rng(0))
    a = FlowJitter().partner(anchor, np.random.default_rng(3)).flow
    b = FlowJitter().partner(anchor, np.random.default_rng(3)).flow
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs samples with flow"):
        FlowJitter().anchor(Sample(frames=anchor.frames, video_id="v"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8 RGB flow"):
        FlowJitter().partner(two_stream_sample(), np.random.default_rng(0))
    with pytest.raises(ValueError):
        FlowJitter(hue=(0.1, 0.7))


def test_adjustments_match_torchvision_colorjitter_functions() -> None:
    from sdinterp.adapters._compat import ensure_torchvision

    ensure_torchvision()
    import torchvision.transforms.functional as TF
    from PIL import Image

    img = read_image(VIDEOS / "rubberwhale1.png")[::4, ::4]
    flow_img = flow_to_rgb(np.random.default_rng(0).normal(size=(40, 50, 2)))
    for src in (img, flow_img):
        pil = Image.fromarray(src)
        for f in (0.0, 0.4, 1.7):
            ref = np.asarray(TF.adjust_saturation(pil, f)).astype(int)
            assert np.abs(adjust_saturation(src, f).astype(int) - ref).max() <= 1
        for h in (-0.4, -0.1, 0.25):
            ref = np.asarray(TF.adjust_hue(pil, h)).astype(int)
            ours = adjust_hue(src, h).astype(int)
            # PIL works on 8-bit HSV, so its hue is quantised to 1/256 of the circle
            assert np.abs(ours - ref).mean() < 1.5 and np.percentile(np.abs(ours - ref), 99) <= 8


def test_backward_flow_is_jittered_too_and_forward_draws_are_unchanged() -> None:
    """RTNet-style samples carry a backward flow in meta; a static pair must change it as well,
    while the forward flow's jitter stays what it was without one."""
    import numpy as np

    from sdinterp.interfaces import Sample
    from sdinterp.plugins.samplers.flow_jitter import FlowJitter

    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    fwd = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)
    plain = FlowJitter().anchor(Sample(frames=frames, flow=fwd), rng)
    both = FlowJitter().anchor(Sample(frames=frames, flow=fwd, meta={"backward_flow": -fwd}), rng)
    assert both.meta["backward_flow"].dtype == np.uint8
    a = FlowJitter().partner(plain, np.random.default_rng(7))
    b = FlowJitter().partner(both, np.random.default_rng(7))
    np.testing.assert_array_equal(a.flow, b.flow)
    assert not np.array_equal(b.meta["backward_flow"], both.meta["backward_flow"])
    assert len(b.meta["backward_flow_jitter"]) == 3
    assert b.frames is both.frames
