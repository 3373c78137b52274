"""An example third-party plugin: a model family with its own adapter, a model-spec loader, a
static-pair sampler and a scorer, registered through sdinterp's hooks only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sdinterp import Factor, LayerInfo, ModelAdapter, PairSampler, Sample, hookimpl
from sdinterp.scoring import MomentScorer


class TinyClipNet(nn.Module):
    """A two-stage 3D CNN that takes a dict input, so the generic adapter could not drive it."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 6, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Conv3d(6, 10, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.body(self.stem(batch["video"])).mean(dim=(2, 3, 4))


class TinyClipAdapter(ModelAdapter):
    family = "example"

    def layers(self) -> dict[str, LayerInfo]:
        return {
            "early": LayerInfo("early", "stem", channels=6),
            "late": LayerInfo("late", "body", channels=10),
        }

    def prepare(self, samples: Sequence[Sample]) -> dict[str, dict[str, torch.Tensor]]:
        clips = np.stack([s.frames[s.view_indices()[0]] for s in samples])
        video = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float() / 255.0
        return {"batch": {"video": video}}


class TimeReverse(PairSampler):
    """Static pair: the clip played backwards (same frames, reversed dynamics)."""

    factor = Factor.STATIC
    name = "time_reverse"

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        return anchor.replace(views=tuple(v[::-1].copy() for v in anchor.view_indices()))


class UncentredCosine(MomentScorer):
    """Per-unit cosine similarity of the raw (uncentred) pair features, E[ab] / sqrt(E[a²] E[b²]),
    from the same moments the built-in scorers read; the layer score sums it over units."""

    name = "uncentred_cosine"

    def unit_scores(self, layer: str, moments: Any) -> dict[str, Any]:
        unit, scores = {}, {}
        valid = None
        for f in (Factor.DYNAMIC, Factor.STATIC):
            pm = moments[f]
            ab = pm.cov + pm.mean_a * pm.mean_b
            aa, bb = pm.var_a + pm.mean_a**2, pm.var_b + pm.mean_b**2
            ok = (aa > 0) & (bb > 0)
            valid = ok if valid is None else valid & ok
            unit[f.value] = torch.where(
                ok, ab / torch.sqrt(torch.where(ok, aa * bb, torch.ones_like(aa))), torch.zeros_like(aa)
            )
        for f in unit:
            unit[f] = torch.where(valid, unit[f], torch.zeros_like(unit[f])).numpy()
            scores[f] = float(unit[f][valid.numpy()].sum())
        scores["identical"] = 1.0
        return {"scores": scores, "unit_scores": unit, "valid": valid.numpy()}


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    return TinyClipAdapter(model) if isinstance(model, TinyClipNet) else None


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> nn.Module | None:
    if spec == "example:tiny":
        torch.manual_seed(0)
        return TinyClipNet()
    return None


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(TimeReverse.name, TimeReverse)
    registry.add_scorer(UncentredCosine.name, UncentredCosine)
