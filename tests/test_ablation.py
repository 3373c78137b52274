"""Neuron removal (plugins/ablation): the intervention on every layer layout, the selection rules,
the sweep on a tiny model trained here whose task needs motion, Captum's LayerFeatureAblation
path, and the ``sdinterp ablate`` command."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import _tiny_tasks as tt
import sdinterp
from sdinterp.cli import main
from sdinterp.interfaces import LayerInfo, ModelAdapter
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.ablation import (
    RandomUnits,
    SegmentationBaseline,
    UnitSelection,
    ZeroUnits,
    intervene,
    removal_attribution,
    removal_sweep,
    units_for_percent,
)

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

PERCENTS = [12.5, 25.0]  # 2 and 4 of the 16 units of `feat`


@pytest.fixture(scope="module")
def motion() -> tuple[ModelAdapter, sdinterp.LayerBias]:
    adapter = tt.adapter_for(tt.trained("motion"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sdinterp.StaticDynamic(adapter, layers=["feat"], dynamic_sampler=tt.dynamic_sampler()).attribute(
            tt.make_clips("motion", 64, seed=3), n_pairs=64, batch_size=24, seed=0, show_progress=False
        )
    return adapter, report["feat"]


@pytest.fixture(scope="module")
def val(motion) -> tuple[torch.Tensor, torch.Tensor]:
    return tt.inputs_and_labels(motion[0], tt.make_clips("motion", 200, seed=7))


@pytest.mark.slow  # 12 s measured on 2 shared cores
def test_removing_top_dynamic_units_hurts_the_motion_task_most(motion, val) -> None:
    adapter, bias = motion
    assert bias.category_counts["dynamic"] >= 2 and bias.category_counts["static"] >= 2  # both kinds exist
    curves = removal_sweep(
        adapter,
        "feat",
        bias,
        tt.prepared_accuracy,
        val,
        percents=PERCENTS,
        selections=["top_dynamic", "top_static", "random"],
        seeds=range(5),
    )
    assert curves.baseline >= 0.95, "the tiny motion model did not learn its task"
    dyn, stat, rnd = (curves.drop(s) for s in ("top_dynamic", "top_static", "random"))
    print(
        f"\naccuracy {curves.baseline:.3f}; drops at {PERCENTS}%: top_dynamic {dyn}, top_static {stat}, "
        f"random (mean of 5 seeds) {rnd}, random std {curves.spread['random']['std']}"
    )
    for i in range(len(PERCENTS)):
        assert dyn[i] > rnd[i] + 0.05 and dyn[i] > stat[i] + 0.05
    assert max(dyn) >= 0.3  # the model needs its dynamic units: removing 4 of 16 costs a lot
    assert np.asarray(curves.spread["random"]["per_seed"]).shape == (len(PERCENTS), 5)
    # the units each rule removed are recorded, and they are the ranked ones
    top = np.argsort(-bias.unit_softmax[:, 0], kind="stable")[:4]
    assert sorted(curves.units["top_dynamic"][1]) == sorted(top.tolist())


def test_random_baseline_uses_the_requested_counts(motion) -> None:
    _, bias = motion
    for x in (0, 10, 12.5, 25, 29, 50, 100):
        k = units_for_percent(x, bias.n_units)
        assert k == int(np.floor(x * bias.n_units / 100 + 1e-9))
        draws = [RandomUnits().select(bias, x, np.random.default_rng([s, 1])) for s in range(6)]
        for units in draws:
            assert len(units) == k == len(set(units.tolist())) and all(0 <= u < bias.n_units for u in units)
    assert units_for_percent(29, 100) == 29  # 0.29 * 100 is 28.999... in floating point
    assert len({tuple(RandomUnits().select(bias, 50, np.random.default_rng(s))) for s in range(6)}) > 1
    with pytest.raises(ValueError, match="in \\[0, 100\\]"):
        units_for_percent(120, 16)


def test_segmentation_baseline_draws_from_the_least_biased_pool(motion) -> None:
    _, bias = motion
    rule = SegmentationBaseline()
    dominant = "dynamic" if bias.scores["dynamic"] >= bias.scores["static"] else "static"
    col = {"dynamic": 0, "static": 1}[dominant]
    p = np.where(bias.valid, bias.unit_softmax[:, col], np.inf)  # constant units are not candidates first
    for x in (10, 25):
        pool = set(np.argsort(p, kind="stable")[: int(np.ceil((x + 5) * bias.n_units / 100))].tolist())
        for s in range(5):
            units = rule.select(bias, x, np.random.default_rng(s))
            assert len(units) == units_for_percent(x, bias.n_units) and set(units.tolist()) <= pool


def test_a_third_party_selection_rule_is_used_by_name(motion, val) -> None:
    class FirstUnits(UnitSelection):
        name = "first_units"

        def select(self, bias, percent, rng):
            return np.arange(units_for_percent(percent, bias.n_units))

    get_registry().add("ablation_selection", "first_units", FirstUnits)
    adapter, bias = motion
    curves = removal_sweep(adapter, "feat", bias, tt.prepared_accuracy, val, percents=[25], selections=["first_units"])
    assert curves.units["first_units"] == [[0, 1, 2, 3]]
    with intervene(adapter, "feat", ZeroUnits([0, 1, 2, 3])):
        assert curves.curves["first_units"][0] == tt.prepared_accuracy(adapter, val)


class _Layouts(nn.Module):
    """Three layers in the three activation layouts, and one read at its input."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.tokens = nn.Linear(4, 4)
        self.seq = nn.Identity()
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # (B, 4, T, H, W)
        t = self.tokens(y.flatten(2).transpose(1, 2))  # (B, L, 4)
        s = self.seq(t.transpose(0, 1))  # (L, B, 4)
        return self.head(s.mean(0))


