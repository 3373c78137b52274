"""docs/captum.md, run: Captum layer attributions beside the unit categories for a torchvision and an
MMAction2 model, with the channel order checked against a planted unit, and token layers joined
along their channel axis."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from captum.attr import LayerConductance, LayerGradientXActivation

import sdinterp
from sdinterp.errors import ReliabilityWarning
from sdinterp.testing.planted import make_planted_clips

PLANTED = 37


def _report(adapter, layer, clips):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        return sdinterp.StaticDynamic(adapter, layers=[layer]).attribute(
            clips, n_pairs=4, batch_size=6, seed=0, show_progress=False
        )


def _plant(bn: torch.nn.Module, fc: torch.nn.Linear) -> None:
    """Make unit PLANTED of the last stage dominate class 0: large everywhere (a shift of 50 in the
    block's last norm, set rather than scaled since MMAction2 zero-initialises it) and weighted
    heavily by the classifier."""
    with torch.no_grad():
        bn.weight[PLANTED] = 1.0
        bn.bias[PLANTED] = 50.0
        fc.weight[0, PLANTED] = 1.0


@pytest.mark.slow  # 11 s measured on 2 shared cores
def test_torchvision_r3d_gradxact_and_conductance_planted_unit():
    torch.manual_seed(0)
    adapter = sdinterp.load_adapter("torchvision:r3d_18", num_frames=4, crop_size=32)
    assert adapter.layer_module("stage5") is adapter.model.layer4
    _plant(adapter.model.layer4[-1].conv2[1], adapter.model.fc)
    clips = make_planted_clips(4, size=32)
    report = _report(adapter, "stage5", clips)
    x = adapter.prepare([adapter.views(c) for c in clips[:2]])
    layer = adapter.layer_module("stage5")
    gxa = LayerGradientXActivation(adapter.model, layer).attribute(x, target=0)
    cond = LayerConductance(adapter.model, layer).attribute(x, target=0, n_steps=4)
    assert gxa.shape == (2, 512, 1, 2, 2)
    table = report["stage5"].join_attributions(gxa, "grad_x_act")
    table["conductance"] = report["stage5"].join_attributions(cond, "c")["c"]
    for column in ("grad_x_act", "conductance"):
        top = table.loc[table[column].abs().idxmax()]
        assert top["unit"] == PLANTED, column
        assert top["category"] == report["stage5"].categories[PLANTED]
    np.testing.assert_allclose(
        table["grad_x_act"], gxa.detach().double().sum(dim=(0, 2, 3, 4)).numpy(), rtol=1e-6, atol=1e-12
    )


@pytest.mark.slow  # 21 s measured on 2 shared cores
def test_mmaction2_tsn_time_folded_layer_planted_unit():
    torch.manual_seed(0)
    adapter = sdinterp.load_adapter(
        "mmaction2:tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb", num_frames=4, crop_size=64
    )
    _plant(adapter.model.backbone.layer4[-1].conv3.bn, adapter.model.cls_head.fc_cls)
    clips = make_planted_clips(4, size=64)
    report = _report(adapter, "stage5", clips)
    x = adapter.prepare([adapter.views(c) for c in clips[:2]])

    def logits(x):
        return adapter.model(x, mode="tensor", stage="head")

    assert logits(x).shape == (2, 400)
    attr = LayerGradientXActivation(logits, adapter.layer_module("stage5")).attribute(x, target=0)
    assert attr.shape[:2] == (8, 2048)  # 2 clips x 4 frames folded into the batch
    assert report["stage5"].info["pooling"] == "unfold_time_pool"  # a custom pooling, known by name
    table = report["stage5"].join_attributions(attr, "grad_x_act")
    assert table.loc[table["grad_x_act"].abs().idxmax(), "unit"] == PLANTED
    np.testing.assert_allclose(
        table["grad_x_act"], attr.detach().double().sum(dim=(0, 2, 3)).numpy(), rtol=1e-6, atol=1e-12
    )


def test_token_layer_joins_along_its_last_axis():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(32, 6)), rng.normal(size=(32, 6))
    lb = sdinterp.estimate(z1, z2, ["static", "dynamic"] * 16)
    lb.info["pooling"] = "tokens"
    attr = torch.zeros(2, 9, 6)  # (B, L, C): 9 tokens
    attr[:, :, 4] = 1.0
    table = lb.join_attributions(attr)
    assert table["attribution"].tolist() == [0, 0, 0, 0, 18.0, 0]
    lb.info["pooling"] = "tokens_seq_first"
    assert lb.join_attributions(attr.permute(1, 0, 2))["attribution"].tolist() == [0, 0, 0, 0, 18.0, 0]
    lb.info["pooling"] = "my_pool"  # custom, and both axis 1 and the last axis have 6 entries
    with pytest.raises(ValueError, match="cannot be told"):
        lb.join_attributions(torch.zeros(2, 6, 6))
