"""The estimator against docs/method.md §1: test vectors TV1/TV2 through the PairMoments path, an
independent literal transcription of the official algorithm, and its documented properties."""

from __future__ import annotations

import numpy as np
import pytest

import sdinterp
from sdinterp.scoring import DegenerateLayerError
from sdinterp.stats import NonFiniteActivationError

TV1 = dict(
    factors=[0, 1, 0, 1, 0, 1],
    za=[[1.0, 2.0, 0.5], [3.0, 1.0, 1.5], [2.0, 0.0, 1.0], [0.0, 3.0, 0.0], [4.0, 1.0, 2.0], [1.0, 2.0, 0.5]],
    zb=[[3.0, 2.1, 1.0], [3.1, 0.0, 0.5], [0.5, 0.1, 0.0], [0.2, 1.0, 1.0], [1.0, 0.9, 1.5], [0.9, 3.0, 2.0]],
    S=[-0.056052, 0.482708, 1.0],
    softmax=[0.178927, 0.306659, 0.514414],
    dims=[0, 0, 3],
    pct=[0.0, 0.0, 100.0],
    s_dyn=[-0.656109, 0.992553, 0.400000],
    s_stat=[0.993516, 0.181818, -0.569231],
    unit_softmax=[[0.087383, 0.454829, 0.457788], [0.407829, 0.181293, 0.410878], [0.312354, 0.118499, 0.569146]],
    joint=[1, 1, 0, 1],
    pearson_S=[0.874810, 0.822324, 1.0],
    pearson_softmax=[0.324440, 0.307851, 0.367709],
)
TV2 = dict(
    factors=[0, 0, 0, 1, 1, 1, 1, 1, 0, 1],
    za=[
        [0.5, 1.0, -1.0, 2.0, 0.0],
        [1.5, -0.5, 0.0, 1.0, 1.0],
        [-1.0, 2.0, 1.0, 0.0, 2.0],
        [2.0, 0.0, 0.5, -1.0, 1.5],
        [0.0, 1.5, -0.5, 0.5, -1.0],
        [1.0, 1.0, 2.0, 1.5, 0.5],
        [-0.5, -1.0, 1.5, 0.0, 0.0],
        [3.0, 0.5, -1.5, 2.5, 1.0],
        [0.0, 0.0, 0.5, 1.0, -0.5],
        [1.5, 2.5, 1.0, -0.5, 2.0],
    ],
    zb=[
        [-0.5, 1.1, -0.8, 1.0, 0.3],
        [2.0, -0.4, 0.2, 0.0, 0.9],
        [0.5, 1.9, 0.9, 1.0, 1.6],
        [1.9, 1.0, 0.4, 0.0, -0.5],
        [0.1, 0.0, -0.6, 1.0, 1.0],
        [1.1, 2.0, 1.9, 0.5, 0.0],
        [-0.4, 0.5, 1.4, 1.0, 1.5],
        [2.9, -1.0, -1.4, 1.5, -1.0],
        [-1.0, 0.1, 0.6, 0.0, 0.2],
        [1.6, 0.0, 1.1, 0.5, 0.5],
    ],
    S=[0.464348, 0.485688, 1.0],
    softmax=[0.268087, 0.273869, 0.458043],
    dims=[1, 1, 3],
    pct=[20.0, 20.0, 60.0],
    s_dyn=[0.470588, 0.994169, 0.974060, -0.142857, 0.849057],
    s_stat=[0.996168, -0.161290, 0.996354, 0.478261, -0.561165],
    unit_softmax=[
        [0.227823, 0.385349, 0.386828],
        [0.430893, 0.135694, 0.433413],
        [0.327995, 0.335390, 0.336615],
        [0.166758, 0.310337, 0.522905],
        [0.415451, 0.101407, 0.483141],
    ],
    joint=[2, 1, 1, 1],
    pearson_S=[3.466721, 2.041729, 1.0],
)


def literal_dim_est(za, zb, factors, thresh=0.5):
    """A direct, stored-activation transcription of docs/method.md §1 (the official ``dim_est``),
    written independently of the library: used as the 1e-9 reference for the moments path."""
    za, zb, factors = np.asarray(za, float), np.asarray(zb, float), np.asarray(factors)
    zall = np.vstack([za, zb])
    vtot = np.sum(np.mean((zall - zall.mean(axis=0)) ** 2, axis=0))
    S, units = [], []
    for f in (0, 1):
        a, b = za[factors == f], zb[factors == f]
        m = 0.5 * (a.mean(0) + b.mean(0))
        c = np.mean((a - m) * (b - m), axis=0)
        S.append(c.sum() / vtot)
        units.append(c / np.var(np.vstack([a, b]), axis=0))
    S.append(1.0)
    units.append(np.ones(za.shape[1]))
    S = np.array(S)
    p = np.exp(S - S.max()) / np.exp(S - S.max()).sum()
    d = za.shape[1]
    dims = [int(p[0] * d), int(p[1] * d)]
    dims.append(d - sum(dims))
    u = np.stack(units, axis=1)
    usm = np.exp(u - u.max(1, keepdims=True))
    usm /= usm.sum(1, keepdims=True)
    s0, s1 = units[0], units[1]
    joint = [
        int(np.sum((s0 > thresh) & (s1 < thresh))),
        int(np.sum((s0 < thresh) & (s1 > thresh))),
        int(np.sum((s0 > thresh) & (s1 > thresh))),
        int(np.sum((s0 < thresh) & (s1 < thresh))),
    ]
    return dict(
        S=S,
        softmax=p,
        dims=dims,
        pct=[round(100 * x / d, 1) for x in dims],
        s_dyn=s0,
        s_stat=s1,
        unit_softmax=usm,
        joint=joint,
    )


