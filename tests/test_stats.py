"""PairMoments: exact, order-independent merging and numerical stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdinterp.interfaces import Factor
from sdinterp.stats import MomentStore, PairMoments


def _derived(pm: PairMoments) -> dict[str, np.ndarray]:
    return {
        "mean_a": pm.mean_a.numpy(),
        "mean_b": pm.mean_b.numpy(),
        "var_a": pm.var_a.numpy(),
        "var_b": pm.var_b.numpy(),
        "cov": pm.cov.numpy(),
        "pcc": pm.pooled_cross_cov.numpy(),
        "pvar": pm.pooled_var.numpy(),
    }


def _assert_same(p: PairMoments, q: PairMoments, rtol: float = 1e-12) -> None:
    assert p.n == q.n
    dp, dq = _derived(p), _derived(q)
    scale = np.sqrt(dq["var_a"] * dq["var_b"]) + np.abs(dq["mean_a"]) + np.abs(dq["mean_b"])
    for k in dp:
        err = np.abs(dp[k] - dq[k])
        assert np.all(err <= rtol * (np.abs(dq[k]) + scale)), (k, err, dq[k])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 60),
    d=st.integers(1, 5),
    cuts=st.lists(st.integers(1, 59), max_size=6),
    order_seed=st.integers(0, 2**31 - 1),
    loc=st.floats(-1e3, 1e3),
    scale=st.floats(1e-3, 1e3),
    data_seed=st.integers(0, 2**31 - 1),
)
def test_any_chunking_merged_in_any_order_equals_one_pass(n, d, cuts, order_seed, loc, scale, data_seed):
    rng = np.random.default_rng(data_seed)
    a = loc + scale * rng.normal(size=(n, d))
    b = 0.5 * a + scale * rng.normal(size=(n, d))
    one = PairMoments().update(a, b)
    bounds = sorted({c for c in cuts if c < n})
    chunks = np.split(np.arange(n), bounds)
    parts = [PairMoments().update(a[idx], b[idx]) for idx in chunks]
    order = np.random.default_rng(order_seed).permutation(len(parts))
    merged = PairMoments()
    for k in order:
        merged.merge(parts[k])
    _assert_same(merged, one)
    # batches fed sequentially give the same as well
    seq = PairMoments()
    for idx in chunks:
        seq.update(a[idx], b[idx])
    _assert_same(seq, one)


def test_large_mean_small_spread_float32_correlations_right_to_1e6():
    rng = np.random.default_rng(0)
    n, d = 5000, 8
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    rho = np.linspace(-0.9, 0.9, d)
    a = (1e4 + 1e-2 * x).astype(np.float32)
    b = (1e4 + 1e-2 * (rho * x + np.sqrt(1 - rho**2) * y)).astype(np.float32)
    pm = PairMoments()
    for k in range(0, n, 128):  # batch by batch, as a run feeds it
        pm.update(torch.from_numpy(a[k : k + 128]), torch.from_numpy(b[k : k + 128]))
    got = (pm.cov / torch.sqrt(pm.var_a * pm.var_b)).numpy()
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.array([np.corrcoef(a64[:, i], b64[:, i])[0, 1] for i in range(d)])
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # The naive raw-sums algorithm (what this class must not be) fails the same bar in float64.
    sa, sb = a64.sum(0), b64.sum(0)
    naive_cov = (a64 * b64).sum(0) / n - sa * sb / n**2
    naive_var = (a64 * a64).sum(0) / n - (sa / n) ** 2
    naive_vb = (b64 * b64).sum(0) / n - (sb / n) ** 2
    naive = naive_cov / np.sqrt(np.abs(naive_var * naive_vb))
    assert np.max(np.abs(naive - ref)) > 1e-6


def test_state_dict_round_trip_and_resume_is_bit_identical():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    full = PairMoments(name="x").update(a[:20], b[:20]).update(a[20:], b[20:])
    first = PairMoments(name="x").update(a[:20], b[:20])
    resumed = PairMoments.from_state_dict(first.state_dict()).update(a[20:], b[20:])
    for k in ("mean_a", "mean_b", "m2_a", "m2_b", "c_ab"):
        assert torch.equal(full._t[k], resumed._t[k])
    assert resumed.n == 50 and resumed.name == "x"


def test_store_round_trip_and_merge():
    rng = np.random.default_rng(4)
    s1, s2 = MomentStore(["l1", "l2"]), MomentStore(["l1", "l2"])
    for s in (s1, s2):
        for layer in ("l1", "l2"):
            for f in (Factor.DYNAMIC, Factor.STATIC):
                s[layer][f].update(rng.normal(size=(7, 3)), rng.normal(size=(7, 3)))
    back = MomentStore.from_state_dict(s1.state_dict())
    assert back.layers() == ["l1", "l2"] and back.n_pairs() == {"dynamic": 7, "static": 7}
    back.merge(s2)
    assert back.n_pairs() == {"dynamic": 14, "static": 14}


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((3, 2)), np.zeros((3, 3)), "same shape"),
        (np.zeros(3), np.zeros(3), "same shape"),
    ],
)
def test_update_rejects_bad_shapes(a, b, match):
    with pytest.raises(ValueError, match=match):
        PairMoments(name="L").update(a, b)


def test_update_rejects_width_change_and_inf():
    pm = PairMoments(name="L").update(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="got 4 units, expected 3"):
        pm.update(np.zeros((2, 4)), np.zeros((2, 4)))
    bad = np.zeros((2, 3))
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="layer 'L', batch 5.*non-finite"):
        pm.update(bad, bad, batch=5)


def test_empty_moments_refuse_to_answer():
    with pytest.raises(ValueError, match="no pairs"):
        _ = PairMoments(name="z").cov


@pytest.mark.parametrize("scale", [1e200, 1e-300, 1e-200, 2.0**600])
@pytest.mark.parametrize("scorer", ["official", "pearson"])
def test_report_is_scale_invariant(scale, scorer):
    # Squares of 1e200 overflow float64 and of 1e-300 underflow: the moments keep a power-of-two
    # exponent apart, so the report must not change (nor call every unit constant).
    from sdinterp.scoring import estimate

    rng = np.random.default_rng(3)
    a = rng.normal(size=(48, 12)) + 5.0
    b = a + 0.7 * rng.normal(size=(48, 12))
    factors = ["static"] * 24 + ["dynamic"] * 24
    base = estimate(a, b, factors, scorer=scorer)
    scaled = estimate(a * scale, b * scale, factors, scorer=scorer)
    for k, v in base.scores.items():
        assert scaled.scores[k] == pytest.approx(v, rel=1e-12, abs=1e-12)
    assert scaled.dims == base.dims
    assert list(scaled.categories) == list(base.categories)
    np.testing.assert_allclose(scaled.unit_scores["dynamic"], base.unit_scores["dynamic"], rtol=1e-12, atol=1e-12)


def test_moments_merge_across_exponents_and_keep_units():
    # Parts of very different magnitude merge to the moments of the whole, and the properties are in
    # the features' own units.
    rng = np.random.default_rng(4)
    a = np.concatenate([rng.normal(size=(10, 3)), 1e6 * rng.normal(size=(10, 3))])
    b = a + rng.normal(size=a.shape)
    whole = PairMoments().update(a, b)
    parts = PairMoments().update(a[:10], b[:10]).merge(PairMoments().update(a[10:], b[10:]))
    np.testing.assert_allclose(parts.var_a.numpy(), a.var(0), rtol=1e-10)
    np.testing.assert_allclose(whole.cov.numpy(), parts.cov.numpy(), rtol=1e-10)
    state = PairMoments.from_state_dict(parts.state_dict())
    assert state.exponent == parts.exponent and torch.equal(state.mean_b, parts.mean_b)
