"""The pieces of the validity check (issue 20, item 1) on hand-made inputs: the mergeable nuisance
moments, the probe controls, the partner shift, the verdict's rules, and the verdict carried by a
report through the printed table, JSON, HTML and figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _report_helpers import synthetic_report
from sdinterp.interfaces import Factor, Sample
from sdinterp.report import BiasReport
from sdinterp.stats import MomentStore
from sdinterp.validity import GroupMoments, ValidityMonitor, ValidityVerdict, control_features, judge
from sdinterp.validity.controls import CONTROL_PREFIX, control_layers
from sdinterp.validity.ood import layer_shift, partner_shifts, shift_floor


# -- nuisance moments --------------------------------------------------------------------------
def test_group_moments_merge_equals_one_pass_and_round_trips():
    rng = np.random.default_rng(0)
    z = torch.as_tensor(rng.normal(size=(60, 5)))
    keys = [str(k) for k in rng.integers(0, 4, 60)]
    whole = GroupMoments().update(z, keys)
    parts = GroupMoments().update(z[:25], keys[:25]).merge(GroupMoments().update(z[25:], keys[25:]))
    assert torch.allclose(whole.share(), parts.share(), atol=1e-12)
    again = GroupMoments().load_state_dict(parts.state_dict())
    assert torch.allclose(again.share(), whole.share(), atol=1e-12) and again.n == 60


def test_group_share_finds_a_planted_group_effect_and_nothing_else():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 4, 400)
    effect = np.array([0.0, 1.0, -1.0, 0.5])[keys]
    # unit 0: the group explains about half its variance; unit 1: none; unit 2: all but noise
    z = np.stack([effect + rng.normal(0, 0.7, 400), rng.normal(size=400), effect + rng.normal(0, 0.05, 400)], 1)
    share = GroupMoments().update(torch.as_tensor(z), keys.tolist()).share().numpy()
    assert 0.35 < share[0] < 0.65 and share[1] < 0.03 and share[2] > 0.98
    one = GroupMoments().update(torch.as_tensor(z), ["0"] * 400).share()
    assert float(one.abs().max()) == 0.0  # one style: nothing is shared that the other pair type lacks
    assert GroupMoments().update(torch.as_tensor(z[:3]), ["a", "b", "c"]).share() is None  # no within-group spread


# -- controls ----------------------------------------------------------------------------------
def _moving_square(direction: int, colour: tuple[int, int, int], frames: int = 8, size: int = 24) -> Sample:
    out = np.full((frames, size, size, 3), 30, np.uint8)
    for t in range(frames):
        x = 4 + direction * t if direction > 0 else size - 9 + direction * t
        out[t, 8:14, x : x + 5] = colour
    return Sample(frames=out, video_id=f"sq{direction}")


def test_controls_read_direction_colour_and_texture():
    right, left = _moving_square(1, (200, 50, 50)), _moving_square(-1, (200, 50, 50))
    f = control_features([right, left]).numpy()
    assert f[0, 5] > 0.05 and f[1, 5] < -0.05  # direction x: signed
    assert np.allclose(f[0, :4], f[1, :4], atol=0.01)  # colour and texture do not see the direction
    reversed_ = right.replace(views=(np.arange(right.num_frames)[::-1].copy(),))
    g = control_features([reversed_]).numpy()[0]
    assert g[5] == pytest.approx(-f[0, 5]) and g[4] == pytest.approx(f[0, 4])  # extent unsigned, direction flips
    shuffled = right.replace(views=(np.random.default_rng(0).permutation(right.num_frames),))
    assert np.allclose(control_features([shuffled]).numpy()[0, :4], f[0, :4])  # frame statistics survive a shuffle
    layers = control_layers([right, left])
    assert all(k.startswith(CONTROL_PREFIX) for k in layers) and sum(v.shape[1] for v in layers.values()) == 7


def test_controls_of_a_still_clip_are_finite():
    still = Sample(frames=np.full((5, 10, 10, 3), 90, np.uint8))
    f = control_features([still, Sample(frames=np.zeros((1, 4, 4, 3), np.uint8))]).numpy()
    assert np.isfinite(f).all() and f[0, 4] == 0.0


# -- partner shift -----------------------------------------------------------------------------
def test_layer_shift_is_zero_for_identical_partners_and_reads_a_doubled_activation():
    rng = np.random.default_rng(2)
    a = torch.as_tensor(np.abs(rng.normal(0.4, 0.2, (128, 16))))
    store = MomentStore(["x"])
    store["x"][Factor.DYNAMIC].update(a, a)
    store["x"][Factor.STATIC].update(a, 2.0 * a)
    same, doubled = layer_shift(store["x"][Factor.DYNAMIC]), layer_shift(store["x"][Factor.STATIC])
    assert same["shift"] == 0.0 and same["scale"] == 1.0 and same["rms_ratio"] == 1.0
    assert (
        doubled["rms_ratio"] == pytest.approx(2.0) and doubled["scale"] == pytest.approx(2.0) and doubled["shift"] > 1.0
    )
    shifts = partner_shifts(store, ["x"])
    assert shifts["dynamic"]["layers"]["x"]["against"] == "anchors" and shifts["dynamic"]["output"] is None
    assert shift_floor(16) > shift_floor(128)


# -- the verdict's rules on a hand-made store --------------------------------------------------
def _store(
    static_rho: dict[str, float], dynamic_rho: dict[str, float], partner_scale: float = 1.0, n: int = 128
) -> MomentStore:
    """A store whose control pseudo-layers correlate across pairs as given, and one model layer
    whose dynamic partners are scaled by ``partner_scale``."""
    from sdinterp.validity.controls import CONTROLS

    rng = np.random.default_rng(3)
    store = MomentStore(["stage1"])
    a = np.abs(rng.normal(1.0, 0.3, (n, 8)))
    for factor in (Factor.DYNAMIC, Factor.STATIC):
        store["stage1"][factor].update(
            a, (partner_scale if factor is Factor.DYNAMIC else 1.0) * np.abs(a + rng.normal(0, 0.1, a.shape))
        )
    for name, (units, _) in CONTROLS.items():
        store.add_layer(CONTROL_PREFIX + name)
        for factor, rho in ((Factor.STATIC, static_rho), (Factor.DYNAMIC, dynamic_rho)):
            x = rng.normal(size=(n, units))
            y = rho[name] * x + np.sqrt(1 - rho[name] ** 2) * rng.normal(size=(n, units))
            store[CONTROL_PREFIX + name][factor].update(x, y)
    return store


GOOD_STATIC = {"mean_colour": 0.99, "texture": 0.99, "motion_extent": 0.0, "direction": 0.0}
GOOD_DYNAMIC = {"mean_colour": 0.0, "texture": 0.0, "motion_extent": 0.95, "direction": 0.95}
REPORT = BiasReport(
    layers={},
    identity={
        "scorer": "official",
        "threshold": 0.5,
        "dynamic_sampler": {"name": "my_dyn"},
        "static_sampler": {"name": "frame_shuffle"},
    },
)


def test_verdict_ok_for_good_pairs_and_names_the_sampler_that_fails_a_control():
    ok = judge(_store(GOOD_STATIC, GOOD_DYNAMIC), REPORT, {})
    assert ok.status == "ok", ok.lines()
    # Keeps one static control, changes the other: still a change of appearance, but colour units read as joint.
    keeps_colour = judge(_store(GOOD_STATIC, {**GOOD_DYNAMIC, "mean_colour": 0.99}), REPORT, {})
    assert keeps_colour.status == "doubtful" and keeps_colour.factors["static"].status == "ok"
    assert "my_dyn" in keeps_colour.headline() and "read as joint" in keeps_colour.factors["dynamic"].reason
    # Keeps every static control (identical or noisy partners): not a dynamic pair at all.
    keeps_all = judge(_store(GOOD_STATIC, {**GOOD_DYNAMIC, "mean_colour": 0.99, "texture": 0.99}), REPORT, {})
    assert keeps_all.status == "invalid" and "my_dyn" in keeps_all.headline()
    reversed_ = judge(_store(GOOD_STATIC, {**GOOD_DYNAMIC, "direction": -0.95}), REPORT, {})
    assert reversed_.factors["dynamic"].status == "invalid" and "direction" in reversed_.factors["dynamic"].reason


def test_verdict_flags_inflated_activations_and_the_anchor_style():
    inflated = judge(_store(GOOD_STATIC, GOOD_DYNAMIC, partner_scale=2.0), REPORT, {})
    assert inflated.factors["dynamic"].status == "invalid" and inflated.factors["static"].status == "ok"
    nuisance = {"stage1": {"style": {"median_share": 0.16, "groups": 4, "clips": 128, "repeated_clips": 128}}}
    shared = {"static": [128, 128], "dynamic": [0, 128]}
    anchored = judge(_store(GOOD_STATIC, GOOD_DYNAMIC), REPORT, nuisance, style_shared=shared)
    assert anchored.factors["static"].status == "invalid" and "16.0%" in anchored.factors["static"].reason
    # The same share, but dynamic pairs share the style too: no anchor effect.
    both = judge(
        _store(GOOD_STATIC, GOOD_DYNAMIC), REPORT, nuisance, style_shared={"static": [128, 128], "dynamic": [128, 128]}
    )
    assert both.factors["static"].status == "ok"
    # A small share over few anchors is within chance: not flagged.
    few = {"stage1": {"style": {"median_share": 0.08, "groups": 4, "clips": 24, "repeated_clips": 24}}}
    assert judge(_store(GOOD_STATIC, GOOD_DYNAMIC), REPORT, few, style_shared=shared).factors["static"].status == "ok"


# -- the report carries it ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def judged():
    report = synthetic_report(layers=("stage1", "stage2"), units=12)
    report.identity.update({"dynamic_sampler": {"name": "my_dyn"}, "static_sampler": {"name": "frame_shuffle"}})
    report.validity = judge(_store(GOOD_STATIC, {**GOOD_DYNAMIC, "texture": 0.9, "mean_colour": 0.9}), report, {})
    return report


def test_verdict_round_trips_through_json(judged, tmp_path):
    assert judged.validity.status == "invalid" and judged.trusted is False
    back = BiasReport.from_json(judged.to_json(tmp_path / "r.json") or (tmp_path / "r.json"))
    assert isinstance(back.validity, ValidityVerdict) and back.validity == judged.validity and back == judged
    assert back.validity.factors["dynamic"].sampler == "my_dyn"
    plain = synthetic_report(layers=("stage1",), units=6)
    assert "validity" not in plain.to_dict() and BiasReport.from_json(plain.to_json()).validity is None


def test_printed_report_says_so_first(judged):
    text = judged.table()
    assert text.splitlines()[0].startswith("validity: INVALID") and "my_dyn" in text.splitlines()[0]
    assert text.index("validity: INVALID") < text.index("scorer:")
    ok = synthetic_report(layers=("stage1",), units=6)
    ok.validity = ValidityVerdict.from_dict({"status": "ok", "factors": {}, "numbers": {}})
    lines = ok.table().splitlines()
    assert not lines[0].startswith("validity") and any(l.startswith("validity: ok") for l in lines)


def test_html_and_figures_carry_the_verdict(judged):
    from sdinterp.report.html import render_html
    from sdinterp.report.plots import standard_figures

    page = render_html(judged, figures={})
    assert 'class="validity validity-invalid"' in page and "do not trust these scores" in page
    assert page.index("validity-banner") < page.index("<h2>Provenance</h2>") and 'id="validity-shift"' in page
    figs = standard_figures(judged)
    assert all(f._suptitle is not None and f._suptitle.get_gid() == "validity-invalid" for f in figs.values())
    assert (
        "validity"
        not in render_html(synthetic_report(layers=("stage1",), units=6), figures={})
        .split("<style>")[1]
        .split("</style>")[1]
    )


def test_monitor_state_merges_and_reloads():
    m1, m2 = ValidityMonitor(), ValidityMonitor()
    z = torch.as_tensor(np.random.default_rng(4).normal(size=(6, 3)))
    m1.groups[("stage1", "style")] = GroupMoments().update(z[:3], ["1", "2", "1"])
    m2.groups[("stage1", "style")] = GroupMoments().update(z[3:], ["2", "1", "2"])
    m1.style_shared, m2.style_shared = {"static": [3, 3]}, {"static": [2, 3]}
    m1.merge(m2)
    back = ValidityMonitor()
    back.load_state_dict(m1.state_dict())
    assert back.style_shared == {"static": [5, 6]} and back.groups[("stage1", "style")].n == 6
