"""Ground-truth dynamic pairs for synthetic videos: the same video re-rendered in another style.

A weight-free restyler only approximates "same motion, different appearance". On the trained tiny
nets the earlier default (``photometric``, random-style anchor) scored every unit of the motion net
static: its restyles are out of distribution for the net (luma inverted in two styles, stage3
activations doubled, units no longer tracking motion) and its restyled anchor is shared by the static
pairs (the anchor effect), not — as was once written here — because it keeps textures, which would
raise s_dyn. ``benchmarks/pair_validity.py`` scores every sampler against this module's pairs
(docs/restylers.md). The generator knows the truth:
:func:`~sdinterp.data.synthetic.render_video` with ``style=k`` draws the same trajectory
and shape with new colours, textures, background and noise. :class:`SyntheticRestyle` pairs a clip
with such a re-rendering, the analogue of the reference's pre-stylized datasets
(YorkUCVIL/Static-Dynamic-Interpretability, ``dataset_factory/ssv2.py``, factor 0) with a perfect
style transfer. For a dataset written to disk, ``sdinterp synth --styles K`` writes the same styles
as ``style_<k>`` folders, which the ``prestylized`` sampler reads.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from sdinterp.data.synthetic import META_KEY, SynthConfig, render_video, synthetic_samples
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["SyntheticRestyle", "synthetic_samples"]


@functools.lru_cache(maxsize=64)
def _restyled(config: SynthConfig, index: int, style: int) -> np.ndarray:
    """One video's frames in one style, cached: a clip of T frames pairs up to T times (one sample
    per frame for two-stream models), and rendering is the sampler's whole cost."""
    frames = render_video(config, index, style=style).frames
    frames.setflags(write=False)
    return frames


class SyntheticRestyle(PairSampler):
    """Dynamic pair: a synthetic clip and the same video in another generator style (same
    trajectory, shape and frame indices; new hue, textures, background and noise).

    Args:
        styles: the styles (``>= 1``) a partner is drawn from, uniformly (4, as the paper's styles).
        anchor_style: ``"original"`` keeps the clip as generated (style 0) as the anchor;
            ``"random"`` first re-renders the anchor in a random style of ``styles``, as the
            reference loads clip 1 from a random style folder (the partner then takes another).

    Raises:
        ValueError: at pairing time, for a clip that does not come from the generator (no
            ``meta["synthetic"]``; make clips with :func:`synthetic_samples`).

    Examples:
        >>> clip = synthetic_samples(SynthConfig(videos=1, frames=4, size=16))[0]
        >>> partner = SyntheticRestyle().partner(clip, np.random.default_rng(0))
        >>> partner.frames.shape == clip.frames.shape, partner.style != clip.style
        (True, True)
    """

    factor = Factor.DYNAMIC
    name = "synthetic_restyle"

    def __init__(self, styles: Sequence[int] = (1, 2, 3, 4), anchor_style: str = "original"):
        self.styles = tuple(int(s) for s in styles)
        if any(s < 1 for s in self.styles):
            raise ValueError(f"synthetic_restyle styles must be >= 1 (0 is the video itself), got {list(self.styles)}")
        if anchor_style not in ("original", "random"):
            raise ValueError(f"anchor_style must be 'original' or 'random', got {anchor_style!r}")
        if len(set(self.styles)) < (2 if anchor_style == "random" else 1):
            raise ValueError(
                f"synthetic_restyle needs {'two styles' if anchor_style == 'random' else 'a style'} "
                f"to make a pair, got {list(self.styles)}"
            )
        self.anchor_style = anchor_style

    def _render(self, sample: Sample, style: int) -> np.ndarray:
        info = sample.meta.get(META_KEY)
        if not isinstance(info, dict) or "config" not in info or "index" not in info:
            raise ValueError(
                f"synthetic_restyle re-renders clips of the synthetic generator, but video {sample.video_id!r} "
                "carries no meta['synthetic']: make the clips with sdinterp.plugins.synthetic.synthetic_samples, "
                "or write the dataset with `sdinterp synth --styles 4` and use the prestylized sampler"
            )
        frames = _restyled(SynthConfig(**info["config"]), int(info["index"]), int(style))
        idx = np.arange(len(frames)) if sample.frame_indices is None else np.asarray(sample.frame_indices)
        return frames[idx]

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if self.anchor_style == "original":
            return sample
        style = self.styles[int(rng.integers(len(self.styles)))]
        return sample.replace(frames=self._render(sample, style), style=style)

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        others = [s for s in self.styles if s != anchor.style]
        style = others[int(rng.integers(len(others)))]
        return anchor.replace(frames=self._render(anchor, style), style=style)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "styles": list(self.styles), "anchor_style": self.anchor_style}
