"""Appearance-free dynamic pairs: random-dot kinematograms moved by the clip's flow share the motion
and no appearance; the stock planted network's motion-energy units stay dynamic under them."""

from __future__ import annotations

import numpy as np
import pytest

import sdinterp
from sdinterp.interfaces import Factor, Sample
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.samplers.appearance_free import AppearanceFree, render_kinematogram
from sdinterp.testing import check_sampler
from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips


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


@pytest.mark.slow  # 18 s measured on 2 shared cores
def test_stock_planted_network_motion_energy_units_stay_dynamic_and_colour_units_static():
    """The stock planted network under appearance-free pairs: its motion-energy layer (centroid of
    frame-difference energy) keeps its whole planted truth; its mask-based dynamic units, which find
    the object against a flat background a kinematogram does not have, do not stay dynamic."""
    sd = sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler="appearance_free",
        static_sampler="frame_shuffle",
        **PlantedNet.adapter_options(),
    )
    report = sd.attribute(make_planted_clips(64, seed=1), n_pairs=64, batch_size=12, seed=0, show_progress=False)
    assert report.identity["dynamic_sampler"]["name"] == "appearance_free"
    motion = report["motion_energy"]
    assert list(motion.categories) == PLANTED_TRUTH["motion_energy"], (motion.unit_scores, motion.categories)
    assert motion.unit_scores["dynamic"][:2].min() > 0.75 and np.abs(motion.unit_scores["static"][:2]).max() < 0.3
    # mean colour of the dots: kept exactly by a shuffle, unrelated between two dot seeds
    assert motion.unit_scores["static"][2:].min() > 0.99 and np.abs(motion.unit_scores["dynamic"][2:]).max() < 0.5
    assert list(report["static_heavy"].categories[:6]) == ["static"] * 6
    assert "dynamic" not in list(report["dynamic_heavy"].categories[:6])
