"""The Captum face: module objects as layers, and per-unit bias joined with Captum attributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import LayerGradientXActivation
from torch import nn

import sdinterp
from sdinterp.adapters.generic import clips_to_tensor
from sdinterp.testing.planted import make_planted_clips


class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


def test_module_objects_as_layers_and_captum_join():
    model = Clf().eval()
    clips = make_planted_clips(8, size=16)
    sd = sdinterp.StaticDynamic(model, layers=[model.features])  # a module object, as Captum takes it
    report = sd.attribute(clips, n_pairs=8, batch_size=12, seed=0, show_progress=False)
    assert list(report.layers) == ["features"]
    x = clips_to_tensor([sd.adapter.views(c) for c in clips[:4]])
    attr = LayerGradientXActivation(model, model.features).attribute(x, target=0)
    table = report["features"].join_attributions(attr, name="grad_x_act")
    assert len(table) == 8 and list(table["unit"]) == list(range(8))
    np.testing.assert_allclose(table["grad_x_act"], attr.detach().sum(dim=(0, 2, 3, 4)).double().numpy(), rtol=1e-5)
    assert {"category", "score_static", "score_dynamic"} <= set(table.columns)
    with pytest.raises(ValueError, match="expected \\(8,\\)"):
        report["features"].join_attributions(torch.zeros(5))


def test_module_not_in_model_is_rejected():
    with pytest.raises(sdinterp.UnknownLayerError, match="not part of the model"):
        sdinterp.StaticDynamic(Clf(), layers=[nn.ReLU()])
