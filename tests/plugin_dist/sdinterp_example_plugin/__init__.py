"""An example third-party plugin: a model family with its own adapter, a model-spec loader, a
static-pair sampler and a scorer, registered through sdinterp's hooks only.

``example:tiny`` honours every option the command line gives a model, and refuses any other by name:

* ``weights`` / ``trust_weights``: a local state dict loaded into the net (read weights-only unless
  trusted); without it the net is randomly initialised from the torch seed (``sdinterp report`` seeds
  it with ``--seed``).
* ``num_frames``: frames taken uniformly from each clip (default :data:`NATIVE_FRAMES`, whatever
  ``--clip-length`` is).
* ``crop_size`` / ``short_side``: short-side resize, then a square centre crop (default: the frames
  as they come).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdinterp import Factor, LayerInfo, ModelAdapter, PairSampler, Sample, hookimpl
from sdinterp.adapters.common import load_state_dict_file
from sdinterp.models import check_weights_options, refuse_unknown_options
from sdinterp.scoring import MomentScorer

#: Frames the net takes from each clip unless ``num_frames`` says otherwise.
NATIVE_FRAMES = 8
#: Options the spec loader applies, and the ones it leaves to the adapter.
LOAD_OPTIONS = ("weights", "trust_weights")
ADAPT_OPTIONS = ("num_frames", "crop_size", "short_side", "size")


class TinyClipNet(nn.Module):
    """A two-stage 3D CNN that takes a dict input, so the generic adapter could not drive it."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 6, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Conv3d(6, 10, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.body(self.stem(batch["video"])).mean(dim=(2, 3, 4))


class TinyClipAdapter(ModelAdapter):
    """``num_frames`` uniform frames per clip, resized (short side) and centre-cropped if asked.

    Args:
        model: the net.
        num_frames: frames per clip (default :data:`NATIVE_FRAMES`).
        crop_size: side of the square centre crop (default: no crop).
        short_side: the short side is resized to this first (default: ``crop_size``).
    """

    family = "example"

    def __init__(
        self,
        model: nn.Module,
        num_frames: int | None = None,
        crop_size: int | None = None,
        short_side: int | None = None,
    ):
        super().__init__(model)
        self.num_frames = int(num_frames or NATIVE_FRAMES)
        self.crop_size = int(crop_size) if crop_size else None
        self.short_side = int(short_side) if short_side else self.crop_size
        if self.crop_size and self.short_side and self.short_side < self.crop_size:
            raise ValueError(f"short_side {self.short_side} is smaller than crop_size {self.crop_size}")

    def layers(self) -> dict[str, LayerInfo]:
        return {
            "early": LayerInfo("early", "stem", channels=6),
            "late": LayerInfo("late", "body", channels=10),
        }

    def views(self, sample: Sample) -> Sample:
        if sample.views is not None:
            return sample
        return sample.replace(views=(np.linspace(0, sample.num_frames - 1, self.num_frames).astype(np.int64),))

    def working_size(self, height: int, width: int) -> tuple[int, int] | None:
        side = self.short_side
        if side is None:
            return None
        return (
            (side, max(side, width * side // height)) if height <= width else (max(side, height * side // width), side)
        )

    def prepare(self, samples: Sequence[Sample]) -> dict[str, dict[str, torch.Tensor]]:
        clips = np.stack([s.frames[s.view_indices()[0]] for s in samples])  # (B, T, H, W, 3)
        video = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float() / 255.0  # (B, T, 3, H, W)
        b, t, c, h, w = video.shape
        size = self.working_size(h, w)
        if size is not None and size != (h, w):
            frames = F.interpolate(video.reshape(b * t, c, h, w), size=size, mode="bilinear", antialias=True)
            video = frames.reshape(b, t, c, *size)
        if self.crop_size:
            h, w = video.shape[-2:]
            if self.crop_size > min(h, w):
                raise ValueError(f"crop {self.crop_size} is larger than the {h}x{w} frames")
            top, left = (h - self.crop_size) // 2, (w - self.crop_size) // 2
            video = video[..., top : top + self.crop_size, left : left + self.crop_size]
        return {"batch": {"video": video.permute(0, 2, 1, 3, 4).contiguous()}}

    def describe(self) -> dict[str, Any]:
        clip = {"num_frames": self.num_frames, "crop_size": self.crop_size, "short_side": self.short_side}
        return {**super().describe(), "clip": clip}


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
        cosine: dict[str, torch.Tensor] = {}
        valid = torch.ones((), dtype=torch.bool)
        for f in (Factor.DYNAMIC, Factor.STATIC):
            pm = moments[f]
            ab = pm.cov + pm.mean_a * pm.mean_b
            aa, bb = pm.var_a + pm.mean_a**2, pm.var_b + pm.mean_b**2
            ok = (aa > 0) & (bb > 0)
            valid = valid & ok
            cosine[f.value] = torch.where(
                ok, ab / torch.sqrt(torch.where(ok, aa * bb, torch.ones_like(aa))), torch.zeros_like(aa)
            )
        keep = valid.numpy()
        unit = {f: torch.where(valid, c, torch.zeros_like(c)).numpy() for f, c in cosine.items()}
        scores = {f: float(u[keep].sum()) for f, u in unit.items()}
        scores["identical"] = 1.0
        return {"scores": scores, "unit_scores": unit, "valid": keep}


@hookimpl
def sdinterp_adapt(model: Any, options: dict[str, Any]) -> ModelAdapter | None:
    if not isinstance(model, TinyClipNet):
        return None
    # weights / trust_weights were applied by the spec loader; anything else unknown is refused.
    refuse_unknown_options("example:tiny", options, ADAPT_OPTIONS, LOAD_OPTIONS)
    crop = options.get("crop_size") or options.get("size")
    return TinyClipAdapter(model, options.get("num_frames"), crop, options.get("short_side"))


@hookimpl
def sdinterp_load_model(spec: str, options: dict[str, Any]) -> nn.Module | None:
    if spec != "example:tiny":
        return None
    refuse_unknown_options(spec, options, LOAD_OPTIONS, ADAPT_OPTIONS)
    check_weights_options(spec, options.get("weights"), options.get("trust_weights"))
    model = TinyClipNet()  # random init from the torch seed, which the caller sets (report: --seed)
    if options.get("weights"):
        load_state_dict_file(model, options["weights"], trusted=bool(options.get("trust_weights")))
    return model


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(TimeReverse.name, TimeReverse)
    registry.add_scorer(UncentredCosine.name, UncentredCosine)
