"""Training dynamics (plugins/tracking): a checkpoint series reproduces each checkpoint's single
report exactly while preparing the data side once; the plain-PyTorch BiasTracker and the MMEngine
StaticDynamicHook record a report every N epochs; the ``sdinterp track`` command."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import _tiny_tasks as tt
import sdinterp
from sdinterp.adapters.generic import GenericVideoAdapter
from sdinterp.cli import main
from sdinterp.plugins.tracking import BiasSeries, BiasTracker, parse_step, track_checkpoints

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

LAYERS = ["conv2", "feat"]
RUN = dict(n_pairs=16, batch_size=9, seed=3)


class _SaveEachEpoch:
    """A TrainingHook that saves the weights after every epoch as ``epoch_<n>.pth``."""

    def __init__(self, folder):
        self.folder = folder

    def before_train(self, model):
        pass

    def after_iteration(self, model, iteration, batch=None):
        pass

    def after_epoch(self, model, epoch):
        torch.save(model.state_dict(), self.folder / f"epoch_{epoch + 1}.pth")

    def after_train(self, model):
        pass


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpts")
    tt.train_model(tt.make_clips("motion", 48, seed=4), epochs=3, hook=_SaveEachEpoch(folder), aux="colour")
    return folder


def _single(state, clips) -> sdinterp.BiasReport:
    model = tt.TinyNet()
    model.load_state_dict(state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdinterp.StaticDynamic(
            tt.adapter_for(model), layers=LAYERS, dynamic_sampler=tt.dynamic_sampler()
        ).attribute(clips, show_progress=False, **RUN)


def test_checkpoint_series_reproduces_each_single_report_exactly(checkpoints, monkeypatch) -> None:
    clips = tt.make_clips("motion", 16, seed=8)
    prepares = []
    original = GenericVideoAdapter.prepare
    monkeypatch.setattr(GenericVideoAdapter, "prepare", lambda self, s: prepares.append(len(s)) or original(self, s))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = track_checkpoints(
            tt.TinyNet(), checkpoints, clips, layers=LAYERS, dynamic_sampler=tt.dynamic_sampler(), **RUN
        )
    # the data side once: the adapter's probe (2 clips), then 16 clips, 3 per forward (batch 9, 3 forwards
    # per clip) = 6 batches of 9 inputs (the last 3) — and nothing per checkpoint
    assert prepares == [2] + [9] * 5 + [3]
    monkeypatch.setattr(GenericVideoAdapter, "prepare", original)
    assert series.steps == [1, 2, 3] and series.unit == "epoch" and len(series) == 3
    for step, report in zip(series.steps, series.reports):
        single = _single(torch.load(checkpoints / f"epoch_{step}.pth"), clips)
        assert report == single  # every number, the config and the model's identity
    # the weights did change between checkpoints, so the comparison is not trivially equal
    assert (
        series.reports[0]["feat"].unit_scores["dynamic"].tolist()
        != series.reports[2]["feat"].unit_scores["dynamic"].tolist()
    )
    table = series.to_frame()
    assert len(table) == 6 and list(table["epoch"]) == [1, 1, 2, 2, 3, 3]
    feat = series.series("feat")
    assert list(feat.index) == [1, 2, 3] and feat["dynamic_%"].tolist() == [
        r["feat"].percent["dynamic"] for r in series.reports
    ]
    assert BiasSeries.from_json(series.to_json()).to_json() == series.to_json()


def test_checkpoint_series_reproduces_bootstrap_intervals(checkpoints) -> None:
    clips = tt.make_clips("motion", 8, seed=8)
    run = dict(n_pairs=8, batch_size=9, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = track_checkpoints(
            tt.TinyNet(),
            checkpoints,
            clips,
            layers=["feat"],
            dynamic_sampler=tt.dynamic_sampler(),
            config=sdinterp.RunConfig(bootstrap=4),
            **run,
        )
        model = tt.TinyNet()
        model.load_state_dict(torch.load(checkpoints / "epoch_2.pth"))
        single = sdinterp.StaticDynamic(
            tt.adapter_for(model), layers=["feat"], dynamic_sampler=tt.dynamic_sampler()
        ).attribute(clips, show_progress=False, bootstrap=4, **run)
    assert series.reports[1] == single and series.reports[1].identity == single.identity
    assert getattr(single["feat"], "intervals", None)  # the replicates were carried, and compared


def test_steps_from_names_or_given(checkpoints) -> None:
    assert parse_step("epoch_12.pth") == (12, "epoch") and parse_step("iter_3000.pth") == (3000, "iteration")
    assert parse_step("checkpoint_epoch_00010.pyth") == (10, "epoch") and parse_step("model.pt") is None
    files = sorted(checkpoints.iterdir(), reverse=True)
    states = [torch.load(f) for f in files]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = track_checkpoints(
            tt.TinyNet(),
            states,
            tt.make_clips("motion", 4, seed=8),
            layers=["feat"],
            steps=[30, 20, 10],
            n_pairs=4,
            batch_size=6,
            dynamic_sampler=tt.dynamic_sampler(),
        )
    assert series.steps == [10, 20, 30] and series.sources == ["state dict"] * 3
    with pytest.raises(ValueError, match="2 steps given for 3"):
        track_checkpoints(tt.TinyNet(), states, tt.make_clips("motion", 4), steps=[1, 2])


def test_plain_pytorch_tracker_reports_every_n_epochs(tmp_path) -> None:
    clips = tt.make_clips("motion", 8, seed=8)
    tracker = BiasTracker(
        clips, layers=["feat"], every=2, out_dir=tmp_path, dynamic_sampler=tt.dynamic_sampler(), **RUN
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tt.train_model(tt.make_clips("motion", 32, seed=4), epochs=4, hook=tracker)
    assert tracker.steps == [2, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_2.json", "epoch_4.json", "series.json"]
    last = sdinterp.BiasReport.from_json(tmp_path / "epoch_4.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert last == sdinterp.StaticDynamic(
            tt.adapter_for(model), layers=["feat"], dynamic_sampler=tt.dynamic_sampler()
        ).attribute(clips, show_progress=False, **RUN)
    assert BiasSeries.from_json(tmp_path / "series.json").steps == [2, 4]


def test_mmengine_hook_writes_a_report_per_n_epochs(tmp_path) -> None:
    pytest.importorskip("mmaction")
    from mmengine.config import Config
    from mmengine.runner import Runner

    hook = dict(
        type="StaticDynamicHook",
        data="python:_tiny_tasks:tracking_clips",
        layers=["stage4", "stage5"],
        interval=1,
        n_pairs=8,
        batch_size=12,
        seed=1,
        adapter_options=dict(num_frames=8, crop_size=16),
    )
    cfg = tt.mmaction_config(
        tmp_path / "work", epochs=2, n=16, custom_hooks=[hook], imports=["sdinterp.plugins.tracking.mmengine_hook"]
    )
    Config(cfg).dump(str(tmp_path / "cfg.py"))
    runner = Runner.from_cfg(Config.fromfile(str(tmp_path / "cfg.py")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner.train()
    out = tmp_path / "work" / "sdinterp"
    assert sorted(p.name for p in out.iterdir()) == ["epoch_1.json", "epoch_2.json", "series.json"]
    reports = {n: sdinterp.BiasReport.from_json(out / f"epoch_{n}.json") for n in (1, 2)}
    assert all(
        set(r.layers) == {"stage4", "stage5"} and r.n_pairs == {"dynamic": 8, "static": 8} for r in reports.values()
    )
    # the checkpoints the same run saved reproduce the hook's reports
    from mmaction.registry import MODELS

    model = MODELS.build(cfg["model"])
    adapter = sdinterp.adapt(model, num_frames=8, crop_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = track_checkpoints(
            adapter,
            sorted((tmp_path / "work").glob("epoch_*.pth")),
            tt.tracking_clips(),
            layers=["stage4", "stage5"],
            trust_weights=True,
            n_pairs=8,
            batch_size=12,
            seed=1,
        )
    assert series.steps == [1, 2]
    for step, report in zip(series.steps, series.reports):
        assert report == reports[step]


def test_cli_track(checkpoints, tmp_path, capsys) -> None:
    tt.write_task_videos(tmp_path / "videos", 4)
    out = tmp_path / "track.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                "track",
                str(checkpoints),
                str(tmp_path / "videos"),
                "--model",
                "python:_tiny_tasks:TinyNet",
                "--layers",
                "feat",
                "--n-pairs",
                "4",
                "--clip-length",
                "8",
                "--json",
                str(out),
            ]
        )
    printed = capsys.readouterr().out
    assert code == 0 and "layer feat" in printed
    saved = json.loads(out.read_text())
    assert saved["steps"] == [1, 2, 3] and saved["unit"] == "epoch" and len(saved["reports"]) == 3
    assert (
        main(["track", str(tmp_path / "nothing"), str(tmp_path / "videos"), "--model", "python:_tiny_tasks:TinyNet"])
        == 1
    )
    assert "no such file or folder" in capsys.readouterr().err
