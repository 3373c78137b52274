"""Docstring examples of the video, flow, sampler and restyler modules produce what they claim."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = [
    "sdinterp.data.video",
    "sdinterp.data.clips",
    "sdinterp.data.flow",
    "sdinterp.plugins.samplers.flow_jitter",
    "sdinterp.plugins.restylers",
    "sdinterp.plugins.samplers.basic",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
