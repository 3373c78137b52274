"""Pair-sampler invariants: static pairs permute the same frames per view; dynamic pairs keep the
frame indices and change the style; Identical returns the anchor; all are selectable by name."""

from __future__ import annotations

import numpy as np
import pytest

from _videotools import VTEST, random_clip, write_frames, write_video
from sdinterp.data import VideoReadError, open_video, pathway_views
from sdinterp.data.datasets import VideoClipDataset
from sdinterp.interfaces import Factor, Sample
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.samplers import FrameShuffle, Identical, Restyle
from sdinterp.plugins.samplers.prestylized import PreStylized


def real_sample(n: int = 16, views: tuple[int, ...] = (4, 16)) -> Sample:
    idx = np.arange(100, 100 + n)
    frames = open_video(VTEST).read(idx)[:, ::4, ::4]  # 144x192, enough for invariants
    return Sample(frames=frames, views=pathway_views(n, views), video_id="vtest", frame_indices=idx)


def test_all_samplers_are_registered_by_name() -> None:
    reg = get_registry()
    for name in ("frame_shuffle", "restyle", "identical", "flow_jitter", "prestylized"):
        assert name in reg.names("sampler")
    assert isinstance(reg.create("sampler", "identical", factor="static"), Identical)
    assert reg.create("sampler", "restyle").factor is Factor.DYNAMIC


def test_frame_shuffle_permutes_each_view_independently() -> None:
    anchor = real_sample()
    sampler = FrameShuffle()
    rng = np.random.default_rng(0)
    for _ in range(10):
        p = sampler.partner(anchor, rng)
        assert p.frames is anchor.frames and p.frame_indices is anchor.frame_indices  # no copy, no re-read
        for va, vp in zip(anchor.view_indices(), p.view_indices()):
            assert sorted(vp.tolist()) == sorted(va.tolist())  # a permutation of the same frames
        assert not np.array_equal(p.view_indices()[1], anchor.view_indices()[1])
    # two pathways over the same 8 frames: the reference draws one randperm per pathway
    twin = anchor.replace(views=(np.arange(8), np.arange(8)))
    pairs = [sampler.partner(twin, rng).view_indices() for _ in range(20)]
    assert sum(np.array_equal(a, b) for a, b in pairs) == 0


def test_frame_shuffle_is_seeded() -> None:
    anchor = real_sample()
    a = FrameShuffle().partner(anchor, np.random.default_rng(5)).view_indices()
    b = FrameShuffle().partner(anchor, np.random.default_rng(5)).view_indices()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


RESTYLERS = sorted(get_registry().names("restyler"))


@pytest.mark.parametrize("restyler", RESTYLERS)
def test_restyle_keeps_indices_and_changes_style(restyler: str) -> None:
    src = real_sample(8, (8,))
    sampler = Restyle(restyler=restyler, anchor_style="random")  # the reference's scheme: both restyled
    rng = np.random.default_rng(1)
    anchor = sampler.anchor(src, rng)
    partner = sampler.partner(anchor, rng)
    assert anchor.style in sampler.styles and partner.style in sampler.styles and anchor.style != partner.style
    np.testing.assert_array_equal(partner.frame_indices, src.frame_indices)
    assert all(np.array_equal(a, b) for a, b in zip(anchor.view_indices(), partner.view_indices()))
    assert partner.frames.shape == src.frames.shape and partner.frames.dtype == np.uint8
    assert np.abs(partner.frames.astype(int) - anchor.frames).mean() > 10  # visibly another style
    np.testing.assert_array_equal(anchor.meta["unstyled"], src.frames)
    # the partner is the unstyled clip in the partner's style, not a restyled restyle
    np.testing.assert_array_equal(partner.frames, sampler.restyler(src.frames, partner.style))


def test_restyle_keeps_the_anchor_original_by_default() -> None:
    # issue 20: the anchor stays unstyled, so static pairs share no style the dynamic pairs lack
    src = real_sample(8, (8,))
    sampler = Restyle()
    rng = np.random.default_rng(1)
    anchor = sampler.anchor(src, rng)
    assert anchor is src
    partner = sampler.partner(anchor, rng)
    assert partner.style in sampler.styles
    np.testing.assert_array_equal(partner.frames, sampler.restyler(src.frames, partner.style))
    np.testing.assert_array_equal(partner.frame_indices, src.frame_indices)


