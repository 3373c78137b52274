"""Dataset-bias tools (plugins/dataset_bias): the shuffled-frame test and shuffled training on a
motion task and a colour task trained here, the unit-wise comparison of two models with its
significance statement, and the ``sdinterp shuffle-test`` command."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest

import _tiny_tasks as tt
import sdinterp
from sdinterp.cli import main
from sdinterp.plugins.dataset_bias import compare_reports, shuffle_test, shuffled_frames, shuffled_training_drop

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)


@functools.cache
def _motion_only() -> tt.TinyNet:
    """A motion model without the auxiliary colour head: its units carry the motion alone."""
    return tt.train_model(tt.make_clips("motion", 192, seed=1))


def _report(task: str, n_pairs: int = 48) -> sdinterp.BiasReport:
    model = _motion_only() if task == "motion" else tt.trained(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdinterp.StaticDynamic(
            tt.adapter_for(model), layers=["conv2", "feat"], dynamic_sampler=tt.dynamic_sampler()
        ).attribute(tt.make_clips(task, n_pairs, seed=3), n_pairs=n_pairs, batch_size=24, seed=0, show_progress=False)


@pytest.mark.slow  # 18 s measured on 2 shared cores
def test_shuffled_frames_hurt_the_motion_model_not_the_colour_model() -> None:
    motion = shuffle_test(
        tt.adapter_for(tt.trained("motion")), tt.make_clips("motion", 200, seed=7), tt.accuracy, seed=1
    )
    colour = shuffle_test(
        tt.adapter_for(tt.trained("colour")), tt.make_clips("colour", 200, seed=7), tt.accuracy, seed=1
    )
    print(
        f"\nrelative accuracy shuffled/normal: motion {motion.relative:.3f} "
        f"({motion.shuffled:.3f}/{motion.normal:.3f}), "
        f"colour {colour.relative:.3f} ({colour.shuffled:.3f}/{colour.normal:.3f})"
    )
    assert motion.normal > 0.95 and colour.normal > 0.95
    assert motion.relative < 0.8 and colour.relative > 0.95
    assert motion.to_dict()["n_clips"] == 200


@pytest.mark.slow  # 16 s measured on 2 shared cores
def test_training_on_shuffled_clips_drops_only_the_motion_task() -> None:
    def train(clips):
        return tt.train_model(clips, epochs=8)

    drops = {}
    for task in ("motion", "colour"):
        drops[task] = shuffled_training_drop(
            train, tt.make_clips(task, 128, seed=11), tt.make_clips(task, 200, seed=12), tt.accuracy, seed=0
        )
    print(
        f"\nrelative drop (std - shuf) / std: motion {drops['motion'].relative_drop:.1f}% "
        f"({drops['motion'].to_dict()}), colour {drops['colour'].relative_drop:.1f}% ({drops['colour'].to_dict()})"
    )
    assert drops["motion"].standard > 0.9 and drops["colour"].standard > 0.9
    assert drops["motion"].relative_drop > 30 and drops["colour"].relative_drop < 10


def test_shuffled_frames_keeps_the_frames_and_breaks_the_order() -> None:
    clip = tt.make_clips("motion", 1)[0]
    out = shuffled_frames([clip], seed=2)[0]
    assert out.frames.shape == clip.frames.shape and out.meta["shuffled"] and out.meta["label"] == clip.meta["label"]
    assert sorted(map(bytes, out.frames)) == sorted(map(bytes, clip.frames)) and not np.array_equal(
        out.frames, clip.frames
    )


def test_unit_wise_comparison_of_two_models_states_significance() -> None:
    motion, colour = _report("motion"), _report("colour")
    cmp = compare_reports(motion, colour, layers=["feat"], names=("motion", "colour"))
    (feat,) = cmp.layers
    print("\n" + cmp.table())
    assert feat.mean_score["dynamic"][0] > feat.mean_score["dynamic"][1] and feat.p["dynamic"] < 0.01
    assert feat.n_pairs["dynamic"] == (48, 48)
    assert cmp.statements()[0].startswith("feat: motion encodes more dynamic information")
    same = compare_reports(motion, motion, names=("motion", "again"))
    assert [lc.layer for lc in same.layers] == ["conv2", "feat"]
    assert all(lc.z[f] == 0 and lc.p[f] == 1 for lc in same.layers for f in ("dynamic", "static"))
    assert "no significant difference in dynamic information" in same.statements()[1]
    # the pair count sets the evidence: the same scores over fewer pairs give a larger p
    few = compare_reports(_report("motion", 8), _report("colour", 8), layers={"feat": "feat"})
    assert few.layers[0].n_pairs["static"] == (8, 8)
    assert few.layers[0].p["dynamic"] > feat.p["dynamic"]
    with pytest.raises(KeyError):
        compare_reports(motion, colour, layers={"feat": "nope"})


def test_cli_shuffle_test(tmp_path, capsys) -> None:
    tt.write_task_videos(tmp_path / "videos", 12)
    out = tmp_path / "shuffle.json"
    code = main(
        [
            "shuffle-test",
            "python:_tiny_tasks:motion_model",
            str(tmp_path / "videos"),
            "--clip-length",
            "8",
            "--metric",
            "python:_tiny_tasks:video_name_accuracy",
            "--json",
            str(out),
        ]
    )
    assert code == 0 and "relative (shuffled / normal)" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["n_clips"] == 12 and saved["normal"] > 0.9 and saved["shuffled"] < saved["normal"]
