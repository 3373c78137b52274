"""MMAction2 config handling for :mod:`sdinterp.adapters.mmaction2`: finding shipped configs, removing
pretrained-weight references (nothing may be downloaded), reading the test pipeline's input settings
and keeping size-dependent backbone settings consistent with a reduced input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["find_config", "pipeline_clip", "resize_backbone", "shipped_configs", "strip_pretrained"]


def shipped_configs() -> Path | None:
    """The config folder the mmaction2 wheel ships (``mmaction/.mim/configs``), if any."""
    import importlib.util

    spec = importlib.util.find_spec("mmaction")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / ".mim" / "configs"
    return path if path.is_dir() else None


def find_config(config: str | Path) -> Path:
    """A config file path, or a config name looked up in the wheel's shipped configs.

    Args:
        config: a path, or a file name with or without ``.py`` (e.g.
            ``slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb``) or a path relative to ``configs/``.

    Raises:
        FileNotFoundError: no or several matching configs (the message lists them).
    """
    path = Path(config)
    if path.is_file():
        return path
    root = shipped_configs()
    if root is not None:
        for rel in (path, path.with_name(path.name + ".py")):
            if (root / rel).is_file():
                return root / rel
        name = path.name if path.suffix == ".py" else path.name + ".py"
        found = sorted(root.rglob(name))
        if len(found) == 1:
            return found[0]
        if found:
            raise FileNotFoundError(
                f"config {str(config)!r} is ambiguous: {', '.join(str(f.relative_to(root)) for f in found)}"
            )
    raise FileNotFoundError(
        f"mmaction2 config {str(config)!r} not found (not a file, nor a config shipped in "
        f"{root or 'the mmaction2 wheel'})"
    )


def strip_pretrained(node: Any) -> Any:
    """Remove every reference to pretrained weights, whatever its type: nothing may be downloaded.

    * any key containing ``pretrained`` (``pretrained``, ``clip_pretrained``, ...): a path, URL or
      model name becomes ``None``, ``True`` becomes ``False`` (torchvision/timm ``pretrained=True``
      would fetch ImageNet weights at build time);
    * ``weights`` naming a torchvision weights enum becomes ``None``;
    * ``init_cfg`` entries of type ``Pretrained`` are dropped (the rest of a list is kept).

    ``pretrained2d`` is left alone: it only says how to inflate 2-D weights *if* a path is given.
    """
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            if (
                isinstance(key, str)
                and "pretrained" in key
                and key != "pretrained2d"
                and not isinstance(value, (dict, list, tuple))
            ):
                if value is True:
                    node[key] = False
                elif isinstance(value, str):
                    node[key] = None
            elif key == "weights" and isinstance(value, str):
                node[key] = None
            elif key == "init_cfg":
                node[key] = _without_pretrained_init(value)
            else:
                strip_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            strip_pretrained(value)
    return node


def _without_pretrained_init(init_cfg: Any) -> Any:
    if isinstance(init_cfg, dict):
        return (
            None
            if "Pretrained" in str(init_cfg.get("type", "")) or "checkpoint" in init_cfg
            else strip_pretrained(init_cfg)
        )
    if isinstance(init_cfg, (list, tuple)):
        kept = [c for c in (_without_pretrained_init(c) for c in init_cfg) if c is not None]
        return kept or None
    return init_cfg


def pipeline_clip(cfg: Any) -> tuple[dict[str, Any], str]:
    """Frames, crop and short side from the config's test pipeline, and the input format."""
    pipeline = cfg.get("test_pipeline") or cfg.get("val_pipeline") or []
    out: dict[str, Any] = {}
    fmt = "NCTHW"
    for step in pipeline:
        kind = step.get("type", "")
        if kind in ("SampleFrames", "UniformSample", "UniformSampleFrames"):
            clip_len = int(step.get("clip_len", 1))
            out["num_frames"] = clip_len * (int(step.get("num_clips", 1)) if clip_len == 1 else 1)
            out["frame_interval"] = int(step.get("frame_interval", 1))
        elif kind == "Resize" and isinstance(step.get("scale"), (tuple, list)):
            sides = [int(s) for s in step["scale"] if int(s) > 0]
            if sides:
                out["short_side"] = min(sides)
        elif kind in ("CenterCrop", "ThreeCrop", "TenCrop") and step.get("crop_size"):
            size = step["crop_size"]
            out["crop_size"] = int(size if isinstance(size, int) else min(size))
        elif kind == "FormatShape":
            fmt = step.get("input_format", fmt)
    return out, fmt


#: Backbone type -> ((frames key, its default), (crop key, its default)) of its config.
_SIZE_KEYS = {
    "TimeSformer": (("num_frames", 8), ("img_size", 224)),
    "MViT": (("temporal_size", 16), ("spatial_size", 224)),
    "VisionTransformer": (("num_frames", 16), ("img_size", 224)),
    "UniFormerV2": (("t_size", 8), ("input_resolution", 224)),
}


def resize_backbone(backbone: dict, frames: int | None, crop: int | None) -> None:
    """Keep size-dependent backbone settings (positional embeddings, segment counts) consistent
    with a reduced input."""
    kind = str(backbone.get("type"))
    if kind in _SIZE_KEYS:
        (frames_key, default_frames), (crop_key, default_crop) = _SIZE_KEYS[kind]
        backbone[frames_key] = frames or backbone.get(frames_key, default_frames)
        backbone[crop_key] = crop or backbone.get(crop_key, default_crop)
    elif kind == "UniFormer" and crop:
        backbone["img_size"] = crop
    if frames and "num_segments" in backbone:  # TSM, TIN, TANet, MobileNetV2TSM shift across segments
        backbone["num_segments"] = frames
