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
