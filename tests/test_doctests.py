"""Docstring examples that claim an output must produce it."""

from __future__ import annotations

import doctest

import pytest

import sdinterp.estimate
import sdinterp.metric


@pytest.mark.parametrize("module", [sdinterp.metric, sdinterp.estimate])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
