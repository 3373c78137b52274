""":class:`BiasSeries`: the bias of one model at many points of its training (paper Fig. 10)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdinterp.report import BiasReport

__all__ = ["BiasSeries"]


@dataclasses.dataclass
class BiasSeries:
    """One :class:`~sdinterp.BiasReport` per training step.

    Attributes:
        steps: the epoch or iteration of each report, ascending.
        unit: what the steps count (``"epoch"``, ``"iteration"`` or ``"checkpoint"`` for indices).
        reports: the reports, in the order of ``steps``.
        sources: where each report's weights came from (a checkpoint path, ``"training"``...).
    """

    steps: list[float]
    unit: str
    reports: list[BiasReport]
    sources: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.reports)

    def layers(self) -> list[str]:
        """The layers of the reports (of the first report, in order)."""
        return list(self.reports[0].layers) if self.reports else []

    def to_frame(self) -> Any:
        """One table: a row per (step, layer) with the report's per-layer columns."""
        import pandas as pd

        frames = []
        for step, source, report in zip(self.steps, self.sources or [""] * len(self.reports), self.reports):
            frame = report.to_frame()
            frame.insert(0, self.unit, step)
            frame.insert(1, "source", source)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def series(self, layer: str) -> Any:
        """One layer's biases against the step (a DataFrame indexed by step)."""
        if layer not in self.layers():
            raise KeyError(f"no layer {layer!r} in the series (layers: {', '.join(self.layers())})")
        frame = self.to_frame()
        frame = frame[frame["layer"] == layer].set_index(self.unit)
        return frame[
            [
                "dynamic_%",
                "static_%",
                "identical_%",
                "S_dynamic",
                "S_static",
                "n_dynamic",
                "n_static",
                "n_joint",
                "n_residual",
            ]
        ]

    def table(self) -> str:
        """Printed: per layer, one row per step with the softmax dims and the unit categories."""
        lines = [
            f"{len(self)} reports; {self.reports[0].n_pairs if self.reports else {}} pairs per factor; "
            f"seed {self.reports[0].seed if self.reports else '?'}"
        ]
        head = [self.unit, "dyn %", "stat %", "S_dyn", "S_stat", "dynamic", "static", "joint", "residual"]
        for layer in self.layers():
            rows = []
            for step, report in zip(self.steps, self.reports):
                lb = report.layers.get(layer)
                if lb is None:
                    rows.append([_fmt(step), "skipped"] + [""] * 7)
                    continue
                c = lb.category_counts
                rows.append(
                    [
                        _fmt(step),
                        f"{lb.percent['dynamic']:.1f}",
                        f"{lb.percent['static']:.1f}",
                        f"{lb.scores['dynamic']:.3f}",
                        f"{lb.scores['static']:.3f}",
                        *(str(c[k]) for k in ("dynamic", "static", "joint", "residual")),
                    ]
                )
            widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

            def fmt(r: list[str], widths: list[int] = widths) -> str:
                return "  ".join(v.rjust(w) for v, w in zip(r, widths))

            lines += [f"layer {layer}", fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "sdinterp.BiasSeries/1",
            "unit": self.unit,
            "steps": list(self.steps),
            "sources": list(self.sources),
            "reports": [r.to_dict() for r in self.reports],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BiasSeries:
        if str(d.get("format", "")).split("/")[0] != "sdinterp.BiasSeries":
            raise ValueError(f"not a bias series (format {d.get('format')!r})")
        return cls(
            steps=list(d["steps"]),
            unit=d["unit"],
            reports=[BiasReport.from_dict(r) for r in d["reports"]],
            sources=list(d.get("sources", [])),
        )

    def to_json(self, path: str | Path | None = None, indent: int | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=repr)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> BiasSeries:
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        return cls.from_dict(json.loads(p.read_text() if p is not None else str(text_or_path)))


def _fmt(step: float) -> str:
    return (
        str(int(step))
        if isinstance(step, (int,)) or (isinstance(step, float) and math.isfinite(step) and step.is_integer())
        else str(step)
    )
