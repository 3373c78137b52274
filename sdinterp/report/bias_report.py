""":class:`BiasReport`: the result of a run (one :class:`LayerBias` per layer and what produced it),
with lossless JSON, pandas/CSV export and a compact printed table."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sdinterp.report.layer_bias import CATEGORIES, LayerBias

__all__ = ["BiasReport", "weights_label"]

#: sha256 of no bytes: the state hash of a network with no parameters or buffers.
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def weights_label(provenance: dict[str, Any]) -> str:
    """One phrase for a run's weights provenance (``identity["model"]["weights"]``): random init with
    its seed, a file, or weights a loader brought (e.g. an embedded checkpoint), with its sha256."""
    source = provenance.get("source")
    if source == "random init":
        return f"random init (seed {provenance.get('seed')})"
    where = provenance.get("path") or provenance.get("name") or "?"
    sha = str(provenance.get("sha256") or "")[:12]
    return (f"file {where}" if source == "file" else f"{source} weights {where}") + (
        f" (sha256 {sha}...)" if sha else ""
    )


@dataclasses.dataclass
class BiasReport:
    """The result of a run: one :class:`LayerBias` per layer plus what produced it.

    Attributes:
        layers: layer name -> LayerBias, in the order requested.
        identity: what makes the run this run — inputs, model and weights, protocol, samplers,
            scorer, pairs, seed, adapter… (JSON-friendly; checked when a run is resumed).
        seed: the run's seed.
        versions: package versions (sdinterp, torch, numpy, python…).
        skipped: layers that could not be scored, with the reason (e.g. every unit constant).
        timings: wall-clock seconds of the run's parts. Not part of the result: printed with the
            report, but written to JSON only when asked (``to_json(timings=True)``,
            ``sdinterp report --json-timings``), so the same command twice gives identical JSON;
        sampling: what the pairs were drawn from: ``clips`` (clips of the run) and ``videos`` (distinct
            source videos, the independent observations of the cluster bootstrap).
            ``==`` ignores them.
        validity: the run's validity verdict (:class:`~sdinterp.validity.ValidityVerdict`: ok /
            doubtful / invalid per factor, with the numbers and a reason), or ``None`` when the check
            was not run. Printed before everything else when the pairs are doubtful or invalid, and
            written to the JSON (``"validity"``) whenever present.
    """

    layers: dict[str, LayerBias]
    identity: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, Any] = dataclasses.field(default_factory=dict)
    sampling: dict[str, Any] = dataclasses.field(default_factory=dict)
    validity: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.validity, Mapping):  # a verdict as JSON data (e.g. from another tool)
            self.validity = _verdict_from_dict(self.validity)

    @property
    def trusted(self) -> bool | None:
        """Whether the validity check judged every factor's pairs ok (``None``: no check was run)."""
        return None if self.validity is None else self.validity.status == "ok"

    def validity_lines(self) -> list[str]:
        """The validity section of the printed report (empty without a verdict)."""
        return [] if self.validity is None else self.validity.lines()

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

    def table(self, legend: bool = True) -> str:
        """The printed report: what was run (provenance), one row per layer and a legend.

        Two different things are printed side by side, as the paper's Fig. 3 does: the layer-wise
        *softmax dims* (``dyn %``/``stat %``/``ident %``: the official code's softmax over
        (S_dyn, S_stat, 1), times the units, truncated; they are not counts of units) and the
        unit-wise *categories* (how many units pass λ for each factor, and their share).
        """
        head = [
            "layer",
            "units",
            "dyn %",
            "stat %",
            "ident %",
            "|",
            "dynamic",
            "static",
            "joint",
            "residual",
            "unasg",
            "const",
        ]
        body = []
        for lb in self.layers.values():
            c, pct = lb.category_counts, lb.category_percent

            def share(k: str, c: dict[str, int] = c, pct: dict[str, float] = pct) -> str:
                return f"{c[k]} ({pct[k]:.0f}%)"

            body.append(
                [
                    lb.layer,
                    str(lb.n_units),
                    f"{lb.percent['dynamic']:.1f}",
                    f"{lb.percent['static']:.1f}",
                    f"{lb.percent['identical']:.1f}",
                    "|",
                    share("dynamic"),
                    share("static"),
                    share("joint"),
                    share("residual"),
                    str(c["unassigned"]),
                    str(c["constant"]),
                ]
            )
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

        def fmt(r: list[str]) -> str:
            return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

        doubt = self.validity is not None and self.validity.status != "ok"
        # A result that should not be trusted says so before anything else; an ok one says it in
        # one line after the provenance.
        lines = (self.validity_lines() + [""] if doubt else []) + self.provenance()
        if self.validity is not None and not doubt:
            lines.append(self.validity.headline())
        lines += [fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
        for layer, why in self.skipped.items():
            lines.append(f"skipped {layer}: {why}")
        lines += self.interval_lines()
        asked = (self.identity.get("bootstrap") or {}).get("replicates")
        if asked and self.sampling.get("videos") == 1 and not any(lb.intervals for lb in self.layers.values()):
            lines.append(
                f"no intervals: the {self.sampling.get('clips')} clips come from one source video, and the "
                "bootstrap resamples videos (one video has no spread to resample); give clips of several videos"
            )
        if legend and self.layers:
            lam = next(iter(self.layers.values())).threshold
            lines += [
                "legend:",
                "  dyn % / stat % / ident %: layer-wise softmax dims (official code; paper Fig. 3 left): softmax over",
                "    (S_dynamic, S_static, 1) times the units, truncated. A share of the layer's capacity, not "
                "a unit count.",
                f"  dynamic .. residual: unit categories at threshold {lam} (paper Eq. 3; Fig. 3 right): units "
                "whose own",
                "    scores pass it for the dynamic factor only, the static only, both (joint) or neither (residual);",
                "    (%) = share of these categorised units.",
                "  unasg: a score exactly at the threshold (the official code drops them); const: no variance, "
                "not scored.",
            ]
        return "\n".join(lines)

    def interval_lines(self) -> list[str]:
        """The bootstrap intervals of the layers that have them (none without ``bootstrap=B``):
        one row per layer, [lo, hi] of the softmax dims and scores, and how many units keep their
        category in at least ``level`` of the replicates."""
        rows = [lb for lb in self.layers.values() if lb.intervals]
        if not rows:
            return []
        first = rows[0].intervals or {}
        head = ["layer", "dyn %", "stat %", "S_dynamic", "S_static", "stable units"]

        def iv(pair: Any, fmt: str) -> str:
            return f"[{pair[0]:{fmt}}, {pair[1]:{fmt}}]"

        body = []
        for lb in rows:
            i = lb.intervals or {}  # rows hold only layers with intervals
            stab = np.asarray(i["category_stability"], dtype=float)
            scored = stab[lb.valid] if lb.valid.shape == stab.shape else stab
            body.append(
                [
                    lb.layer,
                    iv(i["percent"]["dynamic"], ".1f"),
                    iv(i["percent"]["static"], ".1f"),
                    iv(i["scores"]["dynamic"], ".3f"),
                    iv(i["scores"]["static"], ".3f"),
                    f"{int(np.sum(scored >= i['level']))}/{scored.size}",
                ]
            )
        widths = [max(len(r[k]) for r in [head] + body) for k in range(len(head))]

        def fmt(r: list[str]) -> str:
            return "  ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths)))

        title = (
            f"{100 * first['level']:g}% intervals (Poisson bootstrap over source videos, "
            f"{first['replicates']} replicates; "
            f"stable units: same category in >= {100 * first['level']:g}% of them):"
        )
        return [title, fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]

    def provenance(self) -> list[str]:
        """What produced the report, one fact per line (from :attr:`identity`)."""
        c, out = self.identity, []
        model = c.get("model") or {}
        if model:
            weights = model.get("weights") or {}
            if weights.get("source"):
                w = weights_label(weights)
            elif model.get("state_sha256") == _EMPTY_SHA256:
                w = "no parameters or buffers"
            else:
                w = f"state sha256 {str(model.get('state_sha256', '?'))[:12]}..."
            out.append(f"model:    {model.get('spec') or model.get('class', '?')}, {w}")
        inputs = c.get("inputs") or {}
        if inputs:
            if "videos" in inputs:
                vids = inputs["videos"]
                names = ", ".join(v.get("id", "?") for v in vids[:3]) + (
                    f", ... ({len(vids)} videos)" if len(vids) > 3 else ""
                )
                out.append(
                    f"inputs:   {names}; {inputs.get('n_clips')} clips of {inputs.get('clip_length')} "
                    f"frames, seed {inputs.get('seed')}"
                )
            else:
                out.append(f"inputs:   {inputs.get('kind', '?')}, {inputs.get('n_clips', '?')} clips")
        if self.sampling:
            resampled = " (the bootstrap resamples videos)" if c.get("bootstrap") else ""
            out.append(
                f"sampled:  {self.sampling.get('clips')} clips from {self.sampling.get('videos')} independent source "
                f"videos{resampled}"
            )
        for note in c.get("skipped_inputs") or []:
            out.append(f"skipped input: {note}")
        st, dy = c.get("static_sampler") or {}, c.get("dynamic_sampler") or {}
        if st or dy:
            extra = (
                f" ({dy['restyler']['name']})"
                if isinstance(dy.get("restyler"), dict) and "name" in dy["restyler"]
                else ""
            )
            out.append(
                f"pairs:    static {st.get('name', '?')}, dynamic {dy.get('name', '?')}{extra}; protocol "
                f"{c.get('protocol', '?')}; {self.n_pairs.get('static', 0)} static and "
                f"{self.n_pairs.get('dynamic', 0)} dynamic pairs; batch {c.get('batch_size', '?')}; seed {self.seed}"
            )
        scorer = c.get("scorer") or (next(iter(self.layers.values())).scorer if self.layers else "?")
        out.append(
            f"scorer:   {scorer}, threshold "
            f"{c.get('threshold', next(iter(self.layers.values())).threshold if self.layers else '?')}"
        )
        if self.versions:
            out.append("versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()))
        if self.timings:
            out.append(
                "time:     "
                + ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}" for k, v in self.timings.items())
            )
        return out

    def __str__(self) -> str:
        return self.table()

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self, timings: bool = False) -> dict[str, Any]:
        out = {
            "format": "sdinterp.BiasReport/3",
            "seed": self.seed,
            "identity": self.identity,
            "versions": self.versions,
            "skipped": self.skipped,
            "layers": [lb.to_dict() for lb in self.layers.values()],
        }
        if self.sampling:
            out["sampling"] = self.sampling
        if self.validity is not None:  # only then, so a report without the check is unchanged
            out["validity"] = self.validity.to_dict()
        if timings:
            out["timings"] = self.timings
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BiasReport:
        if d.get("format", "").split("/")[0] != "sdinterp.BiasReport":
            raise ValueError(f"not an sdinterp report (format {d.get('format')!r})")
        layers = [LayerBias.from_dict(x) for x in d["layers"]]
        return cls(
            layers={lb.layer: lb for lb in layers},
            identity=dict(d.get("identity", d.get("config", {}))),  # "config" in reports before 0.2
            seed=d.get("seed"),
            versions=dict(d.get("versions", {})),
            skipped=dict(d.get("skipped", {})),
            timings=dict(d.get("timings", {})),
            sampling=dict(d.get("sampling", {})),
            validity=_verdict_from_dict(d["validity"]) if d.get("validity") is not None else None,
        )

    def to_json(self, path: str | Path | None = None, indent: int | None = None, timings: bool = False) -> str:
        """Serialise losslessly (floats are written in shortest round-trip form); ``timings=True``
        adds the wall-clock timings, which differ from run to run."""
        text = json.dumps(self.to_dict(timings), indent=indent, allow_nan=False, default=_json_default)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> BiasReport:
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        text = p.read_text() if p is not None else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BiasReport):
            return NotImplemented
        return self.to_json() == other.to_json()


def _verdict_from_dict(d: Mapping[str, Any]) -> Any:
    from sdinterp.report.validity_verdict import ValidityVerdict

    return ValidityVerdict.from_dict(d)


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
