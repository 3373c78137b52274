"""Walk every recognition config shipped in the mmaction2 wheel through sdinterp.

For each config: build it (random init, pretrained references stripped, the network blocked by the
caller), list its canonical layers at a reduced size and, with ``report=True``, run a 2-pair report.
Configs with the same model settings are built once. ``python tests/_mmaction_walk.py`` prints the
outcome table kept in docs/adapters.md; tests/test_mmaction_config_walk.py checks that table.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: Sizes tried in turn (frames, crop): reduced first; ``None`` = the config's native size.
SIZES: tuple[tuple[int, int] | None, ...] = ((8, 64), (16, 64), None)


@dataclasses.dataclass
class Outcome:
    """What sdinterp did with one config."""

    config: str
    backbone: str
    status: str  # "ok", "refused", or "crashed" (a raw exception: always a bug)
    detail: str  # layers and widths, or the one-line reason
    size: str = ""
    report: str = ""

    def row(self) -> str:
        return f"| `{self.config}` | {self.backbone} | {self.status} | {self.size} | {self.detail} |"


def configs() -> list[Path]:
    from sdinterp.adapters._mmaction_config import shipped_configs

    root = shipped_configs()
    assert root is not None, "mmaction2 ships no configs"
    found = sorted((root / "recognition").rglob("*.py")) + sorted((root / "recognition_audio").rglob("*.py"))
    return [p for p in found if "_base_" not in p.parts]


def _model_key(path: Path) -> tuple[str, str]:
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    model = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    for drop in ("cls_head", "data_preprocessor", "test_cfg", "train_cfg"):
        model.pop(drop, None)
    model.get("backbone", {}).pop("init_cfg", None)
    return json.dumps(model, sort_keys=True, default=str), str(model.get("backbone", {}).get("type"))


def _summary(layers: dict[str, Any]) -> str:
    names = list(layers)
    widths = "/".join(str(i.channels) for i in layers.values())
    if len(names) > 8:
        return f"{len(names)} layers `{names[0]}`..`{names[-1]}`: {widths}"
    return f"`{'`, `'.join(names)}`: {widths}"


def _clips(frames: int, side: int) -> list[Any]:
    from sdinterp.interfaces import Sample

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (frames, side, side, 3), dtype=np.uint8)
    # smooth motion so restyled and shuffled partners differ from the anchor
    return [Sample(frames=np.roll(base, 3 * i, axis=2), video_id=f"walk{i}") for i in range(2)]


def walk_one(path: Path, report: bool = False) -> Outcome:
    import sdinterp
    from sdinterp.adapters.mmaction2 import build_mmaction2
    from sdinterp.errors import SdinterpError

    rel = path.name[:-3]
    _, backbone = _model_key(path)
    last: str = ""
    for size in SIZES:
        kw = {} if size is None else {"num_frames": size[0], "crop_size": size[1]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                adapter = build_mmaction2(path, **kw)
                layers = adapter.layers()
        except (SdinterpError, ValueError) as exc:
            last = str(exc).splitlines()[0]
            if "fails on" in last or "not divisible" in last:
                continue  # try the next size
            return Outcome(rel, backbone, "refused", last)
        except Exception as exc:  # noqa: BLE001 - not one clear line: a bug the test reports by name
            return Outcome(rel, backbone, "crashed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        used = f"{adapter.clip.num_frames}×{adapter.clip.crop_size}²"
        out = Outcome(rel, backbone, "ok", _summary(layers), used)
        if report:
            sd = sdinterp.StaticDynamic(adapter, layers=list(layers))
            frames = adapter.clip.num_frames
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = sd.attribute(
                    _clips(max(frames, 2), adapter.clip.crop_size), n_pairs=2, batch_size=3, seed=0, show_progress=False
                )
            bad = [n for n in rep.layers if not np.isfinite(rep[n].percent["dynamic"])]
            out.report = "NaN in " + ", ".join(bad) if bad else "2-pair report ok"
        return out
    return Outcome(rel, backbone, "refused", last)


def walk(report: bool = False, progress: bool = False) -> list[Outcome]:
    """One outcome per shipped config; configs with identical model settings share one build.

    With ``report``, the first buildable config of each backbone class also runs a 2-pair report
    (the others of that class differ in depth, width or dataset, not in how they are captured).
    """
    done: dict[str, Outcome] = {}
    reported: set[str] = set()
    out = []
    for path in configs():
        key, backbone = _model_key(path)
        if key not in done:
            done[key] = walk_one(path, report and backbone not in reported)
            if done[key].report:
                reported.add(backbone)
            if progress:
                print(done[key].row(), done[key].report, file=sys.stderr, flush=True)
        out.append(dataclasses.replace(done[key], config=path.name[:-3]))
    return out


if __name__ == "__main__":  # pragma: no cover - regenerates the table in docs/adapters.md
    import logging

    logging.getLogger("mmengine").setLevel(logging.WARNING)
    for o in walk(report="--report" in sys.argv, progress=True):
        print(o.row(), flush=True)
