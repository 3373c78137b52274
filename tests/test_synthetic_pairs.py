"""Ground-truth dynamic pairs of the synthetic generator: a restyling keeps the trajectory, the
shape and the masks and changes every colour and texture; the ``synthetic_restyle`` sampler pairs
clips with it in memory and ``synth --styles`` writes it for the ``prestylized`` sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.cli import main
from sdinterp.interfaces import Sample
from sdinterp.plugins.synthetic import SynthConfig, SyntheticRestyle, render_video, synthetic_samples

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)


@pytest.mark.parametrize("kind", ["motion", "appearance", "both", "camouflage"])
def test_a_restyling_keeps_motion_and_shape_and_changes_appearance(kind):
    config = SynthConfig(kind=kind, classes=2, videos=4, frames=6, size=32, seed=5)
    for i in range(4):
        base, styled = render_video(config, i), render_video(config, i, style=3)
        for key in ("direction", "speed", "start", "shape", "radius", "label"):
            assert base.params[key] == styled.params[key], key
        assert np.array_equal(base.masks, styled.masks) and np.array_equal(base.boxes, styled.boxes)
        assert base.params["background_texture"] != styled.params["background_texture"] or not np.array_equal(
            base.frames[0][~base.masks[0]], styled.frames[0][~styled.masks[0]]
        )
        # the colours are unrelated: background pixels correlate weakly across styles (1.0 would be a copy)
        bg = ~base.masks[0]
        r = np.corrcoef(base.frames[0][bg].astype(float).ravel(), styled.frames[0][bg].astype(float).ravel())[0, 1]
        assert abs(r) < 0.9
        assert np.array_equal(render_video(config, i, style=3).frames, styled.frames)  # seeded
        assert not np.array_equal(render_video(config, i, style=4).frames, styled.frames)
    with pytest.raises(ValueError, match="style must be >= 0"):
        render_video(config, 0, style=-1)


def test_sampler_pairs_a_clip_with_its_restyling_on_the_same_frames():
    config = SynthConfig(kind="motion", classes=2, videos=3, frames=8, size=32, seed=1)
    clip = synthetic_samples(config)[2]
    assert clip.meta["label"] == 0 and clip.meta["synthetic"]["index"] == 2
    # as after the pipeline keeps only the frames the views use: the partner reads those frames
    reduced = clip.replace(frames=clip.frames[[1, 4, 6]], frame_indices=np.array([1, 4, 6]), views=(np.arange(3),))
    partner = SyntheticRestyle().partner(reduced, np.random.default_rng(0))
    assert partner.style in (1, 2, 3, 4)
    assert np.array_equal(partner.frames, render_video(config, 2, style=partner.style).frames[[1, 4, 6]])
    assert np.array_equal(partner.views[0], reduced.views[0])
    rnd = SyntheticRestyle(anchor_style="random")
    anchor = rnd.anchor(clip, np.random.default_rng(1))
    assert anchor.style in (1, 2, 3, 4) and rnd.partner(anchor, np.random.default_rng(2)).style != anchor.style
    with pytest.raises(ValueError, match="carries no meta\\['synthetic'\\].*synth --styles 4"):
        SyntheticRestyle().partner(Sample(frames=clip.frames, video_id="x"), np.random.default_rng(0))
    for bad in ({"styles": (0, 1)}, {"anchor_style": "random", "styles": (1,)}, {"anchor_style": "x"}):
        with pytest.raises(ValueError):
            SyntheticRestyle(**bad)


class _OnlyColour(torch.nn.Module):
    """Units: the clip's mean colour (appearance only) and the signed horizontal displacement of
    the brightest-change centroid (motion only, colour-blind)."""

    def __init__(self):
        super().__init__()
        self.units = torch.nn.Identity()

    def forward(self, x):  # (B, 3, T, H, W)
        colour = x.mean(dim=(2, 3, 4))
        energy = (x[:, :, 1:] - x[:, :, :-1]).abs().sum(1)  # (B, T-1, H, W)
        xs = torch.arange(x.shape[-1], dtype=x.dtype)
        cx = (energy.sum(2) * xs).sum(-1) / energy.sum((2, 3)).clamp(min=1e-6)  # (B, T-1)
        h = cx.shape[1] // 2
        shift = cx[:, h:].mean(1) - cx[:, :h].mean(1)
        return self.units(torch.cat([colour, shift[:, None]], 1))


def test_ground_truth_pairs_score_colour_static_and_motion_dynamic():
    clips = synthetic_samples(SynthConfig(kind="motion", classes=2, videos=48, frames=8, size=32, seed=2))
    sd = sdinterp.StaticDynamic(_OnlyColour(), layers=["units"], dynamic_sampler="synthetic_restyle")
    bias = sd.attribute(clips, n_pairs=48, batch_size=16, seed=0, show_progress=False)["units"]
    s_dyn, s_stat = bias.unit_scores["dynamic"], bias.unit_scores["static"]
    assert (s_stat[:3] > 0.99).all() and (np.abs(s_dyn[:3]) < 0.5).all(), (s_dyn, s_stat)
    assert s_dyn[3] > 0.9 and abs(s_stat[3]) < 0.5, (s_dyn, s_stat)
    assert list(bias.categories) == ["static"] * 3 + ["dynamic"]


def test_synth_styles_writes_a_stylized_dataset_the_prestylized_sampler_reads(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                "--kind",
                "motion",
                "--videos",
                "3",
                "--frames",
                "6",
                "--size",
                "32",
                "--styles",
                "2",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    assert "in styles 0..2" in capsys.readouterr().out
    root = tmp_path / "d" / "videos"
    assert sorted(p.name for p in root.iterdir()) == ["style_0", "style_1", "style_2"]
    from sdinterp.data.datasets import VideoClipDataset
    from sdinterp.data.video import read_image

    config = SynthConfig(kind="motion", videos=3, frames=6, size=32)
    frame = read_image(str(root / "style_2" / "v00001" / "0003.png"))
    assert np.array_equal(frame, render_video(config, 1, style=2).frames[3])
    ds = VideoClipDataset(str(root), clip_length=6, seed=0)
    sample = ds[0]
    partner = sdinterp.get_registry().create("sampler", "prestylized").partner(sample, np.random.default_rng(0))
    assert partner.style != sample.style and partner.frames.shape == sample.frames.shape
    assert main(["synth", "--styles", "-1", "--out", str(tmp_path / "e")]) != 0
    assert "--styles must be 0 or more" in capsys.readouterr().err
