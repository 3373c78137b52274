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

from typing import Any

import numpy as np

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["FlowJitter", "adjust_hue", "adjust_saturation"]


def adjust_saturation(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Blend an RGB uint8 image with its grayscale version (PIL ``ImageEnhance.Color`` semantics:
    0 gives gray, 1 the image, > 1 more saturated), clipped to [0, 255].

    Examples::

        >>> px = np.array([[[200, 100, 50]]], dtype=np.uint8)
        >>> adjust_saturation(px, 0.0).tolist()    # gray: 0.299 R + 0.587 G + 0.114 B
        [[[124, 124, 124]]]
    """
    x = np.asarray(rgb, dtype=np.float32)
    gray = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    return np.clip(np.round(gray + float(factor) * (x - gray)), 0, 255).astype(np.uint8)


def adjust_hue(rgb: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the HSV hue of an RGB uint8 image by ``shift`` (a fraction of the circle, in [-0.5, 0.5]).

    Examples::

        >>> red = np.array([[[255, 0, 0]]], dtype=np.uint8)
        >>> adjust_hue(red, 1 / 3).tolist()        # red -> green
        [[[0, 255, 0]]]
    """
    import cv2

    x = np.ascontiguousarray(rgb, dtype=np.float32) / 255.0
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
    hsv[..., 0] = (hsv[..., 0] + 360.0 * float(shift)) % 360.0
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


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
        out = np.empty_like(flow)
        params = []
        for t in range(len(flow)):
            hue_shift, sat_factor, hue_first = self.draw(rng)
            img = flow[t]
            if hue_first:
                img = adjust_saturation(adjust_hue(img, hue_shift), sat_factor)
            else:
                img = adjust_hue(adjust_saturation(img, sat_factor), hue_shift)
            out[t] = img
            params.append((hue_shift, sat_factor, hue_first))
        return out, params

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "hue": list(self.hue), "saturation": list(self.saturation)}


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(FlowJitter.name, FlowJitter)