class _LayoutAdapter(ModelAdapter):
    def layers(self):
        return {
            "conv": LayerInfo("conv", "conv"),
            "tokens": LayerInfo("tokens", "tokens", pooling="tokens"),
            "seq": LayerInfo("seq", "seq", pooling="tokens_seq_first"),
        }

    def prepare(self, samples):
        raise NotImplementedError


@pytest.mark.parametrize("layer,axis", [("conv", 1), ("tokens", -1), ("seq", -1), ("input:head", -1)])
def test_zero_units_on_every_layout(layer: str, axis: int) -> None:
    torch.manual_seed(0)
    model = _Layouts().eval()
    adapter = _LayoutAdapter(model)
    x = torch.randn(2, 3, 2, 3, 3)
    seen = {}
    module = model.get_submodule(layer.removeprefix("input:"))

    def grab():  # registered after the intervention's hook, so it sees what the next module reads
        if layer.startswith("input:"):
            return module.register_forward_pre_hook(lambda m, a: seen.update(v=a[0]))
        return module.register_forward_hook(lambda m, a, o: seen.update(v=o))

    with torch.no_grad():
        handle = grab()
        model(x)
        before = seen["v"].clone()
        handle.remove()
        with intervene(adapter, layer, ZeroUnits([1, 3])):
            handle = grab()
            after_out = model(x)
            handle.remove()
        after = seen["v"]
    expected = before.clone()
    expected.index_fill_(axis % before.dim(), torch.tensor([1, 3]), 0)
    if layer.startswith("input:"):
        torch.testing.assert_close(after_out, model.head(expected))
    else:
        torch.testing.assert_close(after, expected, rtol=0, atol=0)
    assert before.shape == after.shape and bool(
        (before.index_select(axis % before.dim(), torch.tensor([1, 3])) != 0).any()
    )
    assert not torch.equal(after_out, model(x).detach())  # the hook is gone after the block


