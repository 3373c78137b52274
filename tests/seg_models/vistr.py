"""VisTR stand-in: ``VisTR``, ``VisTRsegm``, its ``Transformer`` and a ``NestedTensor``.

Test support: same attribute paths, signatures and tensor layouts as the real code (Epiphqny/VisTR
``models/vistr.py``, ``transformer.py``, ``segmentation.py``, ``backbone.py``, ``util/misc.py``),
written fresh; not the real code. What the adapter relies on, and what this reproduces:

* ``VisTRsegm.vistr`` (a ``VisTR``) with ``backbone`` (a ``Joiner``: ResNet body + sine positional
  encoding), ``input_proj`` (1x1 conv to ``d_model``), ``query_embed`` (``num_queries x d_model``) and
  ``transformer`` with ``encoder.layers[0..5]``, ``decoder.layers[0..5]`` and ``decoder.norm``.
* ``forward(samples)``: a ``NestedTensor`` (``tensors`` (T, 3, H, W), ``mask`` (T, H, W), True on padded
  pixels) of the ``num_frames`` frames of one clip, or a plain (T, 3, H, W) tensor (converted, as the
  real forward does). The frames are the backbone's batch.
* Encoder layers take and return sequence-first tokens (T·h·w, B, d) and receive the padding mask as
  the keyword ``src_key_padding_mask`` (B, T·h·w); decoder layers return (num_queries, B, d), before
  ``decoder.norm``. ``VisTRsegm`` takes batch 1 (more clips per forward raise, as the real mask
  head's reshapes do not support them).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import bottleneck_resnet

__all__ = ["NestedTensor", "nested_tensor_from_tensor_list", "build_vistr"]


class NestedTensor:
    """Frames and their padding mask (True on padded pixels)."""

    def __init__(self, tensors: torch.Tensor, mask: torch.Tensor | None):
        self.tensors, self.mask = tensors, mask

    def to(self, device: Any) -> NestedTensor:
        return NestedTensor(self.tensors.to(device), None if self.mask is None else self.mask.to(device))

    def decompose(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.tensors, self.mask


def nested_tensor_from_tensor_list(tensors: Sequence[torch.Tensor]) -> NestedTensor:
    """Pad 3-channel images to the largest size; each input may hold several frames on channels."""
    frames = [f for t in tensors for f in t.split(3, dim=0)]
    h = max(f.shape[1] for f in frames)
    w = max(f.shape[2] for f in frames)
    out = frames[0].new_zeros((len(frames), 3, h, w))
    mask = torch.ones((len(frames), h, w), dtype=torch.bool, device=out.device)
    for i, f in enumerate(frames):
        out[i, :, : f.shape[1], : f.shape[2]] = f
        mask[i, : f.shape[1], : f.shape[2]] = False
    return NestedTensor(out, mask)


class Backbone(nn.Module):
    """ResNet body returning its last stage with the mask resized to it."""

    def __init__(self, blocks: Sequence[int], width: int):
        super().__init__()
        self.body = bottleneck_resnet(blocks, width)
        self.num_channels = self.body.out_channels[-1]

    def forward(self, x: NestedTensor) -> dict[str, NestedTensor]:
        feat = self.body(x.tensors)
        mask = F.interpolate(x.mask[None].float(), size=feat.shape[-2:])[0].bool()
        return {"0": NestedTensor(feat, mask)}


class PositionEmbeddingSine(nn.Module):
    """Sine encoding of (t, y, x) over non-padded positions: (B, T, d, h, w) from a (B·T, h, w) mask."""

    def __init__(self, d_model: int, num_frames: int):
        super().__init__()
        self.d_model, self.num_frames = d_model, num_frames

    def forward(self, x: NestedTensor) -> torch.Tensor:
        mask = x.mask
        n, h, w = mask.shape
        not_mask = (~mask).reshape(n // self.num_frames, self.num_frames, h, w).float()
        coords = [not_mask.cumsum(1), not_mask.cumsum(2), not_mask.cumsum(3)]  # t, y, x
        parts = []
        per = [self.d_model // 3 + (1 if i < self.d_model % 3 else 0) for i in range(3)]
        for c, k in zip(coords, per):
            freq = 10000 ** (2 * (torch.arange(k, device=mask.device) // 2) / max(k, 1))
            arg = c[..., None] / freq
            parts.append(torch.where(torch.arange(k, device=mask.device) % 2 == 0, arg.sin(), arg.cos()))
        return torch.cat(parts, -1).permute(0, 1, 4, 2, 3)  # (B, T, d, h, w)


class Joiner(nn.Sequential):
    """``Joiner(backbone, position_embedding)``: ``forward(nested) -> ([features], [pos])``."""

    def __init__(self, backbone: nn.Module, position_embedding: nn.Module):
        super().__init__(backbone, position_embedding)
        self.num_channels = backbone.num_channels

    def forward(self, tensor_list: NestedTensor) -> tuple[list, list]:
        xs = self[0](tensor_list)
        out = list(xs.values())
        return out, [self[1](x).to(x.tensors.dtype) for x in out]


class TransformerEncoderLayer(nn.Module):
    """Post-norm encoder layer; ``forward(src, src_mask=None, src_key_padding_mask=None, pos=None)``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        q = k = src if pos is None else src + pos
        src = self.norm1(
            src + self.self_attn(q, k, value=src, attn_mask=src_mask, key_padding_mask=src_key_padding_mask)[0]
        )
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class TransformerDecoderLayer(nn.Module):
    """Post-norm decoder layer: self-attention on the queries, cross-attention on the memory, FFN."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        pos: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        q = k = tgt + query_pos
        tgt = self.norm1(
            tgt + self.self_attn(q, k, value=tgt, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask)[0]
        )
        att = self.multihead_attn(
            tgt + query_pos, memory + pos, value=memory, attn_mask=memory_mask, key_padding_mask=memory_key_padding_mask
        )[0]
        tgt = self.norm2(tgt + att)
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class TransformerEncoder(nn.Module):
    def __init__(self, layer: nn.Module, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = None

    def forward(
        self, src: torch.Tensor, mask: Any = None, src_key_padding_mask: Any = None, pos: Any = None
    ) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, src_mask=mask, src_key_padding_mask=src_key_padding_mask, pos=pos)
        return src


class TransformerDecoder(nn.Module):
    def __init__(self, layer: nn.Module, num_layers: int, d_model: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_key_padding_mask: Any = None,
        pos: Any = None,
        query_pos: Any = None,
    ) -> torch.Tensor:
        inter = []
        for layer in self.layers:
            tgt = layer(tgt, memory, memory_key_padding_mask=memory_key_padding_mask, pos=pos, query_pos=query_pos)
            inter.append(self.norm(tgt))
        return torch.stack(inter)


class Transformer(nn.Module):
    """``forward(src (B, d, T, hw), mask (B, T, hw), query_embed (Q, d), pos (B, d, T, hw))`` ->
    ``(hs (layers, B, Q, d), memory (B, d, T, hw))``; tokens are sequence-first inside."""

    def __init__(
        self,
        d_model: int = 384,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
    ):
        super().__init__()
        self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, dim_feedforward), num_encoder_layers)
        self.decoder = TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, dim_feedforward), num_decoder_layers, d_model
        )
        self.d_model, self.nhead = d_model, nhead

    def forward(
        self, src: torch.Tensor, mask: torch.Tensor, query_embed: torch.Tensor, pos_embed: torch.Tensor
    ) -> tuple:
        bs, c, h, w = src.shape
        src = src.flatten(2).permute(2, 0, 1)
        pos_embed = pos_embed.flatten(2).permute(2, 0, 1)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        mask = mask.flatten(1)
        memory = self.encoder(src, src_key_padding_mask=mask, pos=pos_embed)
        hs = self.decoder(
            torch.zeros_like(query_embed), memory, memory_key_padding_mask=mask, pos=pos_embed, query_pos=query_embed
        )
        return hs.transpose(1, 2), memory.permute(1, 2, 0).view(bs, c, h, w)


class VisTR(nn.Module):
    """``forward(samples)`` -> ``{"pred_logits", "pred_boxes"}``."""

    def __init__(
        self, backbone: nn.Module, transformer: Transformer, num_classes: int, num_frames: int, num_queries: int
    ):
        super().__init__()
        d = transformer.d_model
        self.num_queries, self.num_frames, self.hidden_dim = num_queries, num_frames, d
        self.transformer = transformer
        self.class_embed = nn.Linear(d, num_classes + 1)
        self.bbox_embed = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 4))
        self.query_embed = nn.Embedding(num_queries, d)
        self.input_proj = nn.Conv2d(backbone.num_channels, d, 1)
        self.backbone = backbone

    def encode(self, samples: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
        if not isinstance(samples, NestedTensor):
            samples = nested_tensor_from_tensor_list(samples)
        features, pos = self.backbone(samples)
        src, mask = features[-1].decompose()
        proj = self.input_proj(src)
        n, c, h, w = proj.shape
        proj = proj.reshape(n // self.num_frames, self.num_frames, c, h, w).permute(0, 2, 1, 3, 4).flatten(-2)
        mask = mask.reshape(n // self.num_frames, self.num_frames, h * w)
        hs, memory = self.transformer(proj, mask, self.query_embed.weight, pos[-1].permute(0, 2, 1, 3, 4).flatten(-2))
        return hs, memory, mask, h, w

    def forward(self, samples: Any) -> dict[str, torch.Tensor]:
        hs = self.encode(samples)[0]
        return {"pred_logits": self.class_embed(hs)[-1], "pred_boxes": self.bbox_embed(hs).sigmoid()[-1]}


class VisTRsegm(nn.Module):
    """``VisTRsegm(vistr)``: adds per-frame instance masks; batch 1 only."""

    def __init__(self, vistr: VisTR):
        super().__init__()
        self.vistr = vistr
        self.mask_embed = nn.Linear(vistr.hidden_dim, vistr.hidden_dim)

    def forward(self, samples: Any) -> dict[str, torch.Tensor]:
        hs, memory, _mask, h, w = self.vistr.encode(samples)
        if hs.shape[1] != 1:
            raise RuntimeError(f"VisTRsegm takes one clip per forward, got {hs.shape[1]}")
        v = self.vistr
        out = {"pred_logits": v.class_embed(hs)[-1], "pred_boxes": v.bbox_embed(hs).sigmoid()[-1]}
        mem = memory.reshape(1, v.hidden_dim, v.num_frames, h, w)
        per_frame = v.num_queries // v.num_frames
        queries = self.mask_embed(hs[-1]).reshape(1, v.num_frames, per_frame, v.hidden_dim)
        out["pred_masks"] = torch.einsum("btqd,bdthw->btqhw", queries, mem) / math.sqrt(v.hidden_dim)
        return out


def build_vistr(
    num_frames: int = 36,
    d_model: int = 384,
    nhead: int = 8,
    dim_feedforward: int = 2048,
    num_queries: int | None = None,
    blocks: Sequence[int] = (3, 4, 6, 3),
    width: int = 64,
    layers: int = 6,
    segm: bool = True,
    num_classes: int = 40,
) -> nn.Module:
    """A VisTR (R50 body by default) or, with ``segm``, a VisTRsegm around it (10 queries per frame)."""
    backbone = Joiner(Backbone(blocks, width), PositionEmbeddingSine(d_model, num_frames))
    transformer = Transformer(d_model, nhead, layers, layers, dim_feedforward)
    vistr = VisTR(backbone, transformer, num_classes, num_frames, num_queries or 10 * num_frames)
    return VisTRsegm(vistr) if segm else vistr
