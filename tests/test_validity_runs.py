"""The validity check on real runs (issue 20, item 1): the embedded trained nets with ground-truth
pairs are judged ok, photometric restyles are not, the probe controls pass under ground-truth pairs
and fail under two deliberately broken dynamic samplers (time reversed; strong noise), and the
planted network's demo report is judged valid. Each run: 64-128 pairs of 8 x 32 x 32 clips, about
a second."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import sdinterp
from sdinterp.interfaces import Factor, PairSampler, Sample
from sdinterp.plugins.samplers.basic import Restyle
from sdinterp.plugins.synthetic.pairs import SyntheticRestyle
from sdinterp.plugins.tiny_models import TinyTask, task_clips
from sdinterp.plugins.tiny_models.embedded import load_embedded
from sdinterp.validity import ValidityMonitor


class TimeReversed(PairSampler):
    """Broken on purpose: the "dynamic" partner is the anchor played backwards (same appearance,
    opposite motion) — a static pair in disguise."""

    factor = Factor.DYNAMIC
    name = "broken_reverse"

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        return anchor.replace(views=tuple(np.ascontiguousarray(v[::-1]) for v in anchor.view_indices()))


class Noisy(PairSampler):
    """Broken on purpose: the "dynamic" partner is the anchor under strong pixel noise (sd 60 of 255):
    appearance kept, motion buried."""

    factor = Factor.DYNAMIC
    name = "broken_noise"

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        noisy = anchor.frames.astype(np.float64) + rng.normal(0.0, 60.0, anchor.frames.shape)
        return anchor.replace(frames=np.clip(noisy, 0, 255).astype(np.uint8))


def _judged(net_name: str, dynamic: PairSampler, n_pairs: int = 128):
    """A report with its verdict, and the monitor, of an embedded net on its probe clips."""
    arch, kind = net_name.split("-")
    clips = task_clips(TinyTask(arch=arch, kind=kind), "probe", 0)
    return _judge_run(sdinterp.StaticDynamic(load_embedded(arch, kind), dynamic_sampler=dynamic), clips, n_pairs)


def _judge_run(sd, clips, n_pairs: int):
    """accumulate with the monitor, score, judge: the calls a run makes."""
    torch.set_num_threads(1)
    monitor = ValidityMonitor(sd.adapter, sd.layer_infos)
    config = sdinterp.pipeline.RunConfig.from_options(None, n_pairs=n_pairs, batch_size=48, seed=0, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = sd.accumulate(clips, config, observers=[monitor])
    report = sd.score(store, seed=0, identity=sd.identity(clips, config))
    report.validity = monitor.verdict(store, report)
    return report, monitor


def _controls(report) -> dict[str, str]:
    """``{"<factor>:<control>": status}`` of the control findings."""
    return {
        f"{f}:{x['check'].split()[-1]}": x["status"]
        for f, v in report.validity.factors.items()
        for x in v.findings
        if x["check"].startswith("control ")
    }


@pytest.fixture(scope="module")
def ground_truth():
    return _judged("i3d-motion", SyntheticRestyle(anchor_style="original"))


def test_ground_truth_pairs_on_the_motion_net_are_ok(ground_truth):
    report, monitor = ground_truth
    assert report.validity.status == "ok", report.validity.lines()
    assert report["stage3"].category_counts["dynamic"] >= 15  # the measurement the verdict vouches for
    assert monitor.saw_logits and report.validity.numbers["shift"]["dynamic"]["output"]["agreement"] > 0.8
    assert set(_controls(report).values()) == {"ok"} and len(_controls(report)) == 8
    assert report.table().splitlines()[0].startswith("model:")  # an ok run leads with its provenance


def test_photometric_pairs_on_the_motion_net_are_not_trusted():
    for anchor in ("original", "random"):
        report, _ = _judged("i3d-motion", Restyle("photometric", anchor_style=anchor))
        v = report.validity
        assert v.status in ("doubtful", "invalid") and v.factors["dynamic"].status != "ok", (anchor, v.lines())
        assert report.table().startswith("validity: ")
        layers = v.numbers["shift"]["dynamic"]["layers"]
        # random-style anchors are restyled too: the shift is read against their original frames
        assert layers["stage3"]["against"] == ("original clips" if anchor == "random" else "anchors")
        assert layers["stage3"]["rms_ratio"] > 1.3  # the "stage3 mean activation doubles"
        if anchor == "random":  # the anchor effect, visible as a number
            assert v.factors["static"].status == "invalid" and "anchor style" in {
                x["check"] for x in v.factors["static"].findings
            }


@pytest.mark.parametrize(
    "broken,failing,kept",
    [(TimeReversed(), {"direction", "mean_colour", "texture"}, set()), (Noisy(), {"motion_extent"}, {"mean_colour"})],
)
def test_controls_fail_under_a_broken_dynamic_sampler_and_name_it(broken, failing, kept):
    report, _ = _judged("i3d-motion", broken, n_pairs=64)
    v = report.validity
    assert v.status == "invalid" and v.factors["dynamic"].sampler == broken.name and broken.name in v.headline()
    controls = _controls(report)
    bad = {k.split(":")[1] for k, s in controls.items() if k.startswith("dynamic:") and s == "invalid"}
    assert failing <= bad, controls
    # noise keeps the mean colour (so colour units would read as joint) but adds texture: doubtful on its own
    assert all(controls[f"dynamic:{k}"] != "ok" for k in kept), controls
    assert all(s == "ok" for k, s in _controls(report).items() if k.startswith("static:"))  # frame shuffle is fine


def test_planted_network_demo_report_is_judged_valid():
    from sdinterp.plugin_manager import get_registry
    from sdinterp.testing.planted import PLANTED_TRUTH, PlantedNet, make_planted_clips

    torch.set_num_threads(1)
    clips = make_planted_clips(128, seed=0)
    restyle = get_registry().create("sampler", "restyle", restyler="level_permutation")  # as `sdinterp demo`
    sd = sdinterp.StaticDynamic(
        PlantedNet(), layers=list(PLANTED_TRUTH), dynamic_sampler=restyle, **PlantedNet.adapter_options()
    )
    report, _ = _judge_run(sd, clips, 128)
    assert report.validity.status == "ok", report.validity.lines()
    hits = sum(int((report[l].categories == truth).sum()) for l, truth in PLANTED_TRUTH.items())
    assert hits == 23


def test_a_resumed_run_keeps_the_monitor_state(tmp_path):
    """The monitor's state is saved with the run state (torch.load with weights_only) and restored:
    a second run from a complete state file gives the same verdict without a forward."""
    arch, kind = "i3d", "motion"
    clips = task_clips(TinyTask(arch=arch, kind=kind), "probe", 0)[:32]
    verdicts = []
    for _ in range(2):
        sd = sdinterp.StaticDynamic(
            load_embedded(arch, kind), dynamic_sampler=Restyle("photometric", anchor_style="random")
        )
        monitor = ValidityMonitor(sd.adapter, sd.layer_infos)
        config = sdinterp.pipeline.RunConfig.from_options(
            None, n_pairs=32, batch_size=48, seed=0, show_progress=False, resume=str(tmp_path / "run.state")
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = sd.accumulate(clips, config, observers=[monitor])
        report = sd.score(store, seed=0, identity=sd.identity(clips, config))
        verdicts.append(monitor.verdict(store, report))
        assert monitor.referenced == 32 and monitor.style_shared["static"] == [32, 32]
    assert verdicts[0] == verdicts[1] and verdicts[0].factors["static"].status != "ok"
