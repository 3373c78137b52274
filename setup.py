"""Package discovery: one source tree, ``sdinterp/`` (everything else is in pyproject.toml).

The folders show the architecture: the core at ``sdinterp/`` (with ``data/``, ``scoring/``,
``pipeline/``, ``report/``), then ``sdinterp/adapters/`` and ``sdinterp/plugins/`` above it;
tests/test_packaging.py checks that the core never imports either.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["sdinterp", "sdinterp.*"]))
