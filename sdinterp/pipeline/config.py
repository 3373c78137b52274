"""``RunConfig``: how a run is carried out (pairs, batching, seed, protocol, saving, workers)."""

from __future__ import annotations

import dataclasses
import numbers
import os
from typing import Any

__all__ = ["RunConfig"]


#: Most pairs per factor one run plans (each clip's plan is held in memory: ~200 bytes).
MAX_PAIRS = 10_000_000
#: Most bootstrap replicates (each holds 5 float64 numbers per unit, layer and factor).
MAX_REPLICATES = 100_000


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The options of one run of :class:`~sdinterp.StaticDynamic`.

    Attributes:
        n_pairs: under ``shared-anchor``, pairs per factor (one clip gives one pair of each);
            under ``official``, pairs in total (each clip's factor drawn 50/50, the reference's
            ``n_examples``). Clip ``i`` of the run is ``data[i % len(data)]``.
        batch_size: videos per forward pass (anchors and partners together).
        seed: every random choice of clip ``i`` comes from ``default_rng([seed, i])``, so a seed
            gives the same report bit for bit, also after interrupt + resume.
        protocol: a registered pair protocol (``"shared-anchor"`` default, ``"official"``) or a
            :class:`~sdinterp.interfaces.PairProtocol`.
        show_progress: show a progress bar.
        resume: a run-state file: progress is saved there every ``save_every`` batches (and on
            Ctrl-C), and a run of the same configuration resumes from it.
        save_every: batches between saves of the run state.
        num_workers: DataLoader worker processes that read clips ahead of the forwards (clips are
            still consumed in order, so the result does not depend on it).
        early_exit: stop each forward once every requested layer has been captured (the numbers
            are the same; a report on early layers does not pay for the rest of the network).
        bootstrap: B, Poisson-bootstrap replicates carried in the moments (0 = off, the default:
            the report is then exactly as without the option). The counts are drawn per source
            video (a cluster bootstrap: clips of one video share them) from
            ``default_rng([seed, video key, WEIGHT_STREAM])``, so the replicates do not depend on
            batch size, sharding or resume (docs/confidence.md).
        bootstrap_level: the two-sided level of the bootstrap intervals (0.95).
        prefetch: batches whose data side (decoding, pairs, ``adapter.prepare``) is made ahead of
            the forwards by a background thread (0: in the forward loop). The report does not
            depend on it.
        validity: run the validity check (docs/validity.md) beside the measurement.
        pair_device: where pairs are made: ``"auto"`` (the model's device when it is not the CPU and
            the adapter and samplers can work there; else the host), ``"host"`` (numpy frames on the
            CPU), or a device name (``"cuda:0"``, ``"cpu"``). A report made on a device records it
            (docs/method.md, "Pairs on the model's device").
    """

    n_pairs: int = 64
    batch_size: int = 8
    seed: int = 0
    protocol: Any = "shared-anchor"
    show_progress: bool = True
    resume: str | os.PathLike[str] | None = None
    save_every: int = 10
    num_workers: int = 0
    early_exit: bool = True
    bootstrap: int = 0
    bootstrap_level: float = 0.95
    prefetch: int = 2
    validity: bool = True
    pair_device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("n_pairs", "batch_size", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("num_workers", "prefetch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        # as --seed: every random stream (numpy's default_rng, torch.manual_seed) takes 0 .. 2**32 - 1
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, numbers.Integral)
            or not 0 <= self.seed <= 2**32 - 1
        ):
            raise ValueError(f"seed must be an integer from 0 to 4294967295 (2**32 - 1), got {self.seed!r}")
        if not isinstance(self.pair_device, str) or not self.pair_device:
            raise ValueError(f"pair_device must be 'auto', 'host' or a device name, got {self.pair_device!r}")
        if self.pair_device not in ("auto", "host"):
            import torch

            try:
                torch.device(self.pair_device)
            except (RuntimeError, ValueError) as exc:
                raise ValueError(
                    f"pair_device must be 'auto', 'host' or a device name such as 'cuda:0', got {self.pair_device!r}"
                ) from exc
        if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int) or self.bootstrap < 0:
            raise ValueError(f"bootstrap must be 0 (off) or a positive number of replicates, got {self.bootstrap!r}")
        # Counts that would allocate before any work: refused here, naming the limit.
        if self.n_pairs > MAX_PAIRS:
            raise ValueError(
                f"n_pairs={self.n_pairs} is more than {MAX_PAIRS:,} pairs per factor, which the run plan "
                "cannot hold; split the run (e.g. shards merged with MomentStore.merge)"
            )
        if self.bootstrap > MAX_REPLICATES:
            raise ValueError(
                f"bootstrap={self.bootstrap} is more than {MAX_REPLICATES:,} replicates; a percentile "
                "interval needs about 1,000 (docs/confidence.md), and each replicate costs memory per unit"
            )
        if not isinstance(self.bootstrap_level, (int, float)) or not 0.0 < float(self.bootstrap_level) < 1.0:
            raise ValueError(f"bootstrap_level must be a number strictly between 0 and 1, got {self.bootstrap_level!r}")

    @classmethod
    def from_options(cls, config: RunConfig | None = None, **options: Any) -> RunConfig:
        """A config from another one and/or keyword options."""
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise TypeError(f"unknown run option(s) {', '.join(unknown)}; valid: {valid}")
        base = config if config is not None else cls()
        return dataclasses.replace(base, **options) if options else base
