"""Restyles batched across clips (issue 21, item 1: "vectorised over frames and clips"): the
``restyle`` sampler's :meth:`partners` restyles a batch of tensor clips with each kernel run once per
batch, and gives exactly what one :meth:`partner` call per clip gives, styles, draws and pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sdinterp.interfaces import Sample
from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.restylers.natural import NaturalColour
from sdinterp.plugins.samplers.basic import ReferenceRestyle, Restyle

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

RESTYLERS = ["natural_colour", "natural_texture", "photometric", "random_conv", "fourier_style", "color_remap"]


def _clips(b: int, shape: tuple[int, ...] = (4, 24, 30, 3), seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 256, (b, *shape), dtype=np.uint8)
    out[0] = 128  # a flat clip: no contrast, no chroma
    return torch.from_numpy(out)


@pytest.mark.parametrize("name", RESTYLERS)
def test_a_restyled_batch_is_each_clip_restyled_alone(name: str) -> None:
    restyler = get_registry().create("restyler", name, seed=3)
    styles = [1, 2, 3, 4, 2, "art"]
    for shape in [(4, 24, 30, 3), (1, 1, 2, 3)]:
        clips = _clips(6, shape)
        alone = torch.stack([restyler(c, s) for c, s in zip(clips, styles)])
        assert torch.equal(restyler.restyle_batch(clips, styles), alone)


class _Redder(NaturalColour):
    """A subclass with its own transform: the batched kernels must not bypass it."""

    def restyle(self, luma, cb, cr, style):  # type: ignore[no-untyped-def]
        return super().restyle(luma, cb, cr + 0.1, style)


def test_a_subclass_with_its_own_transform_is_restyled_through_it() -> None:
    clips, styles = _clips(3), [1, 2, 3]
    redder = _Redder()
    assert torch.equal(redder.restyle_batch(clips, styles), torch.stack([redder(c, s) for c, s in zip(clips, styles)]))
    assert not torch.equal(redder.restyle_batch(clips, styles), NaturalColour().restyle_batch(clips, styles))


def _anchors(b: int, sampler: Restyle) -> list[Sample]:
    clips = _clips(b, seed=b)
    shapes = [c if i % 3 else c[:, :20] for i, c in enumerate(clips)]  # two shapes in one batch
    rngs = [np.random.default_rng([9, i]) for i in range(b)]
    return [sampler.anchor(Sample(frames=f.contiguous()), r) for f, r in zip(shapes, rngs)]


@pytest.mark.parametrize("sampler", [Restyle(), ReferenceRestyle(), Restyle("natural_texture")], ids=lambda s: s.name)
def test_partners_of_a_batch_are_the_partners_of_each_clip(sampler: Restyle) -> None:
    anchors = _anchors(7, sampler)
    one, batch = [np.random.default_rng([5, i]) for i in range(7)], [np.random.default_rng([5, i]) for i in range(7)]
    alone = [sampler.partner(a, r) for a, r in zip(anchors, one)]
    together = sampler.partners(anchors, batch)
    for a, b in zip(alone, together):
        assert a.style == b.style and torch.equal(torch.as_tensor(a.frames), b.frames)
    assert [r.integers(1 << 30) for r in one] == [r.integers(1 << 30) for r in batch]  # the same draws
    # numpy clips: one call each, numpy back
    host = [sampler.anchor(Sample(frames=c.numpy()), np.random.default_rng(0)) for c in _clips(3)]
    assert all(isinstance(p.frames, np.ndarray) for p in sampler.partners(host, [np.random.default_rng(0)] * 3))


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.count += 1
        return func(*args, **(kwargs or {}))


def test_a_batch_of_restyles_costs_its_kernels_once_not_once_per_clip() -> None:
    """On a GPU a kernel launch costs microseconds whatever the clip: counted here as dispatched
    operations. One clip's natural_colour restyle is ~76 of them; a batch of 16 costs one more per
    clip (its luma mean, taken alone as the per-clip restyle takes it), not 76 more."""
    sampler = Restyle()

    def ops(b: int, batched: bool) -> int:
        anchors = [Sample(frames=c) for c in _clips(b)]
        rngs = [np.random.default_rng(i) for i in range(b)]
        sampler.partners(anchors, rngs)  # per-style constants made on first use
        with _Ops() as counted:
            if batched:
                sampler.partners(anchors, rngs)
            else:
                [sampler.partner(a, r) for a, r in zip(anchors, rngs)]
        return counted.count

    per_clip = ops(1, batched=False)
    assert ops(16, batched=False) == 16 * per_clip
    assert ops(16, batched=True) - ops(2, batched=True) <= 2 * 14
    assert ops(16, batched=True) < 2 * per_clip


def test_a_plain_callable_restyler_is_called_once_per_clip() -> None:
    """``Restyle(restyler=f)`` takes any callable ``f(frames, style)``: without ``restyle_batch`` its
    partners are made one call each."""
    calls = []

    def invert(frames, style):  # type: ignore[no-untyped-def]
        calls.append(style)
        return 255 - frames

    sampler = Restyle(restyler=invert)
    anchors = [Sample(frames=c) for c in _clips(3)]
    out = sampler.partners(anchors, [np.random.default_rng(i) for i in range(3)])
    assert len(calls) == 3 and all(torch.equal(p.frames, 255 - a.frames) for p, a in zip(out, anchors))
