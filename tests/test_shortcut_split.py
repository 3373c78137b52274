"""The generator's shortcut split, joint task and camera pan (issue #22): in a ``shortcut`` split the
class is the direction of motion and the object wears the appearance of a cue class that agrees with
the class at exactly the stated rate; ``cue = 1/K`` makes it independent of the class (validation),
``cue = 0`` reverses it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sdinterp.data.synthetic import SHAPES, SynthConfig, cue_class, render_video
from sdinterp.plugins.tiny_models import TinyTask, task_clips


def _table(config: SynthConfig) -> np.ndarray:
    """labels x cue classes counts, the cue read from the rendered object's colour (not from params)."""
    k = config.classes
    table = np.zeros((k, k), int)
    for i in range(config.videos):
        video = render_video(config, i)
        rgb = video.frames[0][video.masks[0]].astype(float).mean(0)
        # hue class c of K = 2 is red (c = 0) or cyan (c = 1): the red channel tells them apart
        seen = 0 if rgb[0] > rgb[2] else 1
        assert seen == video.params["cue_class"], (i, rgb)
        table[video.label, seen] += 1
    return table


@pytest.mark.parametrize("cue,agree", [(1.0, 40), (0.9, 36), (0.75, 30)])
def test_training_cue_predicts_the_labels_at_the_stated_rate(cue, agree):
    config = SynthConfig(kind="shortcut", classes=2, videos=40, frames=4, size=32, seed=5, cue=cue)
    table = _table(config)
    assert table.sum() == 40 and np.trace(table) == agree  # exactly round(cue * 20) per class
    assert table[0, 0] == table[1, 1] == agree // 2
    # the class itself is the direction: two opposite ones, whatever the appearance
    dirs = {render_video(config, i).params["direction"] for i in range(0, 40, 2)}
    assert dirs == {0.0}
    assert {round(render_video(config, i).params["direction"], 6) for i in range(1, 40, 2)} == {round(math.pi, 6)}


def test_validation_cue_is_independent_of_the_labels_or_reversed():
    independent = _table(SynthConfig(kind="shortcut", classes=2, videos=64, frames=4, size=32, seed=6, cue=0.5))
    assert independent.tolist() == [[16, 16], [16, 16]]
    chi2, pvalue, _, _ = stats.chi2_contingency(independent, correction=False)
    assert chi2 == 0.0 and pvalue == 1.0
    reversed_ = _table(SynthConfig(kind="shortcut", classes=2, videos=64, frames=4, size=32, seed=6, cue=0.0))
    assert np.trace(reversed_) == 0
    # a shortcut with more classes: the disagreeing videos spread over the other classes evenly
    k4 = SynthConfig(kind="shortcut", classes=4, videos=64, seed=2, cue=0.25)
    table = np.zeros((4, 4), int)
    for i in range(64):
        table[i % 4, cue_class(k4, i)] += 1
    assert (table == 4).all()


def test_tiny_task_splits_use_the_training_and_validation_cues():
    task = TinyTask(kind="shortcut", cue=1.0, train_videos=16, val_videos=16, epochs=1)
    for split, rate in (("train", 1.0), ("probe", 1.0), ("val", 0.5)):
        clips = task_clips(task, split, 0)
        config = SynthConfig(**clips[0].meta["synthetic"]["config"])
        agree = [cue_class(config, c.meta["synthetic"]["index"]) == c.meta["label"] for c in clips]
        assert np.mean(agree) == rate, split
    with pytest.raises(ValueError, match="val_cue must be between 0 and 1"):
        TinyTask(kind="shortcut", val_cue=1.5)


def test_counterfactual_and_restyled_renders_keep_the_agreement_and_the_shape():
    config = SynthConfig(kind="shortcut", classes=2, videos=20, frames=4, size=32, seed=1, cue=0.5)
    for i in range(6):
        own = render_video(config, i)
        other = render_video(config, i, label=1 - own.label)
        agrees = own.params["cue_class"] == own.label
        assert (other.params["cue_class"] == other.label) == agrees
        restyled = render_video(config, i, style=2)
        assert restyled.params["shape"] == own.params["shape"] == SHAPES[own.params["cue_class"]]
        assert np.array_equal(restyled.masks, own.masks)


def test_joint_task_needs_both_cues_and_refuses_odd_classes():
    config = SynthConfig(kind="joint", classes=4, videos=8, frames=4, size=32)
    seen: dict[int, set[tuple[float, float]]] = {}
    for i in range(8):
        p = render_video(config, i).params
        seen.setdefault(i % 4, set()).add((round(p["hue"], 3), round(p["direction"], 3)))
    assert all(len(v) == 1 for v in seen.values())
    pairs = [next(iter(seen[c])) for c in range(4)]
    assert len(set(pairs)) == 4 and len({h for h, _ in pairs}) == 2 and len({d for _, d in pairs}) == 2
    with pytest.raises(ValueError, match="even number of classes"):
        SynthConfig(kind="joint", classes=3)
    with pytest.raises(ValueError, match="cue must be between 0 and 1"):
        SynthConfig(kind="shortcut", cue=-0.1)


def test_camera_pans_the_background_and_a_fixed_camera_does_not():
    fixed = SynthConfig(kind="camouflage", classes=4, videos=2, frames=4, size=32)
    panned = SynthConfig(kind="camouflage", classes=4, videos=2, frames=4, size=32, camera=2.0)
    for config, moves in ((fixed, False), (panned, True)):
        video = render_video(config, 0)
        outside = ~video.masks.any(0)
        changed = np.abs(video.frames[1].astype(int) - video.frames[0].astype(int))[outside].max()
        assert (changed > 0) == moves
    video = render_video(panned, 0)
    assert math.hypot(*video.params["camera"]) == pytest.approx(2.0)
    assert render_video(panned, 0, style=1).params["camera"] == video.params["camera"]  # a restyling keeps it
    with pytest.raises(ValueError, match="camera"):
        SynthConfig(camera=-1.0)
