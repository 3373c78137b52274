"""``StaticDropout``: drop the channels that encode static information (paper Sec. 5.2, Eq. 4;
``docs/method.md`` §5).

A drop-in replacement for the dropout before the classifier. It keeps the running moments of
(clip, frame-shuffled clip) feature pairs at its own input — fed by :meth:`StaticDropout.observe`,
usually from a :class:`~sdinterp.plugins.static_dropout.StaticDropoutFeeder` (plain PyTorch) or the
MMEngine ``StaticDropoutHook`` — and, on :meth:`refresh`, turns them into per-channel static scores
S_i with the project's estimator (:class:`~sdinterp.stats.PairMoments` and a registered scorer, the
official one by default) and the drop probabilities p_i = exp(S_i / T) / Σ_k exp(S_k / T) (Eq. 4 at
T = 1; InfoDrop-style power sharpening p_i ∝ ((1 + S_i) / 2)^(1/T) with ``sharpen="power"``). In
training mode each sample loses k = round(r · C) channels drawn from Multinomial(p), without
replacement by default; in evaluation mode it is the identity.

Why a temperature: unit scores lie in [-1, 1], so Eq. 4 at T = 1 keeps every p_i within e^2 = 7.4x
of every other, and a trained net's scores are far closer than that (a motion net's stage3: S in
[0.37, 0.53], static units dropped 1.06-1.08x as often as the others, measured in issue #22): the
dropout then barely selects. InfoDrop, which the paper follows, sharpens its distribution with a
temperature (0.03) and draws with replacement. The default here is T = 0.1 (see the class);
``docs/controlling_bias.md`` has the measured effect of each option.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from sdinterp.errors import DegenerateLayerError
from sdinterp.interfaces import Factor
from sdinterp.scoring import get_scorer
from sdinterp.stats import PairMoments

__all__ = ["StaticDropout", "static_channel_scores", "drop_probabilities", "SHARPEN"]

#: How the scores become drop probabilities: ``softmax`` (Eq. 4 with a temperature) or ``power``
#: (InfoDrop's sharpening of a probability-like score, here (1 + S) / 2, by the power 1 / T).
SHARPEN = ("softmax", "power")


def static_channel_scores(moments: PairMoments, scorer: str = "official") -> torch.Tensor:
    """Per-channel static scores S_i from the moments of static pairs (0 for constant channels).

    The unit score s_stat of a scorer reads only the static factor's moments, so the same moments
    stand in for the dynamic factor the scorer's interface also asks for; only ``unit_scores["static"]``
    is used. A layer whose every channel is constant scores 0 everywhere (uniform drop probabilities).
    """
    try:
        bias = get_scorer(scorer).score("static_dropout", {Factor.DYNAMIC: moments, Factor.STATIC: moments})
    except DegenerateLayerError:
        return torch.zeros(int(moments.dim or 0), dtype=torch.float64)
    return torch.as_tensor(bias.unit_scores["static"], dtype=torch.float64)


def drop_probabilities(scores: torch.Tensor, temperature: float = 1.0, sharpen: str = "softmax") -> torch.Tensor:
    """Per-channel drop probabilities from static scores S (paper Eq. 4 at ``temperature=1``).

    Args:
        scores: (C,) static unit scores in [-1, 1].
        temperature: T > 0; below 1 sharpens (the most static channels take more of the mass).
        sharpen: ``"softmax"``: p = softmax(S / T); ``"power"``: p ∝ ((1 + S) / 2)^(1/T), as InfoDrop
            raises its patch likelihoods to 1 / T (a channel with S = -1 is then never dropped;
            all-zero weights fall back to uniform).

    Returns:
        (C,) probabilities summing to 1.

    Examples:
        >>> import torch
        >>> s = torch.tensor([0.5, 0.4])
        >>> round(float(drop_probabilities(s)[0] / drop_probabilities(s)[1]), 3)  # Eq. 4: e^0.1
        1.105
        >>> round(float(drop_probabilities(s, 0.1)[0] / drop_probabilities(s, 0.1)[1]), 3)  # e^1
        2.718
    """
    if not float(temperature) > 0:
        raise ValueError(f"StaticDropout temperature must be > 0, got {temperature!r}")
    if sharpen == "softmax":
        return torch.softmax(scores / float(temperature), dim=0)  # softmax subtracts the maximum
    if sharpen == "power":
        q = ((1.0 + scores.double()) / 2.0).clamp(0.0, 1.0)
        # in log space: q^(1/T) underflows for small T
        logw = torch.where(q > 0, torch.log(q.clamp_min(1e-300)) / float(temperature), torch.full_like(q, -torch.inf))
        if torch.isinf(logw).all():
            return torch.full_like(scores, 1.0 / len(scores))
        return torch.softmax(logw, dim=0).to(scores.dtype)
    raise ValueError(f"StaticDropout sharpen must be one of {', '.join(SHARPEN)}, got {sharpen!r}")


class StaticDropout(nn.Module):
    """Dropout of static channels, guided by the unit-wise static score (Kowal et al., Eq. 4).

    Args:
        rate: r, the fraction of channels dropped per sample: k = round(r · C).
        every: re-estimate the scores every this many iterations (30 in the paper).
        temperature: T of :func:`drop_probabilities`. Default 0.1, measured (issue #22; one pilot
            training seed, I3D-like net, r = 0.5, docs/controlling_bias.md): T = 1 (Eq. 4 as written)
            dropped the most static channel only 1.07x as often as the median one; T = 0.1 did so
            4-55x and kept the best accuracy on the shortcut split's validation set of the options
            tried (0.680, vs 0.664 at T = 1, 0.602 at T = 0.03, 0.586 with InfoDrop's power at
            T = 0.03 and replacement). ``temperature=1`` is the paper's literal Eq. 4.
        sharpen: ``"softmax"`` (Eq. 4 with T) or ``"power"`` (InfoDrop's 1/T power of (1 + S) / 2).
        window: how many recent batches of pairs the estimate uses (default: ``every``, i.e. every
            batch since the last estimate). Batches outside the window are not fed at all.
        replacement: draw the k channels with replacement (InfoDrop's choice; then fewer than k
            distinct channels may drop). Default: without replacement, exactly k.
        rescale: scale the kept channels by 1 / (1 - r), as standard (inverted) dropout does.
        scorer: the registered scorer whose static unit score is S_i (``"official"``, ``"pearson"``…).
        channel_dim: the axis of the channels (1 for (B, C) and (B, C, 1, 1, 1) inputs).

    Examples:
        >>> import torch
        >>> drop = StaticDropout(rate=0.5)
        >>> out = drop.train()(torch.ones(2, 4))
        >>> (out == 0).sum(dim=1).tolist(), out.max().item()
        ([2, 2], 2.0)
        >>> drop.eval()(torch.ones(2, 4)).tolist()
        [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """

    #: Read by code that strips dropouts (e.g. the tiny nets' fine-tune) without importing this class.
    is_dropout = True

    def __init__(
        self,
        rate: float = 0.3,
        every: int = 30,
        window: int | None = None,
        temperature: float = 0.1,
        sharpen: str = "softmax",
        replacement: bool = False,
        rescale: bool = True,
        scorer: str = "official",
        channel_dim: int = 1,
    ):
        super().__init__()
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"StaticDropout rate must be in [0, 1), got {rate}")
        for name, value in (("every", every), ("window", window)):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"StaticDropout {name} must be a positive integer, got {value!r}")
        get_scorer(scorer)  # an unknown scorer fails now, not at the first refresh
        drop_probabilities(torch.zeros(1), temperature, sharpen)  # so do a bad temperature or sharpening
        self.temperature, self.sharpen = float(temperature), str(sharpen)
        self.rate, self.every = float(rate), int(every)
        self.window = int(window) if window is not None else self.every
        self.replacement, self.rescale, self.scorer, self.channel_dim = (
            bool(replacement),
            bool(rescale),
            scorer,
            int(channel_dim),
        )
        self._recent: collections.deque[PairMoments] = collections.deque(maxlen=self.window)
        self._recording: list[torch.Tensor] | None = None
        #: The iterations at which the scores were re-estimated (for logs and tests).
        self.refreshed_at: list[int] = []
        #: The latest static scores S (None before the first estimate: then p is uniform).
        self.scores: torch.Tensor | None = None
        # Not persistent: checkpoints of a StaticDropout model load into the same model with nn.Dropout.
        self.probs: torch.Tensor
        self.register_buffer("probs", torch.empty(0), persistent=False)

    # -- the schedule ------------------------------------------------------------------------------
    def wants_pairs(self, iteration: int) -> bool:
        """Whether the batch of ``iteration`` (counted from 0) falls in the window of the next estimate."""
        due = -(-int(iteration) // self.every) * self.every  # the next refresh at or after this iteration
        return due - int(iteration) < self.window

    def due(self, iteration: int) -> bool:
        """Whether the scores are re-estimated before ``iteration`` (0, every, 2·every, …)."""
        return int(iteration) % self.every == 0

    # -- the estimate ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def recording(self) -> Iterator[list[torch.Tensor]]:
        """Collect this module's inputs (one (B, C) tensor per forward) and pass them through unchanged."""
        self._recording = []
        try:
            yield self._recording
        finally:
            self._recording = None

    def observe(self, z1: torch.Tensor, z2: torch.Tensor) -> None:
        """Add one batch of pairs: features of the clips (``z1``) and of their frame-shuffled copies (``z2``)."""
        a, b = self._pooled(z1), self._pooled(z2)
        self._recent.append(PairMoments(name="static_dropout").update(a, b))

    def refresh(self, iteration: int | None = None) -> torch.Tensor:
        """Re-estimate S from the recent batches (no gradient) and set p (:func:`drop_probabilities`); returns p."""
        if not self._recent:
            raise RuntimeError(
                "StaticDropout.refresh: no pairs observed yet; feed (clip, shuffled clip) features with observe()"
            )
        moments = PairMoments.merged(self._recent, name="static_dropout")
        self.scores = static_channel_scores(moments, self.scorer).float()
        probs = drop_probabilities(self.scores, self.temperature, self.sharpen)  # Eq. 4 (T = 1)
        self.probs = probs.to(self.probs.device)  # the buffer follows model.to(device), empty or not
        self.refreshed_at.append(-1 if iteration is None else int(iteration))
        return self.probs

    def _pooled(self, z: torch.Tensor) -> torch.Tensor:
        z = z.detach().movedim(self.channel_dim, 1)
        return z.float().mean(dim=tuple(range(2, z.dim()))) if z.dim() > 2 else z.float()

    # -- the forward -------------------------------------------------------------------------------
    def drop_mask(
        self, batch: int, channels: int, device: torch.device, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A (batch, channels) mask: 0 for the dropped channels, 1 elsewhere."""
        k = int(round(self.rate * channels))
        mask = torch.ones(batch, channels, device=device)
        if k == 0:
            return mask
        if self.probs.numel() not in (0, channels):
            raise ValueError(f"StaticDropout was estimated on {self.probs.numel()} channels but got {channels}")
        probs = self.probs.to(device) if self.probs.numel() else torch.full((channels,), 1.0 / channels, device=device)
        idx = torch.multinomial(probs.expand(batch, channels), k, replacement=self.replacement, generator=generator)
        return mask.scatter_(1, idx, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._recording is not None:
            self._recording.append(x.detach())
            return x
        if not self.training or self.rate == 0.0:
            return x
        channels = x.shape[self.channel_dim]
        mask = self.drop_mask(x.shape[0], channels, x.device)
        shape = [1] * x.dim()
        shape[0], shape[self.channel_dim] = x.shape[0], channels
        out = x * mask.view(shape).to(x.dtype)
        return out / (1.0 - self.rate) if self.rescale else out

    def extra_repr(self) -> str:
        return (
            f"rate={self.rate}, every={self.every}, window={self.window}, temperature={self.temperature}, "
            f"sharpen={self.sharpen!r}, replacement={self.replacement}, "
            f"rescale={self.rescale}, scorer={self.scorer!r}"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": "StaticDropout",
            "rate": self.rate,
            "every": self.every,
            "window": self.window,
            "temperature": self.temperature,
            "sharpen": self.sharpen,
            "replacement": self.replacement,
            "rescale": self.rescale,
            "scorer": self.scorer,
            "refreshed_at": list(self.refreshed_at),
        }
