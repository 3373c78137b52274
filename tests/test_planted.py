"""Planted ground truth: units static/dynamic/joint/residual by construction must be recovered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.plugins.samplers import Restyle
from sdinterp.testing.planted import NOISE_ROWS, PLANTED_TRUTH, PlantedNet, make_planted_clips


@pytest.mark.slow  # 15 s measured on 2 shared cores
@pytest.mark.parametrize("protocol", ["shared-anchor", "official"])
def test_planted_categories_recovered_100_percent(protocol):
    sd = sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler=Restyle(restyler="level_permutation"),
        **PlantedNet.adapter_options(),
    )
    n = 128 if protocol == "shared-anchor" else 256
    report = sd.attribute(
        make_planted_clips(n, seed=11), n_pairs=n, batch_size=48, seed=3, protocol=protocol, show_progress=False
    )
    for layer, truth in PLANTED_TRUTH.items():
        assert list(report[layer].categories) == truth, (layer, report[layer].unit_scores)
    static_heavy, dynamic_heavy = report["static_heavy"], report["dynamic_heavy"]
    assert static_heavy.static_percent > dynamic_heavy.static_percent
    assert dynamic_heavy.dynamic_percent > static_heavy.dynamic_percent
    assert static_heavy.static_percent > static_heavy.dynamic_percent
    assert dynamic_heavy.dynamic_percent > dynamic_heavy.static_percent
    # the motion-energy layer's units are exactly restyle-invariant on these clips (two colours)
    motion = report["motion_energy"]
    assert motion.unit_scores["dynamic"][:2].min() > 0.999 and motion.unit_scores["static"][2:].min() > 0.999


def test_planted_with_paper_literal_estimator_too():
    sd = sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler=Restyle(restyler="level_permutation"),
        scorer="pearson",
        **PlantedNet.adapter_options(),
    )
    report = sd.attribute(make_planted_clips(128, seed=2), n_pairs=128, batch_size=48, seed=0, show_progress=False)
    for layer, truth in PLANTED_TRUTH.items():
        assert list(report[layer].categories) == truth


def test_motion_energy_units_need_no_colour_and_ignore_a_still_clip():
    clip = make_planted_clips(2, seed=4)[1]  # velocity (-1, -2): both axes move
    x = torch.from_numpy(clip.frames).permute(3, 0, 1, 2).float()[None]
    shift = PlantedNet._motion_energy_shift
    scene = x[..., NOISE_ROWS:, :]
    base = shift(scene)
    # an injective recolouring (here 255 - x) keeps the centroid; the sign follows time
    assert torch.allclose(shift(255.0 - scene), base)
    assert torch.allclose(shift(scene.flip(2)), -base)
    vy, vx = clip.meta["velocity"]
    assert np.sign(base[0, 0].item()) == np.sign(vx) and np.sign(base[0, 1].item()) == np.sign(vy)
    still = x[:, :, :1].expand_as(x)
    assert torch.equal(shift(still), torch.zeros(1, 2)) and torch.equal(shift(x[:, :, :2]), torch.zeros(1, 2))


def test_a_monotonic_restyle_would_not_recover_static_units():
    """Why the restyler matters: with identity 'styles' every static unit also looks dynamic."""
    from sdinterp.plugins.restylers import Restyler

    class Identity(Restyler):
        def __call__(self, frames, style):
            return frames.copy()

    sd = sdinterp.StaticDynamic(
        PlantedNet(),
        layers=["static_heavy"],
        dynamic_sampler=Restyle(restyler=Identity()),
        **PlantedNet.adapter_options(),
    )
    report = sd.attribute(make_planted_clips(64, seed=1), n_pairs=64, batch_size=48, seed=0, show_progress=False)
    assert list(report["static_heavy"].categories[:6]) == ["joint"] * 6