def test_zero_units_of_concatenated_pathways() -> None:
    from sdinterp.adapters._clip import cat_pathways

    class TwoPaths(nn.Module):
        def forward(self, x):
            return [x[:, :3] * 1.0, x[:, 3:] * 2.0]

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.paths = TwoPaths()

        def forward(self, x):
            return self.paths(x)

    class CatAdapter(ModelAdapter):
        def layers(self):
            return {"cat": LayerInfo("cat", "paths", channels=5, pooling="flat", select=cat_pathways)}

        def prepare(self, samples):
            raise NotImplementedError

    model = Wrap()
    x = torch.ones(2, 5, 2, 2, 2)
    with intervene(CatAdapter(model), "cat", ZeroUnits([1, 4], n_units=5)):
        slow, fast = model(x)
    assert slow[:, 1].abs().sum() == 0 and fast[:, 1].abs().sum() == 0  # unit 4 = fast channel 1
    assert slow[:, [0, 2]].min() == 1 and fast[:, 0].min() == 2


def test_captum_layer_feature_ablation_matches_the_hook(motion, val) -> None:
    adapter, bias = motion
    x, y = val[0][:16], val[1][:16]
    order = np.argsort(-bias.unit_softmax[:, 0], kind="stable")
    groups = {"dynamic": order[:3].tolist(), "static": order[-4:-1].tolist()}
    drops = removal_attribution(adapter, "feat", x, groups, target=y)
    with torch.no_grad():
        full = adapter.forward(x).gather(1, y[:, None])[:, 0]
        for name, units in groups.items():
            with intervene(adapter, "feat", ZeroUnits(units)):
                removed = adapter.forward(x).gather(1, y[:, None])[:, 0]
            torch.testing.assert_close(drops[name], full - removed, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="overlaps"):
        removal_attribution(adapter, "feat", x, {"a": [0, 1], "b": [1, 2]}, target=y)


def test_cli_ablate_writes_json_and_prints_a_table(tmp_path, capsys) -> None:
    tt.write_task_videos(tmp_path / "videos", 8)
    out = tmp_path / "ablate.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                "ablate",
                "python:_tiny_tasks:motion_model",
                str(tmp_path / "videos"),
                "--layer",
                "feat",
                "--factor",
                "dynamic",
                "--percent",
                "25",
                "--metric",
                "python:_tiny_tasks:video_name_accuracy",
                "--seeds",
                "2",
                "--n-pairs",
                "8",
                "--clip-length",
                "8",
                "--no-progress",
                "--json",
                str(out),
            ]
        )
    text = capsys.readouterr().out
    assert code == 0 and "top_dynamic" in text and "random" in text
    saved = json.loads(out.read_text())
    assert saved["counts"] == [4] and set(saved["curves"]) == {"top_dynamic", "random"}
    assert len(saved["units"]["random"][0]) == 2 and all(len(u) == 4 for u in saved["units"]["random"][0])
    assert saved["bias"]["layer"] == "feat"


def test_cli_ablate_refuses_bad_flags_before_loading(tmp_path, capsys) -> None:
    assert (
        main(
            [
                "ablate",
                "python:_tiny_tasks:motion_model",
                str(tmp_path),
                "--layer",
                "feat",
                "--percent",
                "150",
                "--metric",
                "python:_tiny_tasks:video_name_accuracy",
            ]
        )
        == 1
    )
    assert "--percent 150" in capsys.readouterr().err
    assert (
        main(
            [
                "ablate",
                "python:_tiny_tasks:motion_model",
                str(tmp_path),
                "--layer",
                "feat",
                "--metric",
                "python:_tiny_tasks:no_such_metric",
            ]
        )
        == 1
    )
    assert "no function 'no_such_metric'" in capsys.readouterr().err


def test_the_plain_pytorch_examples_of_docs_controlling_bias_run() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "controlling_bias.md").read_text()
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "custom_imports" not in b
    ]  # configs need MMAction2
    assert len(blocks) >= 6
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile("\n".join(blocks), "docs/controlling_bias.md", "exec"), ns)
    assert ns["curves"].counts == [1, 3, 6] and set(ns["curves"].curves) == {"top_dynamic", "top_static", "random"}
    assert ns["net"].dropout.refreshed_at == [0, 30] and ns["drops"]["dynamic"].shape == (8,)
    assert (
        ns["series"].steps == [1, 2, 3]
        and sorted(p.name for p in (ns["folder"] / "bias").iterdir())[-1] == "series.json"
    )
    assert 0 <= ns["result"].relative and ns["drop"].standard >= 0
