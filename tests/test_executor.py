"""A run is a plan plus an executor: the plan fixes every batch and random stream once; progress,
resume, sharding, observers and the data thread read it, and none of them changes a result."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.interfaces import Factor
from sdinterp.pipeline import BatchResult, RunPlan, get_protocol
from sdinterp.pipeline.prefetch import prefetched
from sdinterp.testing.planted import PlantedNet, make_planted_clips

CLIPS = make_planted_clips(24, seed=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _sd() -> sdinterp.StaticDynamic:
    return sdinterp.StaticDynamic(PlantedNet(), **PlantedNet.adapter_options())


def test_plan_slices_keep_every_clip_as_planned():
    for name in ("shared-anchor", "official"):
        plan = RunPlan.build(get_protocol(name), n_sources=7, n_pairs=20, batch_size=6, seed=3)
        clips = list(plan.clips())
        assert [c.index for c in clips] == list(range(plan.n_clips))
        assert [c.source for c in clips] == [i % 7 for i in range(plan.n_clips)]
        # resume: the rest plus what was done is the whole; shards partition the batches
        rest = plan.after(plan.batches[2].clips[0].index)
        assert rest.done + tuple(rest.clips()) == tuple(clips)
        assert tuple(a + b for a, b in zip(rest.work(), rest.done_work())) == plan.work()
        shards = [plan.shard(r, 3) for r in range(3)]
        assert sorted(b.number for s in shards for b in s.batches) == [b.number for b in plan.batches]
        # the stream a clip draws its pairs from is the same, however often it is asked for
        c = clips[5]
        assert plan.stream(c).integers(1 << 30) == plan.stream(c).integers(1 << 30)


def test_progress_counts_what_the_executor_does():
    seen: list[tuple[int, int, int, int]] = []
    report = _sd().attribute(CLIPS, n_pairs=24, batch_size=9, seed=0, show_progress=lambda *a: seen.append(a))
    plan = RunPlan.build(get_protocol("shared-anchor"), len(CLIPS), 24, 9, 0)
    pairs, forwards = plan.work()
    assert seen[-1] == (pairs, pairs, forwards, forwards) == (48, 48, 72, 72)
    assert report.n_pairs == {"static": 24, "dynamic": 24}


@pytest.mark.slow  # 13 s measured on 2 shared cores
def test_the_data_thread_changes_nothing_and_raises_what_the_data_side_raised():
    sd = _sd()
    runs = [
        sd.attribute(CLIPS, n_pairs=24, batch_size=b, seed=0, show_progress=False, prefetch=p, num_workers=w).to_json()
        for b, p, w in ((9, 0, 0), (9, 3, 0), (9, 1, 1))
    ]
    assert runs[0] == runs[1] == runs[2]

    class Broken(list):
        def __getitem__(self, i: int) -> Any:
            if i == 13:
                raise OSError("video 13 cannot be read")
            return list.__getitem__(self, i)

    with pytest.raises(OSError, match="video 13 cannot be read"):
        sd.attribute(Broken(CLIPS), n_pairs=24, batch_size=9, seed=0, show_progress=False, prefetch=2)
    assert list(prefetched(iter(range(100)), 1)) == list(range(100))


class _SlowData(list):
    """Clips that take ``delay`` seconds each to read: a data side far slower than the model."""

    delay = 0.03

    def __getitem__(self, i: int) -> Any:
        import time

        time.sleep(self.delay)
        return list.__getitem__(self, i)


def test_the_report_says_how_long_the_forwards_waited_for_the_data_side():
    """``timings["waiting_for_data"]``: the seconds the forward loop spent waiting for batches. A data
    side that sleeps 30 ms per clip beside a model that takes milliseconds keeps it waiting nearly the
    whole run, with or without the data thread; the wait is part of the forwards' time."""
    clips = _SlowData(CLIPS)
    for prefetch in (0, 2):
        report = _sd().attribute(clips, n_pairs=24, batch_size=9, seed=0, show_progress=False, prefetch=prefetch)
        timings = report.timings
        assert list(timings) == ["identity", "forwards", "waiting_for_data", "scoring"]
        slept = 24 * _SlowData.delay  # the plan reads each of its 24 clips once
        assert 0.8 * slept <= timings["waiting_for_data"] <= timings["forwards"], timings
        assert "waiting_for_data" in report.table()


class _Energy:
    """An observer: the mean intensity of each input, as a pseudo-layer; counts batches as state."""

    name, needs_output = "energy", False

    def __init__(self) -> None:
        self.batches = 0

    def observe(self, result: BatchResult) -> Mapping[str, torch.Tensor]:
        self.batches += 1
        assert len(result.clusters) == len(result.batch.clips)
        assert {f for f, _, _ in result.pairs} == {Factor.STATIC, Factor.DYNAMIC}
        x = torch.tensor([[float(np.mean(s.frames))] for s in result.inputs], dtype=torch.float64)
        return {"validity:mean": x}

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.batches = int(state["batches"])

    def all_reduce(self) -> None:
        pass


def test_observers_add_pseudo_layers_scored_apart_and_resumed(tmp_path):
    sd = _sd()
    plain = sd.attribute(CLIPS, n_pairs=24, batch_size=9, seed=0, show_progress=False, validity=False)
    energy = _Energy()
    store = sd.accumulate(CLIPS, n_pairs=24, batch_size=9, seed=0, show_progress=False, observers=[energy])
    assert "validity:mean" in store.layers() and store["validity:mean"][Factor.STATIC].n == 24
    report = sd.score(store, seed=0, identity=plain.identity)
    assert list(report.layers) == list(plain.layers) and report.to_json() == plain.to_json()
    # the mean intensity is unchanged by shuffling frames: a perfectly static control
    s = store["validity:mean"][Factor.STATIC]
    assert torch.allclose(s.mean_a, s.mean_b)
    # an observer's state is saved with the run state and given back on resume
    path = tmp_path / "run.pt"
    first = _Energy()
    sd.attribute(CLIPS, n_pairs=24, batch_size=9, seed=0, show_progress=False, resume=path, observers=[first])
    again = _Energy()
    sd.attribute(CLIPS, n_pairs=24, batch_size=9, seed=0, show_progress=False, resume=path, observers=[again])
    assert (
        first.batches == again.batches == len(RunPlan.build(get_protocol("shared-anchor"), 24, 24, 9, 0).batches) == 8
    )
