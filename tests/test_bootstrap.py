"""Confidence intervals: the Poisson bootstrap carried in the moments (coverage, invariance to batch
size, sharding and resume, bootstrap off = unchanged report) and the across-seed intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import sdinterp
from _paths import VIDEOS, small_report_flags
from sdinterp.errors import RunStateError
from sdinterp.interfaces import Factor
from sdinterp.plugins.samplers import Restyle
from sdinterp.replicates import poisson_weights
from sdinterp.report import BiasReport, LayerBias
from sdinterp.report.across_seeds import across_seeds, mean_interval
from sdinterp.scoring import get_scorer
from sdinterp.scoring.bootstrap import percentile_interval, replicate_values
from sdinterp.stats import MomentStore, PairMoments
from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips

CLIPS = make_planted_clips(24, seed=5)
TREE = VIDEOS / "tree.avi"


def make() -> sdinterp.StaticDynamic:
    return sdinterp.StaticDynamic(
        PlantedNet(),
        layers=list(PLANTED_TRUTH),
        dynamic_sampler=Restyle(restyler="level_permutation"),
        **PlantedNet.adapter_options(),
    )


def run(sd=None, **kw) -> BiasReport:
    args = dict(n_pairs=24, batch_size=12, seed=0, show_progress=False, bootstrap=16)
    args.update(kw)
    return (sd or make()).attribute(CLIPS, **args)


def _strip_bootstrap(report: BiasReport) -> str:
    d = json.loads(report.to_json())
    d["identity"].pop("bootstrap", None)
    for layer in d["layers"]:
        layer.pop("intervals", None)
    return json.dumps(d, sort_keys=True)


# -- the replicate moments -----------------------------------------------------------------------
def test_weighted_replicate_equals_the_pairs_repeated_by_their_counts():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 4)) * 1e3 + 5e5  # a large mean next to the spread: raw sums would lose it
    b = a + rng.normal(size=(30, 4))
    w = poisson_weights(3, range(30), 6)
    pm = PairMoments(replicates=6)
    for s in range(0, 30, 7):
        pm.update(a[s : s + 7], b[s : s + 7], weights=w[:, s : s + 7])
    for k in range(6):
        rows = np.repeat(np.arange(30), w[k].numpy().astype(int))
        ref = PairMoments().update(a[rows], b[rows])
        rep = pm.replicate(k)
        assert rep.n == ref.n
        for prop in ("mean_a", "mean_b", "var_a", "var_b", "cov"):
            np.testing.assert_allclose(getattr(rep, prop), getattr(ref, prop), rtol=1e-9)


def test_counts_depend_on_seed_and_clip_only():
    w = poisson_weights(7, range(10), 50)
    assert torch.equal(w[:, 4:6], poisson_weights(7, [4, 5], 50))
    assert not torch.equal(w, poisson_weights(8, range(10), 50))
    assert abs(float(w.mean()) - 1.0) < 0.15 and bool((w >= 0).all())


def test_replicates_survive_save_merge_and_refuse_mixing():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    w = poisson_weights(0, range(12), 5)
    whole = PairMoments(replicates=5).update(x, y, weights=w)
    left = PairMoments(replicates=5).update(x[:5], y[:5], weights=w[:, :5])
    right = PairMoments(replicates=5).update(x[5:], y[5:], weights=w[:, 5:])
    merged = PairMoments.from_state_dict(left.state_dict()).merge(right)
    np.testing.assert_allclose(merged.boot.fields["c_ab"], whole.boot.fields["c_ab"], rtol=1e-12, atol=1e-14)
    store = MomentStore(["l"], replicates=5)
    assert MomentStore.from_state_dict(store.state_dict()).replicates == 5
    assert "replicates" not in MomentStore(["l"]).state_dict() and "bootstrap" not in PairMoments().state_dict()
    with pytest.raises(ValueError, match="bootstrap replicates"):
        PairMoments().update(x, y).merge(whole)
    with pytest.raises(ValueError, match="bootstrap weights"):
        PairMoments(replicates=5).update(x, y)


# -- coverage --------------------------------------------------------------------------------------
def test_intervals_cover_a_known_correlation_at_about_their_level():
    """Pearson S_F = Σ_units ρ_F exactly in expectation-free terms: D units with known correlation.
    Over many independent data sets the 95% interval must hold the truth about 95% of the time and
    the 50% interval about half the time (an interval that is merely wide fails the second)."""
    d, n, reps, b_count = 3, 120, 80, 80
    truth = {"dynamic": d * 0.6, "static": d * 0.2}
    scorer = get_scorer("pearson")
    hits = {0.95: 0, 0.5: 0}
    for r in range(reps):
        rng = np.random.default_rng([2024, r])
        w = poisson_weights(r, range(n), b_count)
        moments = {}
        for f, rho in ((Factor.DYNAMIC, 0.6), (Factor.STATIC, 0.2)):
            a = rng.normal(size=(n, d))
            bb = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=(n, d))
            moments[f] = PairMoments(replicates=b_count).update(a, bb, weights=w)
        _, _, scores, _ = replicate_values(scorer, "x", moments)
        for level in hits:
            for f in truth:
                lo, hi = percentile_interval([s[f] for s in scores], level)
                hits[level] += lo <= truth[f] <= hi
    cover95, cover50 = hits[0.95] / (2 * reps), hits[0.5] / (2 * reps)
    assert 0.88 <= cover95 <= 0.995, cover95
    assert 0.35 <= cover50 <= 0.65, cover50


# -- the pipeline: invariance ----------------------------------------------------------------------
@pytest.mark.slow  # 11 s measured on 2 shared cores
def test_bootstrap_off_leaves_the_report_unchanged_and_on_changes_no_point_estimate():
    off, on = run(bootstrap=0), run(bootstrap=16)
    text = off.to_json()
    assert '"intervals"' not in text and "bootstrap" not in off.identity
    assert all(lb.intervals is None for lb in off)
    assert _strip_bootstrap(on) == _strip_bootstrap(off) == json.dumps(json.loads(text), sort_keys=True)
    assert on.identity["bootstrap"]["replicates"] == 16 and on.identity["bootstrap"]["level"] == 0.95


def test_replicates_do_not_depend_on_batch_size():
    small, large = (
        make().accumulate(CLIPS, n_pairs=24, batch_size=3, seed=0, show_progress=False, bootstrap=16),
        make().accumulate(CLIPS, n_pairs=24, batch_size=30, seed=0, show_progress=False, bootstrap=16),
    )
    for layer in PLANTED_TRUTH:
        for f in (Factor.DYNAMIC, Factor.STATIC):
            a, b = small[layer][f], large[layer][f]
            assert torch.equal(a.boot.weight, b.boot.weight)
            for name, t in a.boot.fields.items():
                scale = float(t.abs().max()) or 1.0
                np.testing.assert_allclose(t, b.boot.fields[name], rtol=0, atol=1e-12 * scale)
    ra, rb = make().score(small), make().score(large)
    for layer in PLANTED_TRUTH:
        ia, ib = ra[layer].intervals, rb[layer].intervals
        assert ia["percent"] == ib["percent"] and ia["category_stability"] == ib["category_stability"]
        for f in ("dynamic", "static"):
            np.testing.assert_allclose(ia["scores"][f], ib["scores"][f], rtol=0, atol=1e-12)


def test_interrupted_and_resumed_run_gives_identical_intervals_and_other_b_is_refused(tmp_path):
    state = tmp_path / "run.state"
    full = run(batch_size=6)
    sd = make()
    calls = {"n": 0}

    def interrupt(module, args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    handle = sd.adapter.model.register_forward_pre_hook(interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(sd, batch_size=6, resume=str(state), save_every=100)
    handle.remove()
    assert torch.load(state, weights_only=True)["next_clip"] == 4
    resumed = run(batch_size=6, resume=str(state))
    assert resumed.to_json() == full.to_json()
    with pytest.raises(RunStateError, match=r"bootstrap.replicates: 16 -> 8"):
        run(batch_size=6, resume=str(state), bootstrap=8)
    with pytest.raises(RunStateError, match=r"bootstrap.replicates: 16 -> '<absent>'"):
        run(batch_size=6, resume=str(state), bootstrap=0)


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        report = run(batch_size=6)
        if rank == 0:
            report.to_json(out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # 23 s measured on 2 shared cores
def test_two_processes_give_the_single_process_replicates(tmp_path):
    out = tmp_path / "sharded.json"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    sharded, single = BiasReport.from_json(out), run(batch_size=6)
    for layer in PLANTED_TRUTH:
        a, b = sharded[layer].intervals, single[layer].intervals
        assert a["percent"] == b["percent"] and a["category_stability"] == b["category_stability"]
        for f in ("dynamic", "static"):
            np.testing.assert_allclose(a["scores"][f], b["scores"][f], rtol=0, atol=1e-12)


# -- the result ------------------------------------------------------------------------------------
def test_intervals_round_trip_in_json_show_in_the_table_and_old_json_loads():
    report = run()
    lb = report["dynamic_heavy"]
    iv = lb.intervals
    assert iv["replicates"] == iv["scored"] == 16 and len(iv["category_stability"]) == lb.n_units
    assert all(0.0 <= s <= 1.0 for s in iv["category_stability"])
    for f in ("dynamic", "static"):
        lo, hi = iv["scores"][f]
        assert lo <= hi
    again = BiasReport.from_json(report.to_json())
    assert again == report and again["dynamic_heavy"].intervals == iv
    old = lb.to_dict()
    del old["intervals"]
    assert LayerBias.from_dict(old).intervals is None
    table = report.table()
    assert "95% intervals (Poisson bootstrap over source videos, 16 replicates" in table
    assert f"[{iv['percent']['dynamic'][0]:.1f}, {iv['percent']['dynamic'][1]:.1f}]" in table
    assert "intervals" not in run(bootstrap=0).table()


def test_bad_bootstrap_options_are_refused():
    with pytest.raises(ValueError, match="bootstrap must be 0"):
        run(bootstrap=-1)
    with pytest.raises(ValueError, match="bootstrap_level"):
        run(bootstrap_level=1.5)


def test_cli_bootstrap_writes_intervals(tmp_path, capsys):
    from sdinterp.cli import main

    out = tmp_path / "r.json"
    small = small_report_flags()
    cmd = ["report", "torchvision:r3d_18", str(TREE), *small]
    # Windows of one video are one observation of the cluster bootstrap: no interval, and the reason.
    assert main(cmd + ["--bootstrap", "10", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no intervals: the 4 clips come from one source video" in text and "95% intervals" not in text
    assert BiasReport.from_json(out)["stage2"].intervals is None
    assert BiasReport.from_json(out).sampling == {"clips": 4, "videos": 1}
    two = ["report", "torchvision:r3d_18", str(TREE), str(TREE.parent / "vtest.avi"), *small]
    assert main(two + ["--bootstrap", "10", "--json", str(out)]) == 0
    assert "95% intervals (Poisson bootstrap over source videos, 10 replicates" in capsys.readouterr().out
    assert BiasReport.from_json(out)["stage2"].intervals["replicates"] == 10
    assert BiasReport.from_json(out).sampling["videos"] == 2
    assert main(cmd + ["--bootstrap-level", "2"]) == 1
    assert "--bootstrap-level must be strictly between 0 and 1" in capsys.readouterr().err


# -- across seeds ----------------------------------------------------------------------------------
def test_across_seed_interval_is_mean_plus_minus_196_std_over_root_n():
    iv = mean_interval([10.0, 12.0, 14.0, 16.0])
    std = float(np.std([10, 12, 14, 16], ddof=1))
    assert iv["mean"] == 13.0 and iv["std"] == pytest.approx(std)
    assert iv["interval"] == pytest.approx([13 - 1.96 * std / 2, 13 + 1.96 * std / 2])
    reports = [run(seed=s, bootstrap=0) for s in (0, 1, 2)]
    out = across_seeds(reports)
    layer = out["dynamic_heavy"]
    assert layer["runs"] == 3 and layer["seeds"] == [0, 1, 2]
    vals = [r["dynamic_heavy"].scores["dynamic"] for r in reports]
    assert layer["scores"]["dynamic"]["mean"] == pytest.approx(np.mean(vals))
    with pytest.raises(ValueError, match="at least 2"):
        across_seeds(reports[:1])


@pytest.mark.parametrize("name", ["official", "pearson"])
def test_batched_replicate_scores_equal_scoring_each_replicate(name):
    from sdinterp.scoring.batched import batched_scores
    from sdinterp.scoring.bootstrap import replicate_moments

    rng = np.random.default_rng(4)
    w = poisson_weights(1, range(40), 30)
    moments = {}
    for f, scale in ((Factor.DYNAMIC, 1e6), (Factor.STATIC, 3.0)):  # different exponents per factor
        a = rng.normal(size=(40, 7)) * scale
        a[:, 6] = 2.0  # a constant unit
        moments[f] = PairMoments(replicates=30).update(a, a + rng.normal(size=(40, 7)) * scale, weights=w)
    raw = batched_scores(name, moments)
    scorer = get_scorer(name)
    for k in range(30):
        one = scorer.unit_scores("x", replicate_moments(moments, k))
        assert bool(raw["ok"][k])
        np.testing.assert_array_equal(raw["valid"][k], one["valid"])
        for f in ("dynamic", "static"):
            assert float(raw["scores"][f][k]) == pytest.approx(one["scores"][f], rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(raw["unit_scores"][f][k], one["unit_scores"][f], rtol=1e-12, atol=1e-12)
