""":class:`BiasReport`: the result of a run (one :class:`LayerBias` per layer and what produced it),
with lossless JSON, pandas/CSV export and a compact printed table."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sdinterp.report.layer_bias import CATEGORIES, LayerBias

__all__ = ["BiasReport"]


@dataclasses.dataclass
class BiasReport:
    """The result of a run: one :class:`LayerBias` per layer plus what produced it.

    Attributes:
        layers: layer name -> LayerBias, in the order requested.
        config: protocol, samplers, scorer, batch size, adapter… (JSON-friendly).
        seed: the run's seed.
        versions: package versions (sdinterp, torch, numpy, python…).
        skipped: layers that could not be scored, with the reason (e.g. every unit constant).
    """

    layers: dict[str, LayerBias]
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)

    def __getitem__(self, layer: str) -> LayerBias:
        return self.layers[layer]

    def __iter__(self):
        return iter(self.layers.values())

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def n_pairs(self) -> dict[str, int]:
        first = next(iter(self.layers.values()), None)
        return dict(first.n_pairs) if first else {}

    # -- tables -----------------------------------------------------------------------------
    def to_frame(self) -> Any:
        """One row per layer (pandas DataFrame)."""
        import pandas as pd

        rows = []
        for lb in self.layers.values():
            counts = lb.category_counts
            rows.append(
                {
                    "layer": lb.layer,
                    "units": lb.n_units,
                    "dynamic_%": lb.percent["dynamic"],
                    "static_%": lb.percent["static"],
                    "identical_%": lb.percent["identical"],
                    "S_dynamic": lb.scores["dynamic"],
                    "S_static": lb.scores["static"],
                    **{f"n_{c}": counts[c] for c in CATEGORIES},
                    "pairs_dynamic": lb.n_pairs.get("dynamic", 0),
                    "pairs_static": lb.n_pairs.get("static", 0),
                    "scorer": lb.scorer,
                    "stream": lb.info.get("stream", ""),
                }
            )
        return pd.DataFrame(rows)

    def units_frame(self) -> Any:
        """Per-unit rows of every layer (pandas DataFrame)."""
        import pandas as pd

        return pd.concat([lb.units_frame() for lb in self.layers.values()], ignore_index=True)

    def to_csv(self, path: str | Path, units: bool = False) -> None:
        (self.units_frame() if units else self.to_frame()).to_csv(path, index=False)

    def table(self) -> str:
        """A compact fixed-width table: layer, dynamic/static/identical %, unit counts by category."""
        head = ["layer", "units", "dyn %", "stat %", "ident %", "dyn", "stat", "joint", "resid", "unasg", "const"]
        body = []
        for lb in self.layers.values():
            c = lb.category_counts
            body.append(
                [lb.layer, str(lb.n_units), f"{lb.percent['dynamic']:.1f}", f"{lb.percent['static']:.1f}",
                 f"{lb.percent['identical']:.1f}", str(c["dynamic"]), str(c["static"]), str(c["joint"]),
                 str(c["residual"]), str(c["unassigned"]), str(c["constant"])]
            )
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        fmt = lambda r: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
        lines = [fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
        pairs = self.n_pairs
        lines.append(
            f"pairs: dynamic {pairs.get('dynamic', 0)}, static {pairs.get('static', 0)}; "
            f"scorer {self.config.get('scorer', next(iter(self.layers.values())).scorer if self.layers else '?')}; "
            f"threshold {next(iter(self.layers.values())).threshold if self.layers else '?'}; seed {self.seed}"
        )
        for layer, why in self.skipped.items():
            lines.append(f"skipped {layer}: {why}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "sdinterp.BiasReport/1",
            "seed": self.seed,
            "config": self.config,
            "versions": self.versions,
            "skipped": self.skipped,
            "layers": [lb.to_dict() for lb in self.layers.values()],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BiasReport":
        if d.get("format", "").split("/")[0] != "sdinterp.BiasReport":
            raise ValueError(f"not an sdinterp report (format {d.get('format')!r})")
        layers = [LayerBias.from_dict(x) for x in d["layers"]]
        return cls(
            layers={lb.layer: lb for lb in layers},
            config=dict(d.get("config", {})),
            seed=d.get("seed"),
            versions=dict(d.get("versions", {})),
            skipped=dict(d.get("skipped", {})),
        )

    def to_json(self, path: str | Path | None = None, indent: int | None = None) -> str:
        """Serialise losslessly (floats are written in shortest round-trip form)."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=_json_default)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "BiasReport":
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        text = p.read_text() if p is not None else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BiasReport):
            return NotImplemented
        return self.to_json() == other.to_json()


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        f = float(o)
        if not math.isfinite(f):
            raise ValueError("non-finite number in a report")
        return f
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return repr(o)

