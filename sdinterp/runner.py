"""The pipeline behind :class:`StaticDynamic`: sample pairs, batch forwards, accumulate moments,
score, report. Batching, seeds, progress, checkpoint/resume and sharding live here."""

from __future__ import annotations

import platform
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from sdinterp import __version__
from sdinterp.capture import CaptureError, LayerCapture, resolve_layers
from sdinterp.checkpoint import RunCheckpoint
from sdinterp.interfaces import Factor, LayerInfo, ModelAdapter, PairSampler, Sample
from sdinterp.report import BiasReport
from sdinterp.scoring import DegenerateLayerError, score_layer
from sdinterp.stats import MomentStore

__all__ = ["StaticDynamic", "PROTOCOLS", "as_samples"]

#: ``shared-anchor``: one anchor forward is the first element of both the clip's static and its
#: dynamic pair (3 forwards for 2 pairs). ``official``: one random factor per clip, as the
#: reference code's loaders (``random.randint(0, 1)`` per item), 2 forwards per pair.
PROTOCOLS = ("shared-anchor", "official")


def as_samples(data: Any) -> Sequence[Sample]:
    """Accept Samples, a dataset of Samples, or uint8 clips (N, T, H, W, 3) / a list of (T, H, W, 3)."""
    if isinstance(data, Sample):
        return [data]
    if isinstance(data, (np.ndarray, torch.Tensor)):
        arr = data.numpy() if isinstance(data, torch.Tensor) else data
        if arr.ndim == 4:
            arr = arr[None]
        if arr.ndim != 5 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"clip arrays must be uint8 (N, T, H, W, 3), got {arr.dtype} {arr.shape}")
        return [Sample(frames=c, video_id=f"clip{i}") for i, c in enumerate(arr)]
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        if len(data) == 0:
            raise ValueError("no clips given")
        first = data[0]
        if isinstance(first, Sample):
            return data
        if isinstance(first, np.ndarray):
            return [Sample(frames=c, video_id=f"clip{i}") for i, c in enumerate(data)]
        raise TypeError(f"data items must be sdinterp.Sample or uint8 arrays, got {type(first).__name__}")
    raise TypeError(f"cannot read clips from a {type(data).__name__}")


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _get_sampler(sampler: Any, default: str) -> PairSampler:
    from sdinterp.plugin_manager import get_registry

    if sampler is None:
        sampler = default
    if isinstance(sampler, str):
        sampler = get_registry().create("sampler", sampler)
    if not isinstance(sampler, PairSampler):
        raise TypeError(f"expected a PairSampler or a registered sampler name, got {sampler!r}")
    return sampler


def _versions() -> dict[str, str]:
    return {"sdinterp": __version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}


