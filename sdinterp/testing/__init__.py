"""Test helpers for sdinterp and for third-party adapters, samplers and scorers.

* :func:`check_adapter` — the adapter conformance suite (run it in your adapter's tests).
* :mod:`sdinterp.testing.planted` — a network with planted static/dynamic/joint/residual units.
"""

from sdinterp.testing.conformance import check_adapter, check_sampler

__all__ = ["check_adapter", "check_sampler"]
