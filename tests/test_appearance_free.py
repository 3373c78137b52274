"""Appearance-free dynamic pairs: random-dot kinematograms moved by the clip's flow share the motion
and no appearance; a planted network's motion-energy units stay dynamic under them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import sdinterp
from sdinterp.interfaces import Factor, Sample
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.samplers.appearance_free import AppearanceFree, render_kinematogram
from sdinterp.testing import check_sampler
from sdinterp.testing.planted import NOISE_ROWS, PlantedNet, make_planted_clips


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64).mean(-1)


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    import cv2

    (dx, dy), _ = cv2.phaseCorrelate(_gray(a), _gray(b))
    return dx, dy


def _translating_texture(dy: int, dx: int, t: int = 6, size: int = 64) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 1.5)
    return np.stack([np.roll(tex, (k * dy, k * dx), axis=(0, 1)) for k in range(t)]).clip(0, 255).astype(np.uint8)


def test_registered_and_conformant():
    sampler = get_registry().create("sampler", "appearance_free")
    assert isinstance(sampler, AppearanceFree) and sampler.factor is Factor.DYNAMIC
    clip = make_planted_clips(1, seed=2)[0]
    partner = check_sampler(sampler, clip, seed=3)
    assert partner.frames.shape == clip.frames.shape and str(partner.style).startswith("dots")


def test_deterministic_for_a_seed_and_dots_differ_between_seeds():
    clip = Sample(frames=_translating_texture(1, 2))
    s = AppearanceFree()
    a1, a2 = s.anchor(clip, np.random.default_rng(5)), s.anchor(clip, np.random.default_rng(5))
    assert np.array_equal(a1.frames, a2.frames)
    p = s.partner(a1, np.random.default_rng(6))
    assert np.array_equal(p.frames, s.partner(a1, np.random.default_rng(6)).frames)
    # no shared appearance: the two kinematograms' pixels are uncorrelated
    r = np.corrcoef(a1.frames[0].ravel().astype(float), p.frames[0].ravel().astype(float))[0, 1]
    assert abs(r) < 0.15, r
    # and the original's appearance is gone from both: uncorrelated with the source frames too
    r0 = np.corrcoef(clip.frames[0].ravel().astype(float), a1.frames[0].ravel().astype(float))[0, 1]
    assert abs(r0) < 0.15, r0


@pytest.mark.parametrize("given_flow", [True, False])
def test_dots_follow_a_known_translation(given_flow):
    dy, dx = 1, 2
    frames = _translating_texture(dy, dx)
    flow = np.broadcast_to(np.array([dx, dy], np.float32), frames.shape[:3] + (2,)).copy() if given_flow else None
    for seed in (0, 1):
        k = render_kinematogram(frames, dot_seed=seed, flow=flow)
        for t in range(len(frames) - 1):
            mx, my = _shift(k[t], k[t + 1])
            assert abs(mx - dx) < 0.35 and abs(my - dy) < 0.35, (t, mx, my)
    still = render_kinematogram(frames, 0, flow=np.zeros(frames.shape[:3] + (2,), np.float32), lifetime=10**6)
    assert np.array_equal(still[0], still[-1])  # no flow, no dot moves
    with pytest.raises(ValueError, match="flow must be"):
        render_kinematogram(frames, 0, flow=np.zeros((2, 3, 3, 2)))


class MotionEnergyNet(nn.Module):
    """Planted units that need no appearance: where things move (centroid of frame-difference
    energy; its displacement from the first to the second half of the clip = 2 dynamic units) and
    the scene's mean colour (3 static units). Raw 0..255 input, PlantedNet's clips and layout."""

    def __init__(self) -> None:
        super().__init__()
        self.units = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scene = x[:, :, :, NOISE_ROWS:, :]
        energy = (scene[:, :, 1:] - scene[:, :, :-1]).abs().sum(1)
        total = energy.sum((2, 3)).clamp(min=1e-6)
        ys = torch.arange(energy.shape[2], dtype=x.dtype).view(1, 1, -1, 1)
        xs = torch.arange(energy.shape[3], dtype=x.dtype).view(1, 1, 1, -1)
        cy, cx = (energy * ys).sum((2, 3)) / total, (energy * xs).sum((2, 3)) / total
        h = cy.shape[1] // 2
        dyn = torch.stack([cx[:, h:].mean(1) - cx[:, :h].mean(1), cy[:, h:].mean(1) - cy[:, :h].mean(1)], 1)
        return self.units(torch.cat([dyn, scene.mean((2, 3, 4)) / 10.0], 1))


def test_planted_motion_units_stay_dynamic_and_colour_units_static():
    sd = sdinterp.StaticDynamic(MotionEnergyNet(), layers=["units"], dynamic_sampler="appearance_free",
                                **PlantedNet.adapter_options())
    report = sd.attribute(make_planted_clips(20, seed=1), n_pairs=20, batch_size=12, seed=0, show_progress=False)
    lb = report["units"]
    assert list(lb.categories) == ["dynamic", "dynamic", "static", "static", "static"], (lb.unit_scores, lb.categories)
    assert lb.unit_scores["static"][2:].min() > 0.99 and np.abs(lb.unit_scores["dynamic"][2:]).max() < 0.5
    assert report.config["dynamic_sampler"]["name"] == "appearance_free"


def test_docstring_examples():
    import doctest

    import sdinterp.plugins.samplers.appearance_free as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
