"""Shared fixtures of the suite, and the rule that a shipped feature's test never skips in CI.

Fixtures:
    shared_dir, shared_videos: ``../shared`` and its real clips (module constants: ``tests/_paths.py``).
    single_thread: one torch thread for a whole module; opt in with
        ``pytestmark = pytest.mark.usefixtures("single_thread")``.
    tiny_model: ``tiny_model("i3d-motion")`` is the embedded seed-0 net ``load_model("tiny:i3d-motion")``
        (docs/tiny_models.md); ``sdinterp.adapt`` it for an adapter.
    example_model: the example third-party plugin's model (``example:tiny``; tests/plugin_dist,
        which ``make test`` installs).

CI: when the environment variable ``CI`` is set (GitHub, GitLab and .ci/run set it), a skipped test
or a skipped module (``pytest.importorskip`` of a shipped family's package) is reported as a
failure: a green run must mean the feature was tested. The only skips allowed are those of tests
marked ``@pytest.mark.optional_env("why")``, for what a machine may lack (a browser, a GPU).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _paths import SHARED, VIDEOS


def in_ci() -> bool:
    """``CI`` set to anything but an empty string, ``0`` or ``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def _skip_reason(longrepr: Any) -> str:
    # A skip's longrepr is (file, line, "Skipped: reason"); anything else is printed as it is.
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _as_ci_failure(report: Any, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{what} skipped under CI ({_skip_reason(report.longrepr)}): tests of shipped features must run. "
        "Install what it needs (the Makefile installs every shipped family), or, for what a machine may lack "
        '(a browser, a GPU), mark the test @pytest.mark.optional_env("why").'
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if (
        in_ci()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("optional_env") is None
    ):
        _as_ci_failure(report, f"test {item.nodeid}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report = yield
    # A module-level importorskip skips the whole module before any marker can be read.
    if in_ci() and report.outcome == "skipped":
        _as_ci_failure(report, f"module {collector.nodeid}")
    return report


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository."""
    return SHARED


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    """The folder of real clips (vtest.avi, tree.avi, concert_176x144.mp4)."""
    return VIDEOS


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """Run a test module's forwards on one thread.

    On the 2-core machines, a parallel op waits for both threads; when another process holds one
    core, every op stalls for a scheduler time slice (measured: a SlowFast forward went from 0.15 s
    to 4.7 s). One thread keeps the test time predictable; results do not depend on it.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_model() -> Callable[..., Any]:
    """``tiny_model("i3d-motion", **options)``: an embedded tiny net with its seed-0 weights (no download)."""
    import sdinterp

    def load(name: str = "i3d-motion", **options: Any) -> Any:
        return sdinterp.load_model(f"tiny:{name}", **options)

    return load


@pytest.fixture
def example_model() -> Any:
    """``load_model("example:tiny")``: the example plugin's model (a fresh one per test)."""
    import sdinterp

    return sdinterp.load_model("example:tiny")
