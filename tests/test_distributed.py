"""Sharding a run over torch.distributed processes (gloo) gives the single-process result."""

from __future__ import annotations

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

import sdinterp
from sdinterp.plugins.samplers import Restyle
from sdinterp.report import BiasReport
from sdinterp.stats import PairMoments
from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips


def _run(n_pairs: int = 40) -> sdinterp.StaticDynamic:
    return sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler=Restyle(restyler="level_permutation"),
        **PlantedNet.adapter_options(),
    )


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        # moments alone: each rank holds a different shard, all_reduce gives every rank the union
        rng = np.random.default_rng(rank)
        pm = PairMoments(name="x").update(rng.normal(size=(5 + rank, 3)), rng.normal(size=(5 + rank, 3)))
        pm.all_reduce()
        assert pm.n == 11
        sd = _run()
        report = sd.attribute(make_planted_clips(40, seed=1), n_pairs=40, batch_size=12, seed=4, show_progress=False)
        if rank == 0:
            report.to_json(out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # 36 s measured on 2 shared cores
def test_two_process_run_equals_single_process(tmp_path):
    out = tmp_path / "sharded.json"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    sharded = BiasReport.from_json(out)
    single = _run().attribute(make_planted_clips(40, seed=1), n_pairs=40, batch_size=12, seed=4, show_progress=False)
    assert sharded.n_pairs == single.n_pairs == {"dynamic": 40, "static": 40}
    for layer in PLANTED_TRUTH:
        a, b = sharded[layer], single[layer]
        assert list(a.categories) == list(b.categories)
        for f in ("dynamic", "static"):
            np.testing.assert_allclose(a.unit_scores[f], b.unit_scores[f], rtol=0, atol=1e-12)
            assert abs(a.scores[f] - b.scores[f]) < 1e-12
