"""Restylers: deterministic, temporally consistent, flow-preserving on real clips, and static
descriptors decorrelated across styles (the bars of docs/restylers.md)."""

from __future__ import annotations

import numpy as np
import pytest

from _videotools import CONCERT, TREE, VTEST, random_clip, smooth_texture
from sdinterp.data.flow import compute_flow, relative_epe
from sdinterp.data.video import open_video
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.restylers import FourierStyle, Photometric, style_texture
from sdinterp.plugins.samplers import Restyle

RESTYLERS = sorted(get_registry().names("restyler"))
EPE_BOUND = 0.25  # the bar a default must meet (measured values in docs/restylers.md)


def real_segments() -> list[np.ndarray]:
    """Whole-frame real clips with motion (pedestrians, a concert, a tree in the wind)."""
    import cv2

    vt = open_video(VTEST).read(range(100, 108, 2))
    vt = np.stack([cv2.resize(f, (384, 288), interpolation=cv2.INTER_AREA) for f in vt])
    return [vt, open_video(CONCERT).read(range(500, 508, 2)), open_video(TREE).read(range(20, 24))]


def clip_rel_epe(restyler, frames: np.ndarray, styles=(1, 2, 3, 4)) -> float:
    err = mag = 0.0
    flows = [compute_flow(frames[t], frames[t + 1]) for t in range(len(frames) - 1)]
    for s in styles:
        out = restyler(frames, s)
        for t, f in enumerate(flows):
            g = compute_flow(out[t], out[t + 1])
            err += relative_epe(f, g) * np.hypot(*f.reshape(-1, 2).T).mean()
            mag += np.hypot(*f.reshape(-1, 2).T).mean()
    return err / mag


@pytest.mark.parametrize("name", RESTYLERS)
def test_deterministic_shape_and_styles_differ(name: str) -> None:
    clip = (
        (smooth_texture(24, 32, np.random.default_rng(0))[None].repeat(3, 0) + np.arange(3)[:, None, None, None] * 20)
        .clip(0, 255)
        .astype(np.uint8)
    )
    r = get_registry().create("restyler", name)
    out = r(clip, 1)
    assert out.shape == clip.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, get_registry().create("restyler", name)(clip, 1))  # new instance, same result
    assert np.abs(out.astype(int) - r(clip, 2)).mean() > 5
    assert np.abs(out.astype(int) - r(clip, "Lynx")).mean() > 5  # string styles (Stylized-DAVIS names)
    with pytest.raises(ValueError, match="uint8"):
        r(clip.astype(np.float32), 1)


@pytest.mark.parametrize("name", RESTYLERS)
def test_same_transform_for_every_frame(name: str) -> None:
    # Temporal consistency: restyling commutes with reordering the frames, so no frame is treated
    # differently from another (clip-level statistics are order-free).
    clip = random_clip(5, 12, 16, seed=3)
    r = get_registry().create("restyler", name)
    perm = np.array([3, 0, 4, 1, 2])
    np.testing.assert_array_equal(r(clip[perm], 2), r(clip, 2)[perm])
    real = real_segments()[1]
    np.testing.assert_array_equal(r(real[::-1], 4), r(real, 4)[::-1])
    # an identical frame anywhere in the clip comes out identical
    dup = clip.copy()
    dup[4] = dup[1]
    out = r(dup, 3)
    np.testing.assert_array_equal(out[4], out[1])


def test_default_restyler_keeps_real_flow_within_the_bound() -> None:
    default = Restyle().restyler
    assert default.name == "natural_colour"  # issue 20: the default chosen on trained nets
    clips = real_segments()
    for frames in clips:
        assert clip_rel_epe(default, frames) <= EPE_BOUND
    # the check can fail: restylers that are not defaults exceed the bound on the same clips
    from sdinterp.plugins.restylers import ColorRemap, LevelPermutation

    assert np.mean([clip_rel_epe(ColorRemap(), f, styles=(1, 2)) for f in clips]) > EPE_BOUND
    assert clip_rel_epe(LevelPermutation(), clips[0], styles=(1,)) > EPE_BOUND


def static_descriptor_corr(restyler, clips: list[np.ndarray]) -> tuple[float, float]:
    """|corr| across videos of (mean colour, mean gradient) between styles 1 and 2."""

    def desc(c: np.ndarray) -> np.ndarray:
        x = c.astype(np.float32)
        return np.concatenate([x.mean(axis=(0, 1, 2)), [np.abs(np.diff(x, axis=2)).mean()]])

    a = np.stack([desc(restyler(c, 1)) for c in clips])
    b = np.stack([desc(restyler(c, 2)) for c in clips])
    r = [abs(np.corrcoef(a[:, j], b[:, j])[0, 1]) for j in range(4)]
    return float(np.mean(r[:3])), float(r[3])


def synthetic_clips(n: int = 30) -> list[np.ndarray]:
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        tex = style_texture(24, 32, rng).astype(np.float32)
        gain, offset = rng.uniform(0.3, 1.0), rng.uniform(0, 120, 3)  # videos differ in colour and contrast
        out.append(np.stack([np.roll(tex, k, axis=1) * gain + offset for k in range(3)]).clip(0, 255).astype(np.uint8))
    return out


def test_default_decorrelates_mean_colour_across_styles() -> None:
    clips = synthetic_clips()
    colour, _ = static_descriptor_corr(Photometric(), clips)
    assert colour < 0.5

    def gamma(c: np.ndarray, s: int) -> np.ndarray:  # a fixed monotone map per style
        return (255 * (c / 255.0) ** (0.5 + 0.4 * s)).astype(np.uint8)

    fixed, texture = static_descriptor_corr(gamma, clips)
    assert fixed > 0.9 and texture > 0.9  # what a default must not do


def test_fourier_style_takes_colours_from_a_given_image(tmp_path) -> None:
    from PIL import Image

    image = np.zeros((40, 60, 3), np.uint8)
    image[..., 2] = 200  # a blue style image with stripes
    image[::4, :, 1] = 120
    Image.fromarray(image).save(tmp_path / "style.png")
    clip = real_segments()[1]
    r = FourierStyle(style_images={1: str(tmp_path / "style.png")})
    out = r(clip, 1).astype(np.float32)
    mean = out.reshape(-1, 3).mean(axis=0)
    assert mean[2] > mean[0] + 40  # blue dominates, as in the style image
    assert abs(out.mean() - image.astype(np.float32).mean()) < 40
    np.testing.assert_array_equal(r(clip, 2), FourierStyle()(clip, 2))  # other styles: generated textures