def _counts(lb):
    c = lb.category_counts
    return [c["dynamic"], c["static"], c["joint"], c["residual"]]


@pytest.mark.parametrize("tv", [TV1, TV2], ids=["TV1", "TV2"])
def test_official_matches_literal_reference_to_1e9(tv):
    lb = sdinterp.estimate(tv["za"], tv["zb"], tv["factors"])
    ref = literal_dim_est(tv["za"], tv["zb"], tv["factors"])
    got_S = [lb.scores["dynamic"], lb.scores["static"], lb.scores["identical"]]
    np.testing.assert_allclose(got_S, ref["S"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        [lb.shares[k] for k in ("dynamic", "static", "identical")], ref["softmax"], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(lb.unit_scores["dynamic"], ref["s_dyn"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lb.unit_scores["static"], ref["s_stat"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lb.unit_softmax, ref["unit_softmax"], rtol=0, atol=1e-9)
    assert [lb.dims[k] for k in ("dynamic", "static", "identical")] == ref["dims"]
    assert [lb.percent[k] for k in ("dynamic", "static", "identical")] == ref["pct"]
    assert _counts(lb) == ref["joint"]


@pytest.mark.parametrize("tv", [TV1, TV2], ids=["TV1", "TV2"])
def test_official_matches_published_vectors(tv):
    """The values docs/method.md §1.1 prints (6 decimals) from running the official code."""
    lb = sdinterp.estimate(tv["za"], tv["zb"], tv["factors"])
    np.testing.assert_allclose([lb.scores[k] for k in ("dynamic", "static", "identical")], tv["S"], atol=5e-7)
    np.testing.assert_allclose([lb.shares[k] for k in ("dynamic", "static", "identical")], tv["softmax"], atol=5e-7)
    np.testing.assert_allclose(lb.unit_scores["dynamic"], tv["s_dyn"], atol=5e-7)
    np.testing.assert_allclose(lb.unit_scores["static"], tv["s_stat"], atol=5e-7)
    np.testing.assert_allclose(lb.unit_softmax, tv["unit_softmax"], atol=5e-7)
    assert [lb.dims[k] for k in ("dynamic", "static", "identical")] == tv["dims"]
    assert [lb.percent[k] for k in ("dynamic", "static", "identical")] == tv["pct"]
    assert _counts(lb) == tv["joint"]
    assert lb.n_pairs == {"dynamic": tv["factors"].count(0), "static": tv["factors"].count(1)}


@pytest.mark.parametrize("tv", [TV1, TV2], ids=["TV1", "TV2"])
def test_pearson_variant_is_paper_literal(tv):
    lb = sdinterp.estimate(tv["za"], tv["zb"], tv["factors"], scorer="pearson")
    np.testing.assert_allclose([lb.scores[k] for k in ("dynamic", "static", "identical")], tv["pearson_S"], atol=5e-7)
    if "pearson_softmax" in tv:
        np.testing.assert_allclose(
            [lb.shares[k] for k in ("dynamic", "static", "identical")], tv["pearson_softmax"], atol=5e-7
        )
    za, zb, f = np.asarray(tv["za"]), np.asarray(tv["zb"]), np.asarray(tv["factors"])
    for code, name in ((0, "dynamic"), (1, "static")):
        expect = [np.corrcoef(za[f == code][:, i], zb[f == code][:, i])[0, 1] for i in range(za.shape[1])]
        np.testing.assert_allclose(lb.unit_scores[name], expect, atol=1e-12)


def test_factor_labels_by_name_equal_codes():
    names = ["dynamic" if f == 0 else "static" for f in TV2["factors"]]
    assert sdinterp.estimate(TV2["za"], TV2["zb"], names) == sdinterp.estimate(TV2["za"], TV2["zb"], TV2["factors"])


def test_layer_score_can_exceed_one():
    """docs/method.md §1 difference 1: with za = zb = [[0,0],[10,10],[5,5],[5,5]], factors [0,0,1,1], S = (2, 0, 1)."""
    z = [[0, 0], [10, 10], [5, 5], [5, 5]]
    lb = sdinterp.estimate(z, z, [0, 0, 1, 1])
    assert lb.scores["dynamic"] == pytest.approx(2.0, abs=1e-12)
    assert lb.scores["static"] == pytest.approx(0.0, abs=1e-12)
    # the static factor's pairs are constant (5, 5): masked and counted, never NaN
    assert lb.category_counts["constant"] == 2
    assert np.all(np.isfinite(lb.unit_softmax)) and np.all(np.isfinite(lb.unit_scores["static"]))


def test_identical_pairs_give_unit_scores_one_but_layer_scores_below_one():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 6))
    z[20:] += 3.0  # per-factor means differ
    lb = sdinterp.estimate(z, z, [0] * 20 + [1] * 20)
    np.testing.assert_allclose(lb.unit_scores["dynamic"], 1.0, atol=1e-12)
    np.testing.assert_allclose(lb.unit_scores["static"], 1.0, atol=1e-12)
    assert set(lb.categories) == {"joint"}
    assert lb.scores["dynamic"] < 1.0 and lb.scores["static"] < 1.0


def test_units_exactly_at_threshold_are_unassigned_not_dropped():
    # dynamic pairs (-3,-1), (-3,-1), (1,1) give a unit score of exactly 0.5 in floating point
    za = np.array([[-3.0], [-3.0], [1.0], [1.0], [2.0]])
    zb = np.array([[-1.0], [-1.0], [1.0], [1.0], [0.0]])
    lb = sdinterp.estimate(za, zb, [0, 0, 0, 1, 1])
    assert lb.unit_scores["dynamic"][0] == 0.5
    assert lb.categories[0] == "unassigned"  # the official code silently drops such a unit
    assert lb.category_counts["unassigned"] == 1 and sum(lb.category_counts.values()) == lb.n_units
    # a slightly lower threshold puts it in a category again
    assert sdinterp.estimate(za, zb, [0, 0, 0, 1, 1], threshold=0.49).categories[0] == "dynamic"


def test_zero_variance_units_are_masked_and_counted():
    rng = np.random.default_rng(0)
    za, zb = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    za[:, 2] = zb[:, 2] = 0.1  # constant unit (sums of 0.1 are not exact in float64)
    lb = sdinterp.estimate(za, zb, [0, 1] * 15)
    assert lb.categories[2] == "constant" and not lb.valid[2]
    assert lb.n_constant == 1
    assert lb.unit_scores["dynamic"][2] == 0.0 and np.all(lb.unit_softmax[2] == 0.0)
    assert np.all(np.isfinite(lb.unit_softmax))
    assert "NaN" not in sdinterp.BiasReport(layers={"x": lb}).to_json()


def test_all_constant_layer_is_a_clear_error():
    z = np.ones((8, 3))
    with pytest.raises(DegenerateLayerError, match="every unit is constant"):
        sdinterp.estimate(z, z, [0, 1] * 4, layer="dead")


def test_missing_factor_is_a_clear_error():
    z = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(DegenerateLayerError, match="no pairs of factor.*static"):
        sdinterp.estimate(z, z, [0] * 6)


def test_nan_activation_names_the_layer():
    za = np.random.default_rng(0).normal(size=(6, 3))
    zb = za.copy()
    zb[3, 1] = np.nan
    with pytest.raises(NonFiniteActivationError, match="layer 'stage4'.*non-finite"):
        sdinterp.estimate(za, zb, [0, 1] * 3, layer="stage4")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(z1=np.zeros((4, 3)), z2=np.zeros((4, 2)), factors=[0, 1, 0, 1]), "same shape|must both be"),
        (dict(z1=np.zeros((4, 3)), z2=np.zeros((4, 3)), factors=[0, 1, 0]), "3 factor labels for 4 pairs"),
        (dict(z1=np.zeros((4, 3)), z2=np.zeros((4, 3)), factors=[0, 1, 0, 7]), "unknown factor code 7"),
        (dict(z1=np.zeros((4, 3)), z2=np.zeros((4, 3)), factors=[0, 1, 0, "identical"]), "identical"),
    ],
)
def test_bad_input_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sdinterp.estimate(**kwargs)


def test_stateful_metric_in_batches_merged_and_reloaded_equals_estimate():
    from sdinterp import BiasMetric

    za, zb, f = np.asarray(TV2["za"]), np.asarray(TV2["zb"]), TV2["factors"]
    one = sdinterp.estimate(za, zb, f)
    m1, m2 = BiasMetric(), BiasMetric()
    m1.update(za[:4], zb[:4], f[:4])
    m2.update(za[4:7], zb[4:7], f[4:7]).update(za[7:], zb[7:], f[7:])
    merged = BiasMetric().load_state_dict(m1.state_dict()).merge(m2).compute()
    np.testing.assert_allclose(merged.unit_scores["static"], one.unit_scores["static"], atol=1e-12)
    assert merged.dims == one.dims and list(merged.categories) == list(one.categories)
    single_label = BiasMetric().update(za[:3], zb[:3], "dynamic")
    assert single_label.moments[sdinterp.Factor.DYNAMIC].n == 3
