"""The adapter conformance suite accepts good adapters and catches bad ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import sdinterp
from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.plugins.samplers import FrameShuffle, Restyle
from sdinterp.testing import check_adapter, check_sampler
from sdinterp.testing.planted import make_planted_clips

CLIPS = make_planted_clips(4, size=16)


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 6, 3, stride=2), nn.ReLU())


def test_generic_adapter_conforms():
    adapter = GenericVideoAdapter(small_net(), num_frames=4, channels={"0": 4, "2": 6})
    assert check_adapter(adapter, CLIPS) == {"0": 4, "1": 4, "2": 6, "3": 6}


def test_third_party_example_adapter_conforms():
    assert check_adapter(sdinterp.adapt(sdinterp.load_model("example:tiny")), CLIPS) == {"early": 6, "late": 10}


def test_wrong_declared_channels_fail():
    with pytest.raises(AssertionError, match="declared 5 channels, pooled width is 6"):
        check_adapter(GenericVideoAdapter(small_net(), channels={"2": 5}), CLIPS, run_report=False)


def test_nondeterministic_prepare_fails():
    class Noisy(GenericVideoAdapter):
        def prepare(self, samples):
            return super().prepare(samples) + torch.rand(1)

    with pytest.raises(AssertionError, match="not deterministic"):
        check_adapter(Noisy(small_net()), CLIPS, run_report=False)


def test_layers_naming_missing_modules_fail():
    class Broken(GenericVideoAdapter):
        def layers(self):
            layers = super().layers()
            layers["ghost"] = sdinterp.LayerInfo("ghost", "not.there")
            return layers

    with pytest.raises(AssertionError, match="'not.there' is not in the model"):
        check_adapter(Broken(small_net()), CLIPS, run_report=False)


def test_samplers_conform():
    check_sampler(FrameShuffle(), CLIPS[0])
    partner = check_sampler(Restyle(restyler="level_permutation"), CLIPS[0])
    assert partner.style is not None


def test_sampler_that_mutates_the_anchor_fails():
    class Vandal(FrameShuffle):
        def partner(self, anchor, rng):
            anchor.frames[0] = 0
            return anchor

    clip = CLIPS[1].replace(frames=CLIPS[1].frames.copy())
    clip.frames[0] = 200
    with pytest.raises(AssertionError, match="modified the anchor"):
        check_sampler(Vandal(), clip)


def test_static_sampler_that_is_not_a_permutation_fails():
    from sdinterp.interfaces import Factor, PairSampler

    class Zeroing(PairSampler):
        factor = Factor.STATIC
        name = "zeroing"

        def partner(self, anchor, rng):
            return anchor.replace(frames=np.zeros_like(anchor.frames))

    class Same(Zeroing):
        name = "same"

        def partner(self, anchor, rng):
            return anchor

    with pytest.raises(AssertionError, match="not a permutation of the anchor's"):
        check_sampler(Zeroing(), CLIPS[0])
    with pytest.raises(AssertionError, match="the partner is the anchor itself"):
        check_sampler(Same(), CLIPS[0])


def test_dynamic_sampler_that_reorders_frames_fails():
    from sdinterp.interfaces import Factor, PairSampler

    class Reverser(PairSampler):
        factor = Factor.DYNAMIC
        name = "reverser"

        def partner(self, anchor, rng):
            return anchor.replace(frames=anchor.frames[::-1].copy())

    with pytest.raises(AssertionError, match="in another order"):
        check_sampler(Reverser(), CLIPS[0])


def test_nondeterministic_forward_fails():
    net = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.Dropout(0.5))
    net[1].eval = lambda: net[1]  # stays in training mode: random in "eval"
    net[1].train = lambda mode=True: net[1]
    with pytest.raises(AssertionError, match="two forwards of the same clips differ"):
        check_adapter(GenericVideoAdapter(net), CLIPS, run_report=False)


def test_adapter_ignoring_its_crop_option_fails():
    class IgnoresCrop(GenericVideoAdapter):
        def prepare(self, samples):
            x = super().prepare(samples)
            return torch.nn.functional.interpolate(x, size=(x.shape[2], 10, 10))

    with pytest.raises(AssertionError, match="declares crop_size=12"):
        check_adapter(IgnoresCrop(small_net(), crop_size=12), CLIPS, run_report=False)
