"""FlowJitter: the static pair of two-stream (image, flow) models.

The reference VOS protocol (YorkUCVIL/Static-Dynamic-Interpretability, ``dataset_factory/
StylizedDAVIS.py`` with ``sampling_method="noisy_flow"`` and ``vos_transforms.ExtFlowColorJitter``)
pairs (image, flow) with (same image, jittered flow): for every frame it draws ``h ~ U(0.1, 0.5)`` and
``s ~ U(0.1, 1.0)`` and applies ``torchvision.transforms.ColorJitter(saturation=s, hue=h)`` to the
RGB-encoded flow image, i.e. a hue shift ``~ U(-h, h)`` (fraction of the hue circle) and a saturation
factor ``~ U(max(0, 1 - s), 1 + s)``, in random order. The image is untouched, so the pair shares
its statics (appearance) while the motion encoding changes.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["FlowJitter", "adjust_hue", "adjust_saturation", "jitter_frame"]

#: Grey weights of PIL's ``ImageEnhance.Color`` (float32, as the numpy code held them).
_GREY = tuple(float(v) for v in np.array([0.299, 0.587, 0.114], dtype=np.float32))
#: OpenCV's HSV2RGB sector table as (r, g, b) picks from (v, p, q, t) per hue sector.
_SECTORS = [[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]]


@functools.lru_cache(maxsize=8)
def _sectors_on(device: torch.device) -> torch.Tensor:
    """The sector table on ``device``, copied there once."""
    return torch.tensor(_SECTORS, device=device)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0, 255).to(torch.uint8)


def _saturated(x: torch.Tensor, factor: float) -> torch.Tensor:
    """float RGB (0..255 scale) blended with its grey level, not rounded."""
    gray = (x[..., 0] * _GREY[0] + x[..., 1] * _GREY[1] + x[..., 2] * _GREY[2]).unsqueeze(-1)
    return gray + float(factor) * (x - gray)


def adjust_saturation(rgb: Any, factor: float) -> Any:
    """Blend an RGB uint8 image with its grayscale version (PIL ``ImageEnhance.Color`` semantics:
    0 gives gray, 1 the image, > 1 more saturated), clipped to [0, 255]. A numpy array is adjusted
    in numpy, a tensor in torch on its device (the same values) and returned as a tensor.

    Examples::

        >>> px = np.array([[[200, 100, 50]]], dtype=np.uint8)
        >>> adjust_saturation(px, 0.0).tolist()    # gray: 0.299 R + 0.587 G + 0.114 B
        [[[124, 124, 124]]]
    """
    if isinstance(rgb, torch.Tensor):
        return _to_uint8(_saturated(rgb.float(), factor))
    x = np.asarray(rgb, dtype=np.float32)
    gray = (x @ np.array(_GREY, dtype=np.float32))[..., None]
    return np.clip(np.round(gray + float(factor) * (x - gray)), 0, 255).astype(np.uint8)


def _hue_rotated(x: torch.Tensor, shift: float) -> torch.Tensor:
    """float RGB in [0, 1] with its HSV hue rotated by ``shift`` turns: OpenCV's float RGB<->HSV
    (``RGB2HSV_f`` / ``HSV2RGB_f``: H in degrees, FLT_EPSILON guards), element for element."""
    eps = float(np.finfo(np.float32).eps)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = torch.maximum(torch.maximum(r, g), b)
    diff = v - torch.minimum(torch.minimum(r, g), b)
    s = diff / (v.abs() + eps)
    k = 60.0 / (diff + eps)
    h = torch.where(v == r, (g - b) * k, torch.where(v == g, (b - r) * k + 120.0, (r - g) * k + 240.0))
    h = torch.where(h < 0, h + 360.0, h)
    h = torch.remainder(h + 360.0 * float(shift), 360.0) * (6.0 / 360.0)
    h = torch.where(h >= 6, h - 6, h)
    sector = torch.floor(h)
    frac = h - sector
    bad = (sector < 0) | (sector >= 6)
    sector, frac = sector.masked_fill(bad, 0).long(), frac.masked_fill(bad, 0)
    tab = torch.stack([v, v * (1 - s), v * (1 - s * frac), v * (1 - s * (1 - frac))], dim=-1)
    # OpenCV's sector table, per output channel (r, g, b): which tab entry each sector takes
    out = torch.gather(tab, -1, _sectors_on(x.device)[sector])
    return torch.where((s == 0).unsqueeze(-1), v.unsqueeze(-1).expand_as(out), out)


def adjust_hue(rgb: Any, shift: float) -> Any:
    """Rotate the HSV hue of an RGB uint8 image by ``shift`` (a fraction of the circle, in [-0.5, 0.5]).
    A numpy array is rotated with OpenCV (fastest on a CPU), a tensor in torch on its device (the
    same arithmetic; within one grey level of OpenCV) and returned as a tensor.

    Examples::

        >>> red = np.array([[[255, 0, 0]]], dtype=np.uint8)
        >>> adjust_hue(red, 1 / 3).tolist()        # red -> green
        [[[0, 255, 0]]]
    """
    if isinstance(rgb, torch.Tensor):
        return _to_uint8(_hue_rotated(rgb.float() / 255.0, shift) * 255.0)
    import cv2

    x = np.ascontiguousarray(rgb, dtype=np.float32) / 255.0
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
    hsv[..., 0] = (hsv[..., 0] + 360.0 * float(shift)) % 360.0
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def jitter_frame(rgb: Any, hue_shift: float, sat_factor: float, hue_first: bool) -> Any:
    """One flow image jittered as torchvision's ColorJitter(saturation, hue) with fixed parameters,
    rounded to uint8 after each adjustment as the PIL images of the reference are. uint8 (H, W, 3)
    numpy array or tensor (on any device: the parameters are Python numbers, nothing is copied there)."""
    if hue_first:
        return adjust_saturation(adjust_hue(rgb, hue_shift), sat_factor)
    return adjust_hue(adjust_saturation(rgb, sat_factor), hue_shift)


class FlowJitter(PairSampler):
    """Static pair for two-stream samples: the same image, the RGB flow jittered in hue and saturation.

    Args:
        hue: range of the per-frame hue bound ``h``; the shift is then ``~ U(-h, h)``.
        saturation: range of the per-frame saturation bound ``s``; the factor is
            ``~ U(max(0, 1 - s), 1 + s)``.
        max_magnitude: used only to encode a float (u, v) flow as RGB in :meth:`anchor` (``None``:
            per-frame normalisation, see :func:`sdinterp.data.flow.flow_to_rgb`).

    Examples::

        >>> sampler = FlowJitter()
        >>> anchor = sampler.anchor(sample_with_flow, rng)                # doctest: +SKIP
        >>> pair = (anchor, sampler.partner(anchor, rng))                 # doctest: +SKIP
    """

    factor = Factor.STATIC
    name = "flow_jitter"
    #: A per-pixel colour change of the anchor's own flow image: made at the model's size, on the
    #: flow resized with the frames (docs/method.md, "Pairs at the model's resolution").
    model_resolution = True

    def __init__(
        self,
        hue: tuple[float, float] = (0.1, 0.5),
        saturation: tuple[float, float] = (0.1, 1.0),
        max_magnitude: float | None = None,
    ):
        if not 0 <= hue[0] <= hue[1] <= 0.5:
            raise ValueError(f"hue bounds must satisfy 0 <= low <= high <= 0.5, got {hue}")
        if not 0 <= saturation[0] <= saturation[1]:
            raise ValueError(f"saturation bounds must satisfy 0 <= low <= high, got {saturation}")
        self.hue = (float(hue[0]), float(hue[1]))
        self.saturation = (float(saturation[0]), float(saturation[1]))
        self.max_magnitude = max_magnitude

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Make sure the flow is RGB-encoded (the jitter is defined on flow images).

        Args:
            sample: a sample with ``flow`` set, uint8 (T, H, W, 3) or float (T, H, W, 2).
            rng: unused (the encoding is deterministic).

        Returns:
            The sample, with a float flow replaced by its Middlebury RGB encoding.
        """
        if sample.flow is None:
            raise ValueError(
                f"FlowJitter needs samples with flow; video {sample.video_id!r} has none (use flow='images' or 'dis')"
            )
        flow = np.asarray(sample.flow)
        if flow.shape[-1] == 2:
            from sdinterp.data.flow import flow_to_rgb

            sample = sample.replace(flow=flow_to_rgb(flow, self.max_magnitude))
        back = sample.meta.get("backward_flow")
        if back is not None and np.asarray(back).shape[-1] == 2:
            from sdinterp.data.flow import flow_to_rgb

            sample = sample.replace(
                meta=dict(sample.meta, backward_flow=flow_to_rgb(np.asarray(back), self.max_magnitude))
            )
        return sample

    def draw(self, rng: np.random.Generator) -> tuple[float, float, bool]:
        """One frame's ColorJitter parameters: (hue shift, saturation factor, hue first?)."""
        h = rng.uniform(*self.hue)
        s = rng.uniform(*self.saturation)
        hue_shift = rng.uniform(-h, h)
        sat_factor = rng.uniform(max(0.0, 1.0 - s), 1.0 + s)
        return float(hue_shift), float(sat_factor), bool(rng.integers(2))

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        """The anchor with its flow image jittered independently per frame.

        Args:
            anchor: a sample whose flow is uint8 RGB (run :meth:`anchor` first for float flow).
            rng: source of the jitter parameters.

        Returns:
            A sample sharing the anchor's frames (the same array) with a new flow; the parameters are in
            ``meta["flow_jitter"]`` as (hue shift, saturation factor, hue first) per frame.
        """
        flow = None if anchor.flow is None else np.asarray(anchor.flow)
        if flow is None or flow.dtype != np.uint8 or flow.shape[-1] != 3:
            raise ValueError(
                f"FlowJitter.partner needs a uint8 RGB flow (T, H, W, 3) for video {anchor.video_id!r}; "
                f"got {None if flow is None else (flow.dtype, flow.shape)} (call anchor() first to encode float flow)"
            )
        out, params = self._jitter(flow, rng)
        meta = dict(anchor.meta, flow_jitter=params)
        back = anchor.meta.get("backward_flow")
        if back is not None:
            # Models fed forward and backward flow (RTNet) get both jittered, each frame with its own
            # draw, as the reference jitters every flow image it loads; drawn after the forward flow's
            # so a sample without backward flow is jittered exactly as before.
            back = np.asarray(back)
            if back.dtype != np.uint8 or back.shape != flow.shape:
                raise ValueError(
                    f"meta['backward_flow'] of video {anchor.video_id!r} must be uint8 RGB like its flow "
                    f"{flow.shape}, got {(back.dtype, back.shape)} (call anchor() first)"
                )
            meta["backward_flow"], meta["backward_flow_jitter"] = self._jitter(back, rng)
        return anchor.replace(flow=out, meta=meta)

    def _jitter(self, flow: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[float, float, bool]]]:
        params = [self.draw(rng) for _ in range(len(flow))]
        return np.stack([jitter_frame(flow[t], *params[t]) for t in range(len(flow))]), params

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "hue": list(self.hue), "saturation": list(self.saturation)}


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(FlowJitter.name, FlowJitter)
