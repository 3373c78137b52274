"""PreStylized: dynamic pairs from real pre-stylized datasets.

The reference (YorkUCVIL/Static-Dynamic-Interpretability, ``dataset_factory/ssv2.py``, factor 0, and
``StylizedDAVIS.py``) loads clip 1 from a random style folder and clip 2 as the *same* video, the
*same* start frame and frames, in a different style drawn uniformly from the others. Here clip 1 is
the dataset's sample (:class:`sdinterp.data.datasets.VideoClipDataset` draws its style at random),
and the partner reads ``anchor.frame_indices`` from another style's copy of the video, keeping the
views (and the flow, which the reference also shares: the original video's flow).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sdinterp.data.datasets import forget_inherited
from sdinterp.data.video import Backend, ColorMode, VideoReadError, VideoSource, open_video
from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["PreStylized"]


class PreStylized(PairSampler):
    """Dynamic pair: the same video and frame indices, read from another style's folder.

    Samples must carry ``meta["styles"]`` (style -> video path, as :class:`VideoClipDataset` sets) and
    ``frame_indices``.

    Args:
        styles: the styles a partner may be drawn from (default: every style of the video except the
            unstyled original ``None``, as the reference draws from styles 1-4).
        anchor_style: ``"keep"`` uses the sample's own style (the dataset already drew one at random);
            ``"random"`` re-draws it from ``styles`` and reads those frames.
        backend: decoder for :func:`sdinterp.data.video.open_video`.
        color: colour policy for frame folders.

    Examples::

        >>> ds = VideoClipDataset("stylized_ssv2", clip_length=64)      # doctest: +SKIP
        >>> sampler = PreStylized()                                        # doctest: +SKIP
        >>> partner = sampler.partner(ds[0], np.random.default_rng(0))     # doctest: +SKIP
    """

    factor = Factor.DYNAMIC
    name = "prestylized"

    def __init__(
        self,
        styles: Sequence[int | str] | None = None,
        anchor_style: str = "keep",
        backend: Backend = "auto",
        color: ColorMode = "convert",
    ):
        if anchor_style not in ("keep", "random"):
            raise ValueError(f"anchor_style must be 'keep' or 'random', got {anchor_style!r}")
        self.styles = None if styles is None else tuple(styles)
        self.anchor_style = anchor_style
        self.backend = backend
        self.color = color
        self._sources: dict[str, VideoSource] = {}
        self._pid = os.getpid()

    def _candidates(self, sample: Sample) -> dict[Any, str]:
        sources: Mapping[Any, str] | None = sample.meta.get("styles")
        if not sources:
            raise ValueError(
                "PreStylized needs samples from a stylized dataset (meta['styles']); video "
                f"{sample.video_id!r} has none"
            )
        if sample.frame_indices is None:
            raise ValueError(f"PreStylized needs frame_indices on video {sample.video_id!r}")
        allowed = self.styles
        return {s: p for s, p in sources.items() if s is not None and (allowed is None or s in allowed)}

    def _read(self, sample: Sample, style: Any, path: str) -> np.ndarray:
        if self._pid != os.getpid():  # decoders do not survive a fork (see VideoClipDataset._open)
            forget_inherited(self._sources)
            self._sources, self._pid = {}, os.getpid()
        if path not in self._sources:
            if len(self._sources) >= 8:
                self._sources.pop(next(iter(self._sources)))
            self._sources[path] = open_video(path, self.backend, self.color)
        src = self._sources[path]
        expected = sample.meta.get("num_source_frames")
        if expected is not None and len(src) != int(expected):
            raise VideoReadError(
                path,
                f"style {style!r} of video {sample.video_id!r} has {len(src)} frames but style {sample.style!r} "
                f"({sample.meta.get('path', '?')}) has {expected}",
            )
        frames = src.read(np.asarray(sample.frame_indices))
        if frames.shape != sample.frames.shape:
            raise VideoReadError(
                path,
                f"frames are {frames.shape[1]}x{frames.shape[2]} but style {sample.style!r} frames are "
                f"{sample.frames.shape[1]}x{sample.frames.shape[2]}",
            )
        return frames

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Keep the sample (default) or re-read it in a random style (``anchor_style="random"``)."""
        if self.anchor_style == "keep":
            return sample
        cands = self._candidates(sample)
        keys = list(cands)
        style = keys[int(rng.integers(len(keys)))]
        if style == sample.style:
            return sample
        frames = self._read(sample, style, cands[style])
        return sample.replace(frames=frames, style=style, meta=dict(sample.meta, path=cands[style]))

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        """The anchor's frames (same indices, same views) in a style drawn uniformly from the others.

        Raises:
            ValueError: if the video has no other style.
            VideoReadError: naming the file whose frame count or size differs from the anchor's.
        """
        cands = self._candidates(anchor)
        others = [s for s in cands if s != anchor.style]
        if not others:
            raise ValueError(f"video {anchor.video_id!r} has no style other than {anchor.style!r} to pair with")
        style = others[int(rng.integers(len(others)))]
        frames = self._read(anchor, style, cands[style])
        return anchor.replace(frames=frames, style=style, meta=dict(anchor.meta, path=cands[style]))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_sources"] = {}
        return state

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "styles": None if self.styles is None else list(self.styles),
            "anchor_style": self.anchor_style,
        }


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(PreStylized.name, PreStylized)
