""":class:`ValidityMonitor`: the run observer behind every report's validity check.

It sees each batch after its forward (:class:`~sdinterp.pipeline.executor.BatchResult`) and adds,
at no extra forward:

* the probe controls of the batch's inputs (:mod:`sdinterp.validity.controls`), as pseudo-layers
  ``validity:control:*`` that the run accumulates over the same pairs as its layers;
* the model's top-1 prediction (one-hot, ``validity:output:top1``) and its confidence
  (``validity:output:confidence``) when the forward returned logits, so the agreement of anchor
  and partner predictions falls out of the same pair moments;
* per requested layer, the per-group moments of the anchors grouped by their style and by their
  source video (:mod:`sdinterp.validity.nuisance`), kept as the observer's own mergeable state.

One thing is not free. When the dynamic sampler transforms the anchor itself (``restyle`` with
``anchor_style="random"``, ``appearance_free``: the anchor then carries its original frames in
``meta["unstyled"]``), anchor and partner are both transformed, and comparing them cannot tell
whether the transform left the model's input distribution (measured: photometric partners move
stage3 of ``tiny:i3d-motion`` by 1.1 anchor sd from original anchors, by 0.1 from restyled ones).
The monitor then forwards the original frames of up to ``reference_clips`` anchors itself and
adds them as ``validity:reference:<layer>`` pseudo-layers: the anchor rows hold the original
clip's features and the partner rows the partner's, so the partner shift is measured against the
clips the model was meant to see. That costs one forward per referenced clip (a third more for the
first ``reference_clips`` clips of a shared-anchor run), and nothing when anchors are untouched.

:meth:`ValidityMonitor.verdict` turns the run's moments and report into a
:class:`~sdinterp.validity.verdict.ValidityVerdict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from sdinterp.validity.controls import control_layers
from sdinterp.validity.names import OUTPUT_CONFIDENCE, OUTPUT_TOP1, REFERENCE_PREFIX
from sdinterp.validity.nuisance import GroupMoments

__all__ = ["ValidityMonitor", "OUTPUT_TOP1", "OUTPUT_CONFIDENCE", "REFERENCE_PREFIX", "MAX_CLASSES", "logits_of"]

#: More classes than this are folded (class k counts as k mod MAX_CLASSES); agreement then errs up
#: by the chance two different predictions collide, at most 1 / MAX_CLASSES.
MAX_CLASSES = 1024
#: The nuisances kept per layer: the anchor's style and the clip's source video.
NUISANCES = ("style", "video")
#: The source-video share is kept for at most this many units per layer (evenly spaced): its state
#: grows with the number of videos, and a median over 64 units is as telling as over 2048.
VIDEO_UNITS = 64


def logits_of(output: Any, rows: int) -> torch.Tensor | None:
    """The (rows, K) logits in a forward's output, or ``None`` where there are none.

    Accepts a tensor, an object with ``.logits`` (Hugging Face), a dict with ``"logits"``, or a
    tuple/list whose first element is one of those. Anything that is not (rows, K >= 2) is refused:
    a segmentation map or a feature vector has no top-1 class.
    """
    for _ in range(3):
        if isinstance(output, torch.Tensor):
            break
        if isinstance(output, Mapping):
            output = output.get("logits")
        elif hasattr(output, "logits"):
            output = output.logits
        elif isinstance(output, (tuple, list)) and output:
            output = output[0]
        else:
            return None
    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[0] != rows or output.shape[1] < 2:
        return None
    if not torch.is_floating_point(output) or not bool(torch.isfinite(output).all()):
        return None
    return output.detach().to("cpu", torch.float64)


class ValidityMonitor:
    """The validity check of a run, as a :class:`~sdinterp.pipeline.executor.RunObserver`.

    Args:
        adapter: the run's adapter (its model runs the reference forwards).
        layers: the requested layers: ``{name: LayerInfo}`` (as ``StaticDynamic.layer_infos``) or
            names (resolved by the adapter when a reference forward is needed); default: every
            layer the batches carry.
        use_output: read the model's logits (the executor then runs each forward to the end,
            which costs the layers after the deepest requested one). ``False``: judge the output
            by the deepest requested layer only.
        controls: compute the probe controls.
        reference_clips: at most this many anchors whose sampler transformed them get a reference
            forward of their original frames (0: never; the shift is then anchor to partner).

    Examples:
        >>> monitor = ValidityMonitor(sd.adapter, list(sd.layer_infos))                     # doctest: +SKIP
        >>> store = sd.accumulate(clips, n_pairs=64, observers=[monitor])                   # doctest: +SKIP
        >>> report = sd.score(store); report.validity = monitor.verdict(store, report)      # doctest: +SKIP
        >>> print(report.validity.headline())                                              # doctest: +SKIP
    """

    name = "validity"

    def __init__(
        self,
        adapter: Any = None,
        layers: Mapping[str, Any] | Iterable[str] | None = None,
        use_output: bool = True,
        controls: bool = True,
        reference_clips: int = 256,
    ):
        self.adapter = adapter
        self.layer_infos = dict(layers) if isinstance(layers, Mapping) else None
        self.layers = list(layers) if layers is not None else None
        self.needs_output = bool(use_output)
        self.controls = bool(controls)
        self.reference_clips = int(reference_clips) if adapter is not None else 0
        #: anchors given a reference forward so far.
        self.referenced = 0
        #: factor -> [pairs whose two sides share a style, pairs]: the anchor effect needs static
        #: pairs that share the anchor's style and dynamic pairs that do not.
        self.style_shared: dict[str, list[int]] = {}
        #: (layer, nuisance) -> GroupMoments over the anchors.
        self.groups: dict[tuple[str, str], GroupMoments] = {}
        #: Whether a forward returned usable logits (False: it returned something else).
        self.saw_logits: bool | None = None

    def observe(self, result: Any) -> Mapping[str, torch.Tensor]:
        """Controls and prediction pseudo-layers of one batch; updates the nuisance moments.

        Args:
            result: the batch's :class:`~sdinterp.pipeline.executor.BatchResult`.

        Returns:
            ``"validity:…"`` name -> (len(result.inputs), k) float64 tensor.
        """
        n_inputs = len(result.inputs)
        anchors = len(result.batch.clips)
        style_keys = [_style_key(s.style) for s in result.inputs[:anchors]]
        video_keys = list(result.clusters)[:anchors]
        for layer, z in result.features.items():
            # another observer's pseudo-layers share the dict: only the model's layers count
            if layer.startswith("validity:") or (self.layers is not None and layer not in self.layers):
                continue
            self.groups.setdefault((layer, "style"), GroupMoments()).update(z[:anchors], style_keys)
            units = _spaced(z.shape[1], VIDEO_UNITS)
            self.groups.setdefault((layer, "video"), GroupMoments()).update(z[:anchors, units], video_keys)
        for factor, first, second in result.pairs:
            same = sum(
                _style_key(result.inputs[int(i)].style) == _style_key(result.inputs[int(j)].style)
                for i, j in zip(first, second)
            )
            slot = self.style_shared.setdefault(factor.value, [0, 0])
            slot[0] += int(same)
            slot[1] += len(first)
        out: dict[str, torch.Tensor] = dict(self._reference(result, anchors))
        if self.controls:
            out.update(control_layers(result.inputs))
        if self.needs_output and result.output is not None:
            logits = logits_of(result.output, n_inputs)
            self.saw_logits = logits is not None if self.saw_logits is None else (self.saw_logits or logits is not None)
            if logits is not None:
                top = logits.argmax(1) % MAX_CLASSES
                k = min(int(logits.shape[1]), MAX_CLASSES)
                out[OUTPUT_TOP1] = torch.nn.functional.one_hot(top, k).to(torch.float64)
                out[OUTPUT_CONFIDENCE] = torch.softmax(logits, 1).max(1).values[:, None]
        return out

    def _reference(self, result: Any, anchors: int) -> Mapping[str, torch.Tensor]:
        """``validity:reference:<layer>`` pseudo-layers: original frames in the anchor rows."""
        if self.referenced >= self.reference_clips:
            return {}
        originals = {}
        for k, s in enumerate(result.inputs[:anchors]):
            raw = s.meta.get("unstyled")
            if _restyled_from(raw, s.frames):
                originals[k] = s.replace(frames=raw, style=None)
        if not originals:
            return {}
        keep = list(originals)[: self.reference_clips - self.referenced]
        feats = self._forward([originals[k] for k in keep])
        self.referenced += len(keep)
        out = {}
        rows = torch.tensor(keep, dtype=torch.long)
        for layer, z in result.features.items():
            if layer in feats and (self.layers is None or layer in self.layers):
                ref = z.clone()
                ref[rows] = feats[layer]
                out[REFERENCE_PREFIX + layer] = ref
        return out

    def _forward(self, samples: list[Any]) -> dict[str, torch.Tensor]:
        """Pooled features of the requested layers for ``samples`` (one forward, no early exit)."""
        from sdinterp.capture import LayerCapture, resolve_layers
        from sdinterp.pipeline.executor import to_host
        from sdinterp.pipeline.inputs import to_device

        if self.layer_infos is None:
            self.layer_infos = resolve_layers(self.adapter, self.layers)
        x = to_device(self.adapter.prepare(samples), self.adapter.device)
        with LayerCapture(self.adapter.model, self.layer_infos, early_exit=False) as cap:
            cap.run(lambda: self.adapter.forward(x))
            feats = cap.collect()
        return to_host({k: v for k, v in feats.items() if v.shape[0] == len(samples)})

    # -- state (resume, merge, distributed) -----------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "groups": {f"{layer}\x00{nuisance}": g.state_dict() for (layer, nuisance), g in self.groups.items()},
            "saw_logits": self.saw_logits,
            "referenced": self.referenced,
            "style_shared": {k: list(v) for k, v in self.style_shared.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.groups = {}
        for key, g in dict(state.get("groups", {})).items():
            layer, nuisance = key.split("\x00", 1)
            self.groups[(layer, nuisance)] = GroupMoments().load_state_dict(g)
        self.saw_logits = state.get("saw_logits")
        self.referenced = int(state.get("referenced", 0))
        self.style_shared = {k: [int(a), int(b)] for k, (a, b) in dict(state.get("style_shared", {})).items()}

    def merge(self, other: ValidityMonitor) -> ValidityMonitor:
        """Fold another monitor's state (e.g. of a shard run separately) into this one."""
        for key, g in other.groups.items():
            self.groups.setdefault(key, GroupMoments()).merge(g)
        if other.saw_logits is not None:
            self.saw_logits = bool(self.saw_logits) or other.saw_logits
        self.referenced += other.referenced
        for k, (a, b) in other.style_shared.items():
            slot = self.style_shared.setdefault(k, [0, 0])
            slot[0] += a
            slot[1] += b
        return self

    def all_reduce(self) -> None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        # Every rank must reduce the same keys in the same order: gather the key sets first.
        keys: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(keys, sorted(self.groups))
        for key in sorted({tuple(k) for part in keys for k in part}):
            self.groups.setdefault(key, GroupMoments()).all_reduce()
        counts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(counts, {"referenced": self.referenced, "style_shared": self.style_shared})
        self.referenced = sum(c["referenced"] for c in counts)
        merged: dict[str, list[int]] = {}
        for c in counts:
            for k, (a, b) in c["style_shared"].items():
                slot = merged.setdefault(k, [0, 0])
                slot[0] += a
                slot[1] += b
        self.style_shared = merged

    # -- the verdict ------------------------------------------------------------------------------
    def nuisance_shares(self) -> dict[str, dict[str, Any]]:
        """Per layer and nuisance: the median adjusted share of unit variance it explains over the
        anchors, with the groups and clips it came from (``None`` where it cannot be told)."""
        out: dict[str, dict[str, Any]] = {}
        for (layer, nuisance), g in self.groups.items():
            share = g.share()
            out.setdefault(layer, {})[nuisance] = {
                "median_share": None if share is None or share.numel() == 0 else float(share.median()),
                "groups": len(g.groups),
                "clips": g.n,
                "repeated_clips": g.repeated(),
            }
        return out

    def verdict(self, store: Any, report: Any) -> Any:
        """The validity verdict of a finished run.

        Args:
            store: the run's :class:`~sdinterp.stats.MomentStore` (layers and ``validity:*`` pseudo-layers).
            report: the run's :class:`~sdinterp.report.BiasReport` (its scorer, λ and samplers).

        Returns:
            A :class:`~sdinterp.validity.verdict.ValidityVerdict`.
        """
        from sdinterp.validity.verdict import judge

        return judge(
            store,
            report,
            self.nuisance_shares(),
            use_output=self.needs_output,
            saw_logits=self.saw_logits,
            style_shared=self.style_shared,
        )


def _spaced(n: int, k: int) -> torch.Tensor:
    """``min(n, k)`` evenly spaced indices of ``range(n)`` (the same ones every batch)."""
    return torch.linspace(0, n - 1, min(n, k)).round().long().unique()


def _style_key(style: Any) -> str:
    # None and 0 both mean "the original frames" (interfaces.Sample).
    return "0" if style is None or style == 0 else str(style)


def _restyled_from(raw: Any, frames: Any) -> bool:
    """Whether ``raw`` (an anchor's ``meta["unstyled"]``) holds other pixels than its frames. On a
    device the arrays are compared by identity, not by value: a value would have to be read back."""
    if isinstance(raw, torch.Tensor) and isinstance(frames, torch.Tensor):
        return raw is not frames and raw.shape == frames.shape
    return isinstance(raw, np.ndarray) and raw.shape == frames.shape and not np.array_equal(raw, frames)