class StaticDynamic:
    """Static/dynamic bias of named layers of a video model (Kowal et al.), Captum-style.

    Args:
        model: an ``nn.Module`` (wrapped by the first adapter plugin that recognises it) or a
            :class:`~sdinterp.interfaces.ModelAdapter`.
        layers: layer names (canonical, raw module paths, or ``input:<path>``) or module objects
            (as Captum takes them); ``None`` = every canonical layer of the adapter.
        static_sampler: a PairSampler or registered name for static pairs (default ``frame_shuffle``).
        dynamic_sampler: a PairSampler or registered name for dynamic pairs (default ``restyle``).
        scorer: ``"official"`` (default: the reference code's estimator) or ``"pearson"`` (paper Eq. 1–2).
        threshold: λ of the unit-wise categories (0.5).
        **adapter_options: passed to :func:`sdinterp.adapt` when ``model`` is not an adapter.

    Examples:
        >>> sd = StaticDynamic(model, layers=["stage3", "stage5"])          # doctest: +SKIP
        >>> report = sd.attribute(clips, n_pairs=64, batch_size=8, seed=0)  # doctest: +SKIP
        >>> print(report)                                                   # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        layers: Iterable[str | torch.nn.Module] | str | torch.nn.Module | None = None,
        static_sampler: PairSampler | str | None = None,
        dynamic_sampler: PairSampler | str | None = None,
        scorer: str = "official",
        threshold: float = 0.5,
        **adapter_options: Any,
    ):
        from sdinterp.adapt import adapt

        self.adapter: ModelAdapter = adapt(model, **adapter_options)
        self.layer_infos: dict[str, LayerInfo] = resolve_layers(self.adapter, layers)
        self.static_sampler = _get_sampler(static_sampler, "frame_shuffle")
        self.dynamic_sampler = _get_sampler(dynamic_sampler, "restyle")
        if self.static_sampler.factor is not Factor.STATIC or self.dynamic_sampler.factor is not Factor.DYNAMIC:
            raise ValueError(
                f"static_sampler must make static pairs and dynamic_sampler dynamic pairs; got "
                f"{self.static_sampler.factor.value} and {self.dynamic_sampler.factor.value}"
            )
        self.scorer = scorer
        self.threshold = float(threshold)

    # -- public ---------------------------------------------------------------------------------
    def attribute(
        self,
        data: Any,
        n_pairs: int = 64,
        batch_size: int = 8,
        seed: int = 0,
        protocol: str = "shared-anchor",
        show_progress: bool = True,
        checkpoint: str | None = None,
        checkpoint_every: int = 10,
        num_workers: int = 0,
    ) -> BiasReport:
        """Estimate the bias of every requested layer.

        Args:
            data: clips (see :func:`as_samples`); clip ``i`` of the run is ``data[i % len(data)]``.
            n_pairs: ``shared-anchor``: pairs per factor (one clip gives one pair of each factor);
                ``official``: total pairs, each clip's factor drawn 50/50 (the reference's n_examples).
            batch_size: videos per forward pass (anchors and partners together).
            seed: every random choice of clip ``i`` comes from ``default_rng([seed, i])``, so a seed
                gives the same report bit for bit, also after interrupt + resume.
            protocol: ``"shared-anchor"`` or ``"official"`` (see :data:`PROTOCOLS`).
            show_progress: show a progress bar.
            checkpoint: file to save progress to every ``checkpoint_every`` batches (and on
                Ctrl-C); an existing checkpoint of the same configuration is resumed.
            num_workers: DataLoader worker processes that read clips ahead of the forwards (clips
                are still consumed in order, so the result does not depend on it).

        Returns:
            BiasReport keyed by layer name.
        """
        store = self.accumulate(data, n_pairs, batch_size, seed, protocol, show_progress, checkpoint, checkpoint_every, num_workers)
        return self.score(store, seed=seed, config=self._config(data, n_pairs, batch_size, seed, protocol))

    def score(self, store: MomentStore, seed: int | None = None, config: dict[str, Any] | None = None) -> BiasReport:
        """Score accumulated (possibly merged or reloaded) moments."""
        counts = store.n_pairs()
        missing = [f for f in ("dynamic", "static") if counts.get(f, 0) == 0]
        if missing:
            raise ValueError(f"no {' or '.join(missing)} pairs were accumulated (pairs per factor: {counts}); increase n_pairs")
        layers, skipped = {}, {}
        for name in store.layers():
            info = self.layer_infos[name].describe() if name in self.layer_infos else {}
            try:
                layers[name] = score_layer(name, store[name], self.scorer, self.threshold, info)
            except DegenerateLayerError as exc:
                skipped[name] = str(exc)
        return BiasReport(layers=layers, config=config or {}, seed=seed, versions=_versions(), skipped=skipped)

    def accumulate(
        self,
        data: Any,
        n_pairs: int = 64,
        batch_size: int = 8,
        seed: int = 0,
        protocol: str = "shared-anchor",
        show_progress: bool = False,
        checkpoint: str | None = None,
        checkpoint_every: int = 10,
        num_workers: int = 0,
    ) -> MomentStore:
        """Run the forwards and return the moments (mergeable; see :meth:`score`).

        Under ``torch.distributed`` each process takes every world-size-th batch and the moments are
        all-reduced at the end, so ``torchrun`` shards a run without changing its result.
        """
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
        if n_pairs < 1 or batch_size < 1:
            raise ValueError("n_pairs and batch_size must be positive")
        clips = as_samples(data)
        if len(clips) < n_pairs:
            warnings.warn(
                f"{len(clips)} clips for {n_pairs} pairs: clips are reused (clip i of the run is data[i % "
                f"{len(clips)}]), so pairs are not independent; give at least n_pairs distinct clips "
                "(e.g. VideoClipDataset(..., repeats=k))",
                stacklevel=2,
            )
        per_clip = 3 if protocol == "shared-anchor" else 2
        clips_per_batch = max(1, batch_size // per_clip)
        store = MomentStore(self.layer_infos)
        start = 0
        ckpt = RunCheckpoint(checkpoint, self._config(clips, n_pairs, batch_size, seed, protocol)) if checkpoint else None
        if ckpt is not None:
            loaded = ckpt.load()
            if loaded is not None:
                store, start = loaded
        rank, world = _dist_rank_world()
        mine = [b for k, b in enumerate(range(0, n_pairs, clips_per_batch)) if k % world == rank and b >= start]
        progress = _progress(len(mine), show_progress and rank == 0)
        model = self.adapter.model
        was_training = model.training
        model.eval()
        done_upto, batches_since_save, updating = start, 0, False
        try:
            batches = [range(b0, min(b0 + clips_per_batch, n_pairs)) for b0 in mine]
            with torch.inference_mode(), LayerCapture(model, self.layer_infos) as cap:
                for idx, sources in zip(batches, _load_batches(clips, batches, num_workers)):
                    b0 = idx.start
                    inputs, plan = self._build_batch(sources, idx, seed, protocol)
                    cap.reset()
                    self.adapter.forward(_to_device(self.adapter.prepare(inputs), self.adapter.device))
                    feats = self._check_features(cap.collect(), len(inputs), b0 // clips_per_batch)
                    updating = True
                    for name, z in feats.items():
                        for factor, first, second in plan:
                            store[name][factor].update(z[first], z[second], batch=b0 // clips_per_batch)
                    updating = False
                    done_upto = idx.stop
                    progress.update(1)
                    batches_since_save += 1
                    if ckpt is not None and world == 1 and batches_since_save >= checkpoint_every:
                        ckpt.save(store, done_upto)
                        batches_since_save = 0
        except KeyboardInterrupt:
            if ckpt is not None and world == 1 and not updating:
                ckpt.save(store, done_upto)
            raise
        finally:
            progress.close()
            model.train(was_training)
        store.all_reduce()
        if ckpt is not None and world == 1:
            ckpt.save(store, n_pairs, complete=True)
        return store

    # -- internals ------------------------------------------------------------------------------
    def _build_batch(self, sources: Sequence[Sample], idx: range, seed: int, protocol: str) -> tuple[list[Sample], list]:
        anchors, statics, dynamics, factors = [], [], [], []
        for i, sample in zip(idx, sources):
            rng = np.random.default_rng([seed, i])
            factor = Factor.STATIC if protocol == "official" and int(rng.integers(2)) == 1 else Factor.DYNAMIC
            # Views first, then drop frames no view uses: a 64-frame window feeding an 8-frame
            # model would otherwise be restyled (and copied) in full for nothing.
            anchor = compact_to_views(self.adapter.views(sample))
            anchor = self.static_sampler.anchor(self.dynamic_sampler.anchor(anchor, rng), rng)
            anchors.append(anchor)
            if protocol == "shared-anchor":
                statics.append(self.static_sampler.partner(anchor, rng))
                dynamics.append(self.dynamic_sampler.partner(anchor, rng))
            else:
                sampler = self.static_sampler if factor is Factor.STATIC else self.dynamic_sampler
                (statics if factor is Factor.STATIC else dynamics).append(sampler.partner(anchor, rng))
                factors.append(factor)
        k = len(anchors)
        if protocol == "shared-anchor":
            a = torch.arange(k)
            plan = [(Factor.STATIC, a, a + k), (Factor.DYNAMIC, a, a + 2 * k)]
            return anchors + statics + dynamics, plan
        # official: partners are laid out statics first, then dynamics, in clip order within each.
        stat_rows = [j for j, f in enumerate(factors) if f is Factor.STATIC]
        dyn_rows = [j for j, f in enumerate(factors) if f is Factor.DYNAMIC]
        plan = [
            (Factor.STATIC, torch.tensor(stat_rows, dtype=torch.long), k + torch.arange(len(stat_rows))),
            (Factor.DYNAMIC, torch.tensor(dyn_rows, dtype=torch.long), k + len(stat_rows) + torch.arange(len(dyn_rows))),
        ]
        return anchors + statics + dynamics, plan

    def _check_features(self, feats: dict[str, torch.Tensor], batch: int, batch_index: int) -> dict[str, torch.Tensor]:
        out = {}
        for name, z in feats.items():
            info = self.layer_infos[name]
            if z.shape[0] != batch:
                raise CaptureError(
                    f"layer {name!r}: pooled features have {z.shape[0]} rows for a batch of {batch} clips "
                    f"(batch {batch_index}); a layer that folds time into the batch (2D models) needs a "
                    f"pooling that unfolds it"
                )
            if info.channels is not None and z.shape[1] != info.channels:
                raise CaptureError(f"layer {name!r}: declared {info.channels} channels but produced {z.shape[1]}")
            out[name] = z.detach().to("cpu", torch.float64)
        return out

    def _config(self, data: Any, n_pairs: int, batch_size: int, seed: int, protocol: str) -> dict[str, Any]:
        try:
            n_clips = len(data)
        except TypeError:
            n_clips = None
        return {
            "protocol": protocol,
            "n_pairs": n_pairs,
            "batch_size": batch_size,
            "seed": seed,
            "n_clips": n_clips,
            "layers": list(self.layer_infos),
            "static_sampler": self.static_sampler.describe(),
            "dynamic_sampler": self.dynamic_sampler.describe(),
            "scorer": self.scorer,
            "threshold": self.threshold,
            "adapter": self.adapter.describe(),
        }


def compact_to_views(sample: Sample) -> Sample:
    """Keep only the frames the sample's views use (and remap the views), with their flow, source
    frame indices and any per-frame ``meta["unstyled"]`` array."""
    views = sample.view_indices()
    used = np.unique(np.concatenate(views))
    if len(used) == sample.num_frames:
        return sample
    meta = dict(sample.meta)
    unstyled = meta.get("unstyled")
    if isinstance(unstyled, np.ndarray) and unstyled.shape[:1] == (sample.num_frames,):
        meta["unstyled"] = unstyled[used]
    return sample.replace(
        frames=sample.frames[used],
        views=tuple(np.searchsorted(used, v).astype(np.int64) for v in views),
        flow=None if sample.flow is None else sample.flow[used],
        frame_indices=None if sample.frame_indices is None else np.asarray(sample.frame_indices)[used],
        meta=meta,
    )


class _RunClips(torch.utils.data.Dataset):
    """Clip ``i`` of a run is ``data[i % len(data)]``."""

    def __init__(self, clips: Sequence[Sample]):
        self.clips = clips

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, i: int) -> Sample:
        return self.clips[i % len(self.clips)]


def _load_batches(clips: Sequence[Sample], batches: list[range], num_workers: int) -> Iterable[list[Sample]]:
    if num_workers <= 0:
        return ([clips[i % len(clips)] for i in idx] for idx in batches)
    return torch.utils.data.DataLoader(
        _RunClips(clips), batch_sampler=[list(idx) for idx in batches], num_workers=num_workers, collate_fn=list
    )


def _dist_rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool) -> Any:
    if not show:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return _NoProgress()
    return tqdm(total=total, desc="sdinterp", unit="batch")