def test_restyle_draws_every_other_style() -> None:
    sampler = Restyle(anchor_style="random")
    anchor = sampler.anchor(real_sample(4, (4,)), np.random.default_rng(0))
    rng = np.random.default_rng(2)
    seen = {sampler.partner(anchor, rng).style for _ in range(40)}
    assert seen == set(sampler.styles) - {anchor.style}


def test_identical_returns_the_anchor_for_either_factor() -> None:
    anchor = real_sample(4, (4,))
    for factor in ("dynamic", "static", Factor.STATIC):
        s = Identical(factor)
        assert s.partner(anchor, np.random.default_rng(0)) is anchor
    assert Identical("static").factor is Factor.STATIC and Identical().factor is Factor.DYNAMIC
    with pytest.raises(ValueError, match="dynamic.*static"):
        Identical("identical")


# -- PreStylized ---------------------------------------------------------------------------------------
def make_styles(root, t: int = 6, counts=None) -> None:
    counts = counts or {}
    for k in (1, 2, 3, 4):
        write_frames(root / f"style_{k}" / "walk", random_clip(counts.get(k, t), 8, 10, seed=k))
        write_video(root / f"style_{k}" / "run.mkv", random_clip(t, 8, 10, seed=10 + k), "ffv1")


def test_prestylized_pairs_same_indices_in_another_style(tmp_path) -> None:
    make_styles(tmp_path)
    ds = VideoClipDataset(tmp_path, clip_length=4, seed=3)
    sampler = PreStylized()
    rng = np.random.default_rng(0)
    for i in range(len(ds)):
        anchor = sampler.anchor(ds[i], rng)
        partner = sampler.partner(anchor, rng)
        assert partner.style != anchor.style and partner.style in (1, 2, 3, 4)
        np.testing.assert_array_equal(partner.frame_indices, anchor.frame_indices)
        expected = open_video(partner.meta["path"]).read(anchor.frame_indices)
        np.testing.assert_array_equal(partner.frames, expected)
        assert not np.array_equal(partner.frames, anchor.frames)
    styles = {sampler.partner(ds[0], rng).style for _ in range(30)}
    assert styles == {1, 2, 3, 4} - {ds[0].style}


def test_prestylized_random_anchor_style_and_restricted_styles(tmp_path) -> None:
    make_styles(tmp_path)
    s = VideoClipDataset(tmp_path, clip_length=3, seed=0, style=1)[0]
    sampler = PreStylized(styles=[2, 3], anchor_style="random")
    rng = np.random.default_rng(4)
    for _ in range(10):
        a = sampler.anchor(s, rng)
        assert a.style in (2, 3)
        p = sampler.partner(a, rng)
        assert {a.style, p.style} == {2, 3}


def test_prestylized_mismatched_frame_count_names_the_file(tmp_path) -> None:
    make_styles(tmp_path, counts={3: 5})
    s = VideoClipDataset(tmp_path, clip_length=3, seed=0, style=1)[1]
    assert s.video_id == "walk"
    sampler = PreStylized(styles=[1, 3])
    with pytest.raises(
        VideoReadError, match=r"style_3/walk: style 3 of video 'walk' has 5 frames but style 1 .* has 6"
    ):
        sampler.partner(s, np.random.default_rng(0))


def test_prestylized_needs_stylized_samples() -> None:
    with pytest.raises(ValueError, match="stylized dataset"):
        PreStylized().partner(Sample(frames=random_clip(), video_id="x"), np.random.default_rng(0))


def test_every_sampler_passes_the_conformance_suite(tmp_path) -> None:
    from sdinterp.data.flow import clip_flow
    from sdinterp.plugins.samplers.flow_jitter import FlowJitter
    from sdinterp.testing import check_sampler

    clip = real_sample(6, (6,))
    for restyler in RESTYLERS:
        check_sampler(Restyle(restyler=restyler), clip)
    check_sampler(FrameShuffle(exclude_identity=True), clip)
    check_sampler(Identical("static"), clip, allow_identical=True)
    with pytest.raises(AssertionError, match="the partner is the anchor itself"):
        check_sampler(Identical("static"), clip)
    check_sampler(FlowJitter(), clip.replace(flow=clip_flow(clip.frames)))
    make_styles(tmp_path)
    check_sampler(PreStylized(), VideoClipDataset(tmp_path, clip_length=4, seed=0)[0])
