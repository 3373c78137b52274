"""Where the canonical layers of an MMAction2 backbone are (module paths, streams, pooling).

Widths are *not* decided here: :class:`~sdinterp.adapters.mmaction2.MMAction2Adapter` reads every
layer's width from a probe forward (:mod:`sdinterp.probe`), because a module's registered
submodules say nothing reliable about its output (TANet's stages end in a temporal Conv1d).

Families with a table (docs/method.md §3 and §8): ``ResNet3d`` and subclasses, ``C2D``, ``X3D``,
``ResNet3dSlowFast``, 2-D ``ResNet`` family (TSN, TSM, TIN, TANet, TPN/TRN backbones),
``TimeSformer``, ``MViT``, ``SwinTransformer3D``, ``UniFormer``, ``UniFormerV2`` and ``VisionTransformer``
(VideoMAE). Any other backbone is found structurally: a transformer by its repeated block list, a
CNN by where its spatial resolution changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sdinterp.adapters._clip import cat_pathways, channels_last_pool, first_output
from sdinterp.adapters._structure import block_list, resolution_stages
from sdinterp.errors import UnsupportedModelError
from sdinterp.interfaces import LayerInfo, Pooling
from sdinterp.probe import Trace

if TYPE_CHECKING:  # pragma: no cover
    from sdinterp.adapters.mmaction2 import MMAction2Adapter

__all__ = ["named_layers", "NoCanonicalLayers", "TABLED"]

#: Backbone classes (or bases) with an explicit layer table; anything else is found structurally.
TABLED = (
    "ResNet3dSlowFast",
    "ResNet3d",
    "C2D",
    "X3D",
    "ResNet",
    "TimeSformer",
    "MViT",
    "SwinTransformer3D",
    "UniFormer",
    "UniFormerV2",
    "VisionTransformer",
    "C3D",
)


class NoCanonicalLayers(UnsupportedModelError):
    """Neither a table nor the structure of the backbone gives canonical layers."""


def _mro_names(obj: Any) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


def named_layers(adapter: MMAction2Adapter, ran: Callable[[], Mapping[str, Trace]]) -> dict[str, LayerInfo]:
    """Canonical layers of ``adapter``'s backbone, widths unset.

    Args:
        adapter: the adapter (its ``backbone``, ``kind``, ``input_format`` and pooling helpers).
        ran: called only for backbones without a table: the probe trace of the backbone's modules.
    """
    bb, names, kind = adapter.backbone, _mro_names(adapter.backbone), adapter.kind
    out: dict[str, LayerInfo] = {}
    folded = adapter.input_format == "NCHW"  # 2-D recognizers fold time into the batch

    def add(name: str, module: str, stream: str = "rgb", **kw: Any) -> None:
        kw.setdefault("pooling", adapter.unfold_time_pool if folded else "channels_first")
        out[name] = LayerInfo(name, module, None, stream, **kw)

    res_layers = list(getattr(bb, "res_layers", []))
    if kind == "ResNet3dSlowFast":
        for path, stream in (("slow_path", "slow"), ("fast_path", "fast")):
            p = getattr(bb, path)
            for k, mod in enumerate(["maxpool"] + list(p.res_layers)):
                add(f"{stream}.stage{k + 1}", f"backbone.{path}.{mod}", stream)
        if getattr(bb.slow_path, "lateral", False):
            for k, layer in enumerate(bb.slow_path.res_layers):
                # the slow stage's input = slow features concatenated with the fast->slow lateral
                add(f"fused.stage{k + 1}", f"backbone.slow_path.{layer}", "fused", where="input")
        add("cat.stage5", "backbone", "cat", pooling="flat", select=cat_pathways)
        order = [f"{s}.stage{k}" for k in range(1, 6) for s in ("slow", "fast", "fused")] + ["cat.stage5"]
        return {n: out[n] for n in order if n in out}
    if "ResNet3d" in names:
        add("stage1", "backbone.maxpool" if getattr(bb, "with_pool1", True) else "backbone.conv1")
        for k, layer in enumerate(res_layers):
            add(f"stage{k + 2}", f"backbone.{layer}")
    elif kind == "C2D":
        add("stage1", "backbone.maxpool3d_1", pooling="channels_first")
        # layer1's output is folded back to 5-D only as the input of maxpool3d_2
        add("stage2", "backbone.maxpool3d_2", where="input", pooling="channels_first")
        for k, layer in enumerate(res_layers[1:]):
            add(f"stage{k + 3}", f"backbone.{layer}", pooling=adapter.unfold_time_pool)
    elif kind == "X3D":
        add("stage1", "backbone.conv1_t")
        for k, layer in enumerate(res_layers):
            add(f"stage{k + 2}", f"backbone.{layer}")
    elif "ResNet" in names and folded and res_layers:  # TSN, TSM, TIN, TANet, TPN/TRN backbones
        add("stage1", "backbone.maxpool")
        for k, layer in enumerate(res_layers):
            add(f"stage{k + 2}", f"backbone.{layer}")
    elif kind == "TimeSformer":
        pool = adapter.unfold_time_pool if bb.attention_type == "space_only" else "tokens"
        for k in range(len(bb.transformer_layers.layers)):
            add(f"block{k}", f"backbone.transformer_layers.layers.{k}", pooling=pool)
    elif kind == "MViT":
        for k in range(len(bb.blocks)):
            add(f"block{k}", f"backbone.blocks.{k}", pooling="tokens", select=first_output)
    elif kind == "SwinTransformer3D":
        k = 0
        for i, layer in enumerate(bb.layers):
            for j in range(len(layer.blocks)):
                add(f"block{k}", f"backbone.layers.{i}.blocks.{j}", pooling=channels_last_pool)
                k += 1
    elif kind == "UniFormer":
        # four block lists (conv blocks, then attention blocks), all (B, C, T, H, W)
        k = 0
        for i in range(1, 5):
            for j in range(len(getattr(bb, f"blocks{i}"))):
                add(f"block{k}", f"backbone.blocks{i}.{j}", pooling="channels_first")
                k += 1
    elif kind == "UniFormerV2":
        # the local UniBlocks: (L, N*T, C) tokens, CLS first; the global decoder is a side branch
        for k in range(len(bb.transformer.resblocks)):
            add(f"block{k}", f"backbone.transformer.resblocks.{k}", pooling=adapter.unfold_seq_first_pool)
    elif kind == "VisionTransformer":  # VideoMAE (B, L, C), no CLS token
        for k in range(len(bb.blocks)):
            add(f"block{k}", f"backbone.blocks.{k}", pooling="tokens")
    else:
        return _structural(adapter, ran())
    return out


def _structural(adapter: MMAction2Adapter, ran: Mapping[str, Trace]) -> dict[str, LayerInfo]:
    """Layers of a backbone without a table: blocks of a transformer, else resolution stages."""
    bb = adapter.backbone
    folded = adapter.input_format == "NCHW"
    blocks = block_list(bb, ran)
    out: dict[str, LayerInfo] = {}
    if len(blocks) >= 4:
        for k, path in enumerate(blocks):
            pooling = _token_pooling(adapter, ran[path].shape, folded)
            out[f"block{k}"] = LayerInfo(f"block{k}", f"backbone.{path}", None, "rgb", pooling)
        return out
    stages = resolution_stages(bb, ran)
    # A trailing stage of parameter-free modules only (C3D's pool5) is a pooling step, not a stage.
    while len(stages) > 1 and not any(True for _ in bb.get_submodule(stages[-1]).parameters()):
        stages.pop()
    if not stages:
        raise NoCanonicalLayers(
            f"no canonical layers for MMAction2 backbone {adapter.kind}: it has no repeated block list and no "
            "feature maps whose resolution changes"
        )
    pool: Pooling = adapter.unfold_time_pool if folded else "channels_first"
    for k, path in enumerate(stages):
        out[f"stage{k + 1}"] = LayerInfo(f"stage{k + 1}", f"backbone.{path}", None, "rgb", pool)
    return out


def _token_pooling(adapter: MMAction2Adapter, shape: tuple[int, ...] | None, folded: bool) -> Any:
    """Pooling for a block output of ``shape`` seen in the probe (``adapter.probe_batch`` clips)."""
    rows = adapter.probe_batch * (adapter.num_frames if folded else 1)
    if shape is None or len(shape) in (4, 5):
        return adapter.unfold_time_pool if folded else "channels_first"
    if len(shape) == 3 and shape[0] != rows and shape[1] == rows:
        return adapter.unfold_seq_first_pool
    return adapter.unfold_time_pool if folded else "tokens"
