"""The validity verdict of a run as a result: per factor ok / doubtful / invalid, with the numbers
and a one-line reason. :func:`sdinterp.validity.judge` makes it; a :class:`~sdinterp.report.BiasReport`
carries, prints, saves and reloads it (docs/validity.md).

Examples:
    >>> v = ValidityVerdict.from_dict({"status": "ok", "factors": {}, "numbers": {}})
    >>> v.headline()
    'validity: ok (the pairs pass the checks of docs/validity.md)'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["FactorVerdict", "ValidityVerdict", "STATUSES", "worse"]

#: Ordered from best to worst.
STATUSES = ("ok", "doubtful", "invalid")


def worse(a: str, b: str) -> str:
    return a if STATUSES.index(a) >= STATUSES.index(b) else b


@dataclasses.dataclass
class FactorVerdict:
    """The verdict on one factor's pairs.

    Attributes:
        factor: ``"dynamic"`` or ``"static"``.
        status: ``"ok"``, ``"doubtful"`` or ``"invalid"``.
        reason: one line: what was found, with its number (the worst finding first).
        sampler: the name of the sampler that made the pairs.
        findings: every finding, ``[{"status", "check", "text"}]``, worst first.
    """

    factor: str
    status: str
    reason: str
    sampler: str = "?"
    findings: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FactorVerdict:
        return cls(
            factor=str(d["factor"]),
            status=str(d["status"]),
            reason=str(d["reason"]),
            sampler=str(d.get("sampler", "?")),
            findings=[dict(x) for x in d.get("findings", [])],
        )


@dataclasses.dataclass
class ValidityVerdict:
    """Whether a run's pairs mean what they claim, per factor, with the numbers behind it.

    Attributes:
        status: the worst factor's status.
        factors: ``{"dynamic": FactorVerdict, "static": FactorVerdict}``.
        numbers: the measurements (``controls``, ``shift``, ``nuisance``) as plain JSON data.
        thresholds: the thresholds applied.
    """

    status: str
    factors: dict[str, FactorVerdict]
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        return self.status == "ok"

    def headline(self) -> str:
        """One line: the status and, when not ok, which pairs and why."""
        if self.status == "ok":
            return "validity: ok (the pairs pass the checks of docs/validity.md)"
        bad = [v for v in self.factors.values() if v.status != "ok"]
        what = "; ".join(f"{v.factor} pairs ({v.sampler}) {v.status}: {v.reason}" for v in bad)
        lead = (
            "INVALID: do not trust these scores"
            if self.status == "invalid"
            else "DOUBTFUL: read these scores with care"
        )
        return f"validity: {lead} -- {what}"

    def lines(self, every: bool = False) -> list[str]:
        """The printed validity section: the headline, one line per factor, then its findings that
        are not ok (``every=True``: all of them) and how many checks passed."""
        out = [self.headline()]
        for v in self.factors.values():
            out.append(f"  {v.factor:8s} pairs ({v.sampler}): {v.status} -- {v.reason}")
            rest = v.findings[1:] if v.findings and v.status != "ok" else v.findings
            shown = [x for x in rest if every or x["status"] != "ok"]
            out += [f"    [{x['status']}] {x['check']}: {x['text']}" for x in shown]
            passed = sum(x["status"] == "ok" for x in v.findings)
            if not every and passed:
                out.append(
                    f"    ({passed} check{'s' if passed != 1 else ''} ok; report.validity.lines(every=True) lists them)"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "factors": {k: v.to_dict() for k, v in self.factors.items()},
            "numbers": self.numbers,
            "thresholds": dict(self.thresholds),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ValidityVerdict:
        return cls(
            status=str(d["status"]),
            factors={k: FactorVerdict.from_dict(v) for k, v in dict(d.get("factors", {})).items()},
            numbers=dict(d.get("numbers", {})),
            thresholds={k: float(v) for k, v in dict(d.get("thresholds", {})).items()},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidityVerdict):
            return NotImplemented
        return self.to_dict() == other.to_dict()
