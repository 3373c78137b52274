"""Built-in pair samplers (Kowal et al. Sec. 3.1; reference code ``dataset_factory/ssv2.py``).

* :class:`FrameShuffle` — static pairs: (original, frames shuffled), one independent permutation
  per pathway view, as the reference shuffles the SlowFast slow and fast inputs separately.
* :class:`Restyle` — dynamic pairs: the same clip under two different weight-free, temporally
  consistent styles (the reference uses pre-stylized videos; this needs no weights).
* :class:`Identical` — the anchor paired with itself, as either factor: a sanity check (every unit
  score is then exactly 1).

Two more built-ins live in their own modules: :class:`~sdinterp.plugins.samplers.flow_jitter.FlowJitter`
(static pairs of two-stream models) and :class:`~sdinterp.plugins.samplers.prestylized.PreStylized`
(dynamic pairs from real pre-stylized folders).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sdinterp.hookspecs import hookimpl
from sdinterp.interfaces import Factor, PairSampler, Sample

__all__ = ["FrameShuffle", "Restyle", "Identical"]


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
    """Dynamic pair: the same frames (same indices, same order) in two different styles.

    The default restyler, ``"photometric"``, is the one that meets both measured bars on real clips
    (optical flow kept: relative EPE <= 0.25; static descriptors decorrelated across styles:
    correlation <= 0.5); see ``docs/restylers.md`` for the table and the command that produced it.

    Args:
        restyler: a restyler name from the registry (``"photometric"``, ``"random_conv"``,
            ``"fourier_style"``, ``"color_remap"``, ``"level_permutation"``) or a restyler object.
        styles: the style ids to draw from (4 by default, as the paper).
        anchor_style: ``"random"`` puts the anchor in a random style first, as the reference loads
            clip 1 from a random style folder; ``"original"`` keeps the anchor unstyled and draws the
            partner's style from ``styles``.
        seed: seed of the restyler's per-style transforms.

    Examples::

        >>> sampler = Restyle()                                    # doctest: +SKIP
        >>> anchor = sampler.anchor(sample, rng)                   # doctest: +SKIP
        >>> partner = sampler.partner(anchor, rng)                 # same frame indices, another style  # doctest: +SKIP
    """

    factor = Factor.DYNAMIC
    name = "restyle"

    def __init__(
        self,
        restyler: Any = "photometric",
        styles: Sequence[int] = (1, 2, 3, 4),
        anchor_style: str = "random",
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

    def partner(self, anchor: Sample, rng: np.random.Generator) -> Sample:
        others = [s for s in self.styles if s != anchor.style]
        style = others[int(rng.integers(len(others)))]
        frames = self.restyler(self._unstyled(anchor), style)
        return anchor.replace(frames=frames, style=style)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "restyler": self.restyler.describe() if hasattr(self.restyler, "describe") else repr(self.restyler),
            "styles": list(self.styles),
            "anchor_style": self.anchor_style,
        }


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
    registry.add_sampler(Identical.name, Identical)
