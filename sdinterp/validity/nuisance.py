"""Shared nuisances: how much of each unit's variance a grouping of the clips explains.

The anchor effect (issue 20): under ``Restyle(anchor_style="random")`` the anchor is restyled, and a
static pair (anchor, anchor shuffled) shares that style while a dynamic pair (anchor, anchor in
another style) never does. Whatever part of a unit's variance the style explains then counts as
static information. :class:`GroupMoments` keeps, per group (a style id, a source video), the count,
mean and centred sum of squares of each unit over the anchors — mergeable (Chan et al.'s pairwise
formulas), saved with a run's state and summed over processes — never the activations themselves.

:meth:`GroupMoments.share` is the adjusted share of variance the grouping explains (adjusted R², or
epsilon squared): ``1 - (SS_within / (N - G)) / (SS_total / (N - 1))``, clipped at 0. Unlike the
raw eta squared it is about 0 when the grouping explains nothing, however many groups there are
(a raw eta squared over G groups of N clips averages (G - 1) / (N - 1) by chance alone). With one
group (every anchor in the original style) the share is exactly 0: nothing is shared that the other
pair type lacks.

Examples:
    >>> import torch
    >>> g = GroupMoments()
    >>> _ = g.update(torch.tensor([[0.0], [0.1], [1.0], [1.1]], dtype=torch.float64), ["a", "a", "b", "b"])
    >>> round(float(g.share()[0]), 3)
    0.985
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["GroupMoments"]


class GroupMoments:
    """Per-group running count, mean and centred sum of squares of (N, D) features.

    Attributes:
        groups: group key -> ``{"n": int, "mean": (D,), "m2": (D,)}`` (float64).
    """

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _merge(into: dict[str, Any], n2: int, mean2: torch.Tensor, m22: torch.Tensor) -> None:
        n1 = into["n"]
        if n1 == 0:
            into.update(n=n2, mean=mean2.clone(), m2=m22.clone())
            return
        n = n1 + n2
        delta = mean2 - into["mean"]
        into["m2"] = into["m2"] + m22 + delta * delta * (n1 * n2 / n)
        into["mean"] = into["mean"] + delta * (n2 / n)
        into["n"] = n

    def update(self, z: torch.Tensor, keys: Sequence[Any]) -> GroupMoments:
        """Add rows of ``z`` (N, D), row k to group ``keys[k]``.

        Args:
            z: features, one row per clip.
            keys: one group key per row (made strings, so ``1`` and ``"1"`` are one group).

        Returns:
            self.
        """
        z = z.detach().to("cpu", torch.float64)
        if len(keys) != z.shape[0]:
            raise ValueError(f"GroupMoments: {len(keys)} group keys for {z.shape[0]} rows")
        by: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            by.setdefault(str(k), []).append(i)
        for key, rows in by.items():
            part = z[rows]
            mean = part.mean(0)
            d = part - mean
            slot = self.groups.setdefault(key, {"n": 0, "mean": torch.zeros_like(mean), "m2": torch.zeros_like(mean)})
            self._merge(slot, len(rows), mean, (d * d).sum(0))
        return self

    def merge(self, other: GroupMoments) -> GroupMoments:
        """Fold ``other`` into this one and return self."""
        for key, g in other.groups.items():
            slot = self.groups.setdefault(
                key, {"n": 0, "mean": torch.zeros_like(g["mean"]), "m2": torch.zeros_like(g["m2"])}
            )
            self._merge(slot, g["n"], g["mean"], g["m2"])
        return self

    @property
    def n(self) -> int:
        return sum(g["n"] for g in self.groups.values())

    def share(self) -> torch.Tensor | None:
        """Per unit, the adjusted share of variance explained by the grouping, in [0, 1].

        Returns:
            (D,) float64, 0 for constant units and when there is one group; ``None`` when fewer
            than two rows or no degrees of freedom within groups (every group a single row).
        """
        live = [g for g in self.groups.values() if g["n"] > 0]
        n, n_groups = sum(g["n"] for g in live), len(live)
        if n < 2:
            return None
        total: dict[str, Any] = {
            "n": 0,
            "mean": torch.zeros_like(live[0]["mean"]),
            "m2": torch.zeros_like(live[0]["m2"]),
        }
        within = torch.zeros_like(live[0]["m2"])
        for g in live:
            self._merge(total, g["n"], g["mean"], g["m2"])
            within = within + g["m2"]
        if n_groups == 1:
            return torch.zeros_like(within)
        if n - n_groups < 1:
            return None
        ss_total = total["m2"]
        ok = ss_total > 1e-12 * (1.0 + total["mean"].abs()) ** 2
        adj = 1.0 - (within / (n - n_groups)) / torch.where(ok, ss_total / (n - 1), torch.ones_like(ss_total))
        return torch.where(ok, adj.clamp(0.0, 1.0), torch.zeros_like(adj))

    def repeated(self) -> int:
        """Rows in groups of two or more (the ones a within-group variance comes from)."""
        return sum(g["n"] for g in self.groups.values() if g["n"] > 1)

    def state_dict(self) -> dict[str, Any]:
        return {k: {"n": g["n"], "mean": g["mean"].clone(), "m2": g["m2"].clone()} for k, g in self.groups.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> GroupMoments:
        self.groups = {
            str(k): {
                "n": int(g["n"]),
                "mean": torch.as_tensor(g["mean"], dtype=torch.float64).clone(),
                "m2": torch.as_tensor(g["m2"], dtype=torch.float64).clone(),
            }
            for k, g in state.items()
        }
        return self

    def all_reduce(self) -> GroupMoments:
        """Merge every process's groups (in rank order) under ``torch.distributed``; else nothing."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self.state_dict())
        merged = GroupMoments()
        for part in parts:
            merged.merge(GroupMoments().load_state_dict(part))
        self.groups = merged.groups
        return self
