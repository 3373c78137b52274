"""Conformance suites for adapters and samplers.

Third-party packages call these from their own tests::

    from sdinterp.testing import check_adapter

    def test_my_adapter_conforms():
        check_adapter(MyAdapter(build_model()), my_samples)

Each check raises ``AssertionError`` with an explanation on the first violation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdinterp.capture import LayerCapture, UnknownLayerError
from sdinterp.interfaces import Factor, ModelAdapter, PairSampler, Sample, takes_device_frames

__all__ = ["check_adapter", "check_sampler"]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b


def _hook_counts(model: torch.nn.Module) -> list[tuple[int, int]]:
    return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    return []


def _declared(adapter: ModelAdapter) -> tuple[int | None, int | None]:
    """(frames, crop) the adapter says its inputs have, from ``describe()``."""
    d = adapter.describe()
    clip = d.get("clip")
    clip = clip if isinstance(clip, dict) else {}
    frames = d.get("num_frames", clip.get("num_frames"))
    crop = d.get("crop_size", clip.get("crop_size"))
    return (int(frames) if frames else None), (int(crop) if crop else None)


def _check_sizes(adapter: ModelAdapter, prepared: Any) -> None:
    """The prepared input has the frames and crop the adapter declares (an option the adapter
    took must change its input, never be ignored)."""
    frames, crop = _declared(adapter)
    videos = [t for t in _tensors(prepared) if t.dim() >= 4]
    if not videos:
        return
    if crop is not None:
        assert any(tuple(t.shape[-2:]) == (crop, crop) for t in videos), (
            f"the adapter declares crop_size={crop} but its prepared input has spatial size(s) "
            f"{[tuple(t.shape[-2:]) for t in videos]}"
        )
    if frames is not None:
        assert any(frames in tuple(t.shape[1:-2]) for t in videos), (
            f"the adapter declares num_frames={frames} but its prepared input has shape(s) "
            f"{[tuple(t.shape) for t in videos]}"
        )


def check_adapter(
    adapter: ModelAdapter,
    samples: Sequence[Sample],
    layers: Sequence[str] | None = None,
    n_pairs: int = 2,
    batch_size: int = 6,
    run_report: bool = True,
    static_sampler: PairSampler | str | None = None,
    dynamic_sampler: PairSampler | str | None = None,
) -> dict[str, int]:
    """Check an adapter against the contract the pipeline relies on.

    Checks: canonical layers exist, resolve to themselves and name existing modules; an unknown
    name raises :class:`~sdinterp.capture.UnknownLayerError` listing the valid names; ``views`` sets
    valid views; ``prepare`` is deterministic (and, for an adapter that declares ``device_frames``,
    gives the same input for tensor frames); the prepared input has the frames and crop the
    adapter declares (``describe()``); two forwards of the same input give the same features; one
    forward captures every layer as (B, C) with C equal to the declared channels; hooks are removed
    when the forward raises; and (``run_report``) a report covers every canonical layer.

    Args:
        adapter: the adapter under test.
        samples: a few clips the model accepts (at least 2).
        layers: the layers to check (default: every canonical layer).
        n_pairs, batch_size: size of the report run.
        run_report: also run a small StaticDynamic report.
        static_sampler, dynamic_sampler: samplers for that report (default: the registry's
            ``frame_shuffle`` and ``restyle``; two-stream models pass their own).

    Returns:
        ``{layer: pooled channels}`` as observed.
    """
    assert len(samples) >= 2, "check_adapter needs at least two samples"
    canonical = adapter.layers()
    assert canonical, f"{type(adapter).__name__}.layers() is empty"
    modules = dict(adapter.model.named_modules())
    for name, info in canonical.items():
        assert info.name == name, f"layer {name!r}: LayerInfo.name is {info.name!r}"
        assert info.module in modules, f"layer {name!r}: module path {info.module!r} is not in the model"
        assert adapter.resolve(name) == info, f"layer {name!r} does not resolve to its own LayerInfo"
        assert info.channels is None or info.channels > 0, f"layer {name!r}: channels must be positive"
    try:
        adapter.resolve("no_such_layer__")
    except UnknownLayerError as exc:
        first = next(iter(canonical))
        assert first in str(exc), f"the unknown-layer error does not list the valid names: {exc}"
    else:
        raise AssertionError("resolving an unknown layer name did not raise UnknownLayerError")

    names = list(layers) if layers is not None else list(canonical)
    infos = {n: adapter.resolve(n) for n in names}
    viewed = [adapter.views(s) for s in samples[:2]]
    for s in viewed:
        assert s.views is not None and len(s.views) >= 1, "views() must set at least one view"
        for v in s.views:
            assert v.min() >= 0 and v.max() < s.num_frames, "views() produced out-of-range indices"
    first, second = adapter.prepare(viewed), adapter.prepare(viewed)
    assert _equal(first, second), "prepare() is not deterministic: two calls on the same samples differ"
    if takes_device_frames(adapter, ["prepare"]):
        # device_frames: tensor frames (a run on a GPU hands them over on the device) give the same input
        tensors = [s.replace(frames=torch.from_numpy(np.ascontiguousarray(s.frames))) for s in viewed]
        assert _equal(adapter.prepare(tensors), first), (
            f"{type(adapter).__name__} declares device_frames, but prepare() of tensor frames differs from "
            "prepare() of the same frames as numpy"
        )

    model = adapter.model
    was_training = model.training
    model.eval()
    try:
        before = _hook_counts(model)
        with torch.inference_mode(), LayerCapture(model, infos) as cap:
            adapter.forward(first)
            feats = cap.collect()
        assert _hook_counts(model) == before, "hooks were left on the model after capture"
        with torch.inference_mode(), LayerCapture(model, infos) as cap:
            adapter.forward(adapter.prepare(viewed))
            again = cap.collect()
        for name, z in feats.items():
            assert torch.allclose(z, again[name], rtol=1e-5, atol=1e-6), (
                f"layer {name!r}: two forwards of the same clips differ (dropout or another random op active in "
                "eval mode?); a report needs a deterministic forward"
            )
        _check_sizes(adapter, first)
        observed = {}
        for name, z in feats.items():
            assert z.dim() == 2 and z.shape[0] == len(viewed), (
                f"layer {name!r}: pooled to {tuple(z.shape)}, expected ({len(viewed)}, C)"
            )
            declared = infos[name].channels
            assert declared is None or declared == z.shape[1], (
                f"layer {name!r}: declared {declared} channels, pooled width is {z.shape[1]}"
            )
            assert torch.isfinite(z).all(), f"layer {name!r}: non-finite pooled features"
            observed[name] = int(z.shape[1])

        def boom(*_: Any) -> None:
            raise RuntimeError("conformance: injected failure")

        handle = model.register_forward_pre_hook(boom)
        try:
            with LayerCapture(model, infos):
                adapter.forward(first)
        except RuntimeError as exc:
            assert "injected failure" in str(exc), f"unexpected error: {exc}"
        else:
            raise AssertionError("the injected forward failure did not propagate")
        finally:
            handle.remove()
        assert _hook_counts(model) == before, "hooks were left on the model after a forward raised"
    finally:
        model.train(was_training)

    if run_report:
        import warnings

        from sdinterp.errors import ReliabilityWarning
        from sdinterp.pipeline import StaticDynamic

        with warnings.catch_warnings():  # a deliberately tiny run: its reliability is not the point
            warnings.simplefilter("ignore", ReliabilityWarning)
            report = StaticDynamic(
                adapter, layers=names, static_sampler=static_sampler, dynamic_sampler=dynamic_sampler
            ).attribute(list(samples), n_pairs=n_pairs, batch_size=batch_size, seed=0, show_progress=False)
        missing = [n for n in names if n not in report.layers]
        assert not missing, f"no report for layers {missing}: {report.skipped}"
        for n in names:
            assert report[n].n_units == observed[n], (
                f"layer {n!r}: report has {report[n].n_units} units, capture {observed[n]}"
            )
    return observed


def _frame_keys(frames: np.ndarray | torch.Tensor, view: np.ndarray) -> list[bytes]:
    host = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else frames
    return [np.ascontiguousarray(host[i]).tobytes() for i in view]


def check_sampler(sampler: PairSampler, sample: Sample, seed: int = 0, allow_identical: bool = False) -> Sample:
    """Check a pair sampler: declared factor, determinism for a seed, anchor left untouched, and a
    pair that isolates its factor.

    A static pair keeps the appearance and removes the motion: its viewed frames are a
    permutation of the anchor's (same frames, never zeroed or replaced), in another order or with
    other flow (two-stream samplers keep the frames and jitter the flow). A dynamic pair keeps the
    motion: it never reorders the anchor's frames. Neither may be the anchor itself, unless
    ``allow_identical`` (for the ``identical`` control sampler). A sampler that declares
    ``device_frames`` must make the same partner from the clip as a tensor.

    Args:
        sampler: the sampler under test.
        sample: a clip with at least two different frames.
        seed: base seed of the generators the checks use.
        allow_identical: accept a partner equal to the anchor.

    Returns:
        the partner made from ``sample`` (views set to one in-order view if the sample has none).
    """
    assert isinstance(sampler.factor, Factor) and sampler.factor is not Factor.IDENTICAL, (
        "factor must be STATIC or DYNAMIC"
    )
    anchor = sampler.anchor(sample, np.random.default_rng(seed))
    anchor = anchor if anchor.views is not None else anchor.replace(views=(np.arange(anchor.num_frames),))
    frames_before = np.array(anchor.frames, copy=True)
    views_before = [v.copy() for v in anchor.view_indices()]
    p1 = sampler.partner(anchor, np.random.default_rng([seed, 1]))
    p2 = sampler.partner(anchor, np.random.default_rng([seed, 1]))
    assert np.array_equal(anchor.frames, frames_before), "partner() modified the anchor's frames in place"
    assert all(np.array_equal(a, b) for a, b in zip(anchor.view_indices(), views_before)), (
        "partner() modified the anchor's views"
    )
    assert np.array_equal(p1.frames, p2.frames) and all(
        np.array_equal(a, b) for a, b in zip(p1.view_indices(), p2.view_indices())
    ), "partner() is not deterministic for a given rng seed"
    assert len(p1.view_indices()) == len(anchor.view_indices()), "partner() changed the number of views"
    for va, vp in zip(anchor.view_indices(), p1.view_indices()):
        assert len(va) == len(vp), "partner() changed the length of a view"
    assert p1.frames.dtype == np.uint8 and p1.frames.shape[1:] == anchor.frames.shape[1:], (
        "partner frames must be uint8 of the anchor's size"
    )
    name = sampler.describe().get("name", type(sampler).__name__)
    distinct = len(set(_frame_keys(anchor.frames, np.unique(np.concatenate(anchor.view_indices())))))
    assert distinct >= 2, "check_sampler needs a sample whose views show at least two different frames"
    partners = [sampler.partner(anchor, np.random.default_rng([seed, k])) for k in range(1, 6)]
    if sampler.factor is Factor.STATIC:
        _check_static(name, anchor, partners, allow_identical)
    else:
        _check_dynamic(name, anchor, partners, allow_identical)
    _check_partners(name, sampler, anchor, seed, partners)
    if takes_device_frames(sampler, ["anchor", "partner", "partners"]):
        _check_device_frames(name, sampler, sample, seed, p1)
        meta = {k: torch.from_numpy(np.ascontiguousarray(v)) if k == "unstyled" else v for k, v in anchor.meta.items()}
        tensor = anchor.replace(frames=torch.from_numpy(np.ascontiguousarray(anchor.frames)), meta=meta)
        _check_partners(
            name,
            sampler,
            tensor,
            seed,
            [sampler.partner(tensor, np.random.default_rng([seed, k])) for k in range(1, 6)],
        )
    return p1


def _check_partners(name: str, sampler: PairSampler, anchor: Sample, seed: int, alone: list[Sample]) -> None:
    """``partners`` (the pipeline's call, once per factor and batch) gives every anchor what
    ``partner`` gives it alone, and draws as much from each generator."""
    rngs = [np.random.default_rng([seed, k]) for k in range(1, 6)]
    together = sampler.partners([anchor] * 5, rngs)
    assert len(together) == 5, f"sampler {name!r}: partners() returned {len(together)} partners for 5 anchors"
    for a, b in zip(alone, together):
        same = np.array_equal(np.asarray(_host(a.frames)), np.asarray(_host(b.frames))) and all(
            np.array_equal(u, v) for u, v in zip(a.view_indices(), b.view_indices())
        )
        assert same, f"sampler {name!r}: partners() made another partner than partner() does with the same rng"
    after = [np.random.default_rng([seed, k]) for k in range(1, 6)]
    for r in after:
        sampler.partner(anchor, r)
    assert [r.integers(1 << 30) for r in rngs] == [r.integers(1 << 30) for r in after], (
        f"sampler {name!r}: partners() drew other values from the generators than partner() does"
    )


def _host(frames: Any) -> Any:
    return frames.cpu().numpy() if isinstance(frames, torch.Tensor) else frames


def _check_device_frames(name: str, sampler: PairSampler, sample: Sample, seed: int, host: Sample) -> None:
    """A sampler that declares ``device_frames``: given the clip as a tensor (on the CPU here; a run on
    a GPU uploads it there), the same draws make a tensor partner with the host's views and, within
    one grey level, its pixels (torch kernels may round a sum in another order)."""
    tensor = sample.replace(frames=torch.from_numpy(np.ascontiguousarray(sample.frames)))
    anchor = sampler.anchor(tensor, np.random.default_rng(seed))
    anchor = anchor if anchor.views is not None else anchor.replace(views=(np.arange(anchor.num_frames),))
    partner = sampler.partner(anchor, np.random.default_rng([seed, 1]))
    assert isinstance(partner.frames, torch.Tensor) and partner.frames.dtype == torch.uint8, (
        f"sampler {name!r} declares device_frames but returned {type(partner.frames).__name__} frames for a tensor "
        "clip; return frames on the clip's device (or leave device_frames False)"
    )
    assert all(np.array_equal(a, b) for a, b in zip(partner.view_indices(), host.view_indices())), (
        f"sampler {name!r}: a tensor clip got other views than the same clip as numpy with the same rng"
    )
    diff = np.abs(partner.frames.cpu().numpy().astype(np.int16) - np.asarray(host.frames).astype(np.int16))
    assert diff.max(initial=0) <= 1, (
        f"sampler {name!r}: a tensor clip's partner differs from the numpy clip's by {int(diff.max())} grey levels"
    )


def _same_flow(a: Sample, b: Sample) -> bool:
    if a.flow is None or b.flow is None:
        return a.flow is None and b.flow is None
    return all(
        np.array_equal(a.flow[i], b.flow[j])
        for va, vb in zip(a.view_indices(), b.view_indices())
        for i, j in zip(va, vb)
    )


def _check_static(name: str, anchor: Sample, partners: list[Sample], allow_identical: bool) -> None:
    changed = False
    for p in partners:
        for va, vp in zip(anchor.view_indices(), p.view_indices()):
            ka, kp = _frame_keys(anchor.frames, va), _frame_keys(p.frames, vp)
            assert sorted(ka) == sorted(kp), (
                f"static sampler {name!r}: the partner's frames are not a permutation of the anchor's (frames were "
                "altered, replaced or zeroed); a static pair must keep every frame and change only their order "
                "(or flow)"
            )
            changed |= ka != kp
        changed |= not _same_flow(anchor, p)
    assert changed or allow_identical, (
        f"static sampler {name!r}: the partner is the anchor itself (same frames, same order, same flow) for 5 seeds; "
        "a static pair must destroy the motion (e.g. shuffle the frames)"
    )


def _check_dynamic(name: str, anchor: Sample, partners: list[Sample], allow_identical: bool) -> None:
    changed = False
    for p in partners:
        for va, vp in zip(anchor.view_indices(), p.view_indices()):
            ka, kp = _frame_keys(anchor.frames, va), _frame_keys(p.frames, vp)
            if ka != kp and sorted(ka) == sorted(kp):
                raise AssertionError(
                    f"dynamic sampler {name!r}: the partner shows the anchor's frames in another order; a dynamic pair "
                    "must keep the motion (frame order) and change only the appearance"
                )
            changed |= ka != kp
    assert changed or allow_identical, (
        f"dynamic sampler {name!r}: the partner is the anchor itself for 5 seeds; a dynamic pair must change the "
        "appearance"
    )
