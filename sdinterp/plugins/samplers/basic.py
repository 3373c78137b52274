"""Built-in pair samplers (Kowal et al. Sec. 3.1; reference code ``dataset_factory/ssv2.py``).

* :class:`FrameShuffle` — static pairs: (original, frames shuffled), one independent permutation
  per pathway view, as the reference shuffles the SlowFast slow and fast inputs separately.
* :class:`Restyle` — dynamic pairs: the clip and the same clip in a weight-free, temporally
  consistent style (the reference uses pre-stylized videos; this needs no weights). By default the
  anchor stays in its original style (no anchor effect) and the style is ``natural_colour``, chosen
  by measurement against ground-truth re-renderings on trained nets (``docs/restylers.md``).
* :class:`ReferenceRestyle` (``restyle_reference``) — the reference scheme: a random-style anchor
  and the earlier ``photometric`` restyler.
* :class:`Identical` — the anchor paired with itself, as either factor: a sanity check (every unit
  score is then exactly 1).

Two more built-ins live in their own modules: :class:`~sdinterp.plugins.samplers.flow_jitter.FlowJitter`
(static pairs of two-stream models) and :class:`~sdinterp.plugins.samplers.prestylized.PreStylized`
(dynamic pairs from real pre-stylized folders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["FrameShuffle", "Restyle", "ReferenceRestyle", "Identical"]


class FrameShuffle(PairSampler):
    """Static pair: the anchor and the same frames in a random temporal order.

    As the reference (``torch.randperm(T)``), the identity permutation is not excluded unless
    ``exclude_identity=True``. Each view (pathway) gets its own permutation.

    Args:
        exclude_identity: redraw a permutation that leaves a view in order.

    Examples::

        >>> s = Sample(frames=np.zeros((4, 2, 2, 3), np.uint8))
        >>> p = FrameShuffle().partner(s, np.random.default_rng(0))
        >>> sorted(p.view_indices()[0].tolist())
        [0, 1, 2, 3]
    """

    factor = Factor.STATIC
    name = "frame_shuffle"
    model_resolution = True  # a permutation of the anchor's own frames
    device_frames = True  # it permutes views; the frames are not touched

    def __init__(self, exclude_identity: bool = False):
        self.exclude_identity = bool(exclude_identity)

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        views = []
        for view in anchor.view_indices():
            perm = rng.permutation(len(view))
            if self.exclude_identity and len(view) > 1:
                while np.array_equal(perm, np.arange(len(view))):
                    perm = rng.permutation(len(view))
            views.append(view[perm])
        meta = dict(anchor.meta, shuffled=True)
        return anchor.replace(views=tuple(views), meta=meta)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "exclude_identity": self.exclude_identity}


class Restyle(PairSampler):
    """Dynamic pair: the same frames (same indices, same order) in another style.

    The default restyler, ``"natural_colour"`` (a hue rotation with bounded saturation and a positive
    luma gain: kept inside natural image statistics, no luma inversion), is the one chosen by
    measurement against ground-truth re-renderings on the embedded trained nets
    (``benchmarks/pair_validity.py``, table in ``docs/restylers.md``): on ``tiny:i3d-motion``
    stage3 it finds the ground truth's 20 dynamic units, where ``"photometric"`` (the earlier
    default) and the other restylers of ``plugins/restylers.py`` find none, and it keeps real-video optical flow
    (rel. EPE 0.12 on real clips). ``"natural_texture"`` agrees slightly better with the ground truth but fails
    the flow bar on real clips (0.32 > 0.25).

    **Anchor.** With ``anchor_style="original"`` (the default) the anchor is the clip as it is, so
    the static pair (anchor, shuffled anchor) shares no style that the dynamic pair lacks.
    ``anchor_style="random"`` restyles the anchor first, as the reference code loads clip 1 from a
    random style folder; the style is then shared inside every static pair and never inside a
    dynamic one, which inflates s_stat (the *anchor effect*, measured in ``docs/method.md``).

    Args:
        restyler: a restyler name from the registry (``"natural_colour"``, ``"natural_texture"``,
            ``"photometric"``, ``"random_conv"``, ``"fourier_style"``, ``"color_remap"``,
            ``"level_permutation"``) or a restyler object.
        styles: the style ids to draw from (4 by default, as the paper).
        anchor_style: ``"original"`` keeps the anchor unstyled and draws the partner's style from
            ``styles``; ``"random"`` puts the anchor in a random style first (the reference's scheme)
            and the partner in another.
        seed: seed of the restyler's per-style transforms.

    Examples::

        >>> sampler = Restyle()                                    # doctest: +SKIP
        >>> anchor = sampler.anchor(sample, rng)                   # the clip itself  # doctest: +SKIP
        >>> partner = sampler.partner(anchor, rng)                 # same frame indices, another style  # doctest: +SKIP
        >>> reference = Restyle("photometric", anchor_style="random")   # the reference code's scheme  # doctest: +SKIP
    """

    factor = Factor.DYNAMIC
    name = "restyle"
    model_resolution = True  # a per-clip transform of the anchor's own frames (docs/method.md)
    device_frames = True  # when its restyler is (every built-in one is: torch kernels)

    def __init__(
        self,
        restyler: Any = "natural_colour",
        styles: Sequence[int] = (1, 2, 3, 4),
        anchor_style: str = "original",
        seed: int = 0,
    ):
        if isinstance(restyler, str):
            from sdinterp.plugin_manager import get_registry

            restyler = get_registry().create("restyler", restyler, seed=seed)
        if anchor_style not in ("random", "original"):
            raise ValueError(f"anchor_style must be 'random' or 'original', got {anchor_style!r}")
        self.styles = tuple(styles)
        if len(self.styles) < (2 if anchor_style == "random" else 1):
            raise ValueError(f"Restyle needs at least two styles to make a pair, got {self.styles}")
        self.restyler = restyler
        self.anchor_style = anchor_style

    def _unstyled(self, sample: Sample) -> np.ndarray:
        return sample.meta.get("unstyled", sample.frames)

    def anchor(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if self.anchor_style == "original":
            return sample
        style = self.styles[int(rng.integers(len(self.styles)))]
        frames = self.restyler(sample.frames, style)
        return sample.replace(frames=frames, style=style, meta=dict(sample.meta, unstyled=sample.frames))

    def _style(self, anchor: Sample, rng: np.random.Generator) -> int:
        others = [s for s in self.styles if s != anchor.style]
        return others[int(rng.integers(len(others)))]

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        style = self._style(anchor, rng)
        return anchor.replace(frames=self.restyler(self._unstyled(anchor), style), style=style)

    def partners(self, anchors: Sequence[Sample], rngs: Sequence[np.random.Generator]) -> list[Sample]:
        """The partners of a batch: tensor clips of one shape and device restyled together
        (:meth:`~sdinterp.interfaces.Restyler.restyle_batch`, each kernel once per batch on a GPU);
        numpy clips, or a subclass with its own :meth:`partner`, one at a time. The same styles and
        values as :meth:`partner`."""
        sources = [self._unstyled(a) for a in anchors]
        batched = getattr(self.restyler, "restyle_batch", None)  # a plain callable restyler has none
        own = type(self).partner is Restyle.partner
        if batched is None or not own or not all(isinstance(f, torch.Tensor) for f in sources):
            return super().partners(anchors, rngs)
        tensors: list[torch.Tensor] = [torch.as_tensor(f) for f in sources]
        styles = [self._style(a, r) for a, r in zip(anchors, rngs)]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, frames in enumerate(tensors):
            groups.setdefault((tuple(frames.shape), frames.device), []).append(i)
        out: list[Sample] = list(anchors)
        for members in groups.values():
            clips = torch.stack([tensors[i] for i in members])
            restyled = batched(clips, [styles[i] for i in members])
            for i, frames in zip(members, restyled):
                out[i] = anchors[i].replace(frames=frames, style=styles[i])
        return out

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "restyler": self.restyler.describe() if hasattr(self.restyler, "describe") else repr(self.restyler),
            "styles": list(self.styles),
            "anchor_style": self.anchor_style,
        }


class ReferenceRestyle(Restyle):
    """``Restyle`` with the reference code's anchor: restyled in a random style (``anchor_style="random"``),
    and the earlier default restyler, ``photometric``. One name away on the command line
    (``--dynamic-sampler restyle_reference``) for comparisons with the reference scheme; it carries
    the anchor effect measured in ``docs/method.md`` and the out-of-distribution restyles measured in
    ``docs/restylers.md``.

    Args:
        restyler, styles, seed: see :class:`Restyle`.

    Examples:
        >>> s = ReferenceRestyle()
        >>> s.anchor_style, s.restyler.name
        ('random', 'photometric')
    """

    name = "restyle_reference"

    def __init__(self, restyler: Any = "photometric", styles: Sequence[int] = (1, 2, 3, 4), seed: int = 0):
        super().__init__(restyler=restyler, styles=styles, anchor_style="random", seed=seed)


class Identical(PairSampler):
    """The anchor paired with itself, counted as the factor given.

    With identical pairs every unit's official score is exactly 1 (Kowal et al.; ``utils.dim_est``),
    so a run whose dynamic (or static) sampler is ``Identical`` checks the pipeline end to end.

    Args:
        factor: ``"dynamic"`` (default) or ``"static"`` (a :class:`Factor` or its name).

    Examples::

        >>> s = Identical("static")
        >>> s.factor.value
        'static'
    """

    name = "identical"
    model_resolution = True
    device_frames = True

    def __init__(self, factor: Factor | str = Factor.DYNAMIC):
        parsed = Factor.parse(factor)
        if parsed not in (Factor.DYNAMIC, Factor.STATIC):
            raise ValueError(f"Identical pairs count as 'dynamic' or 'static', got {factor!r}")
        self.factor = parsed

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        """Return ``anchor`` itself (``rng`` is not used)."""
        return anchor


@hookimpl
def sdinterp_register(registry: Any) -> None:
    registry.add_sampler(FrameShuffle.name, FrameShuffle)
    registry.add_sampler(Restyle.name, Restyle)
    registry.add_sampler(ReferenceRestyle.name, ReferenceRestyle)
    registry.add_sampler(Identical.name, Identical)
