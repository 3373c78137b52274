# The two commands a new user runs: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.sdinterp-installed
TEST_STAMP := $(VENV)/.sdinterp-test-fixtures
DEV_STAMP := $(VENV)/.sdinterp-dev-tools
# A pinned CPU torch first: unpinned torch (or a package asking for it) would pull the CUDA stack.
TORCH_PIN ?= torch==2.13.0
# pip's exit status must survive the filter of the environment's 'WARNING: Location' noise: recipes
# run under bash with pipefail, and the filter itself never fails (grep exits 1 when it prints nothing).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
QUIET := 2>&1 | { grep -v '^WARNING: Location' || true; }
# Directories the linters read.
LINTED := sdinterp tests benchmarks

.PHONY: demo test test-fast lint install clean bench

# The package and its dependencies (docs/install.md explains the order).
$(STAMP): pyproject.toml setup.py requirements/base.txt requirements/nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "setuptools>=68" $(TORCH_PIN) $(QUIET)
	$(PIP) install -q -r requirements/base.txt $(QUIET)
	$(PIP) install -q --no-deps -r requirements/nodeps.txt $(QUIET)
	$(PIP) install -q --no-deps -e . $(QUIET)
	$(PY) -c "from sdinterp.adapters._compat import ensure_video_stack; ensure_video_stack(); import torch, torchvision, pytorchvideo, mmaction.models; print('installed: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

# Test fixtures only `make test` installs: the example third-party plugin adds a sampler, a scorer
# and a model family to the environment, which a user's `make demo` must not get.
$(TEST_STAMP): $(STAMP) tests/plugin_dist/pyproject.toml tests/plugin_dist/sdinterp_example_plugin/__init__.py
	$(PIP) install -q --no-deps ./tests/plugin_dist $(QUIET)
	$(PY) -c "import sdinterp_example_plugin"
	touch $(TEST_STAMP)

# ruff and mypy (requirements/dev.txt).
$(DEV_STAMP): $(STAMP) requirements/dev.txt
	$(PIP) install -q -r requirements/dev.txt $(QUIET)
	touch $(DEV_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sdinterp demo

# Everything: the tests and the package's docstring examples (pyproject.toml [tool.pytest.ini_options]).
test: $(TEST_STAMP) $(DEV_STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# For iteration: all but the tests marked slow (model zoos, the MMAction2 config walk, trained-model
# studies); under 4 minutes on 2 cores.
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

# Lint, format and types (configured in pyproject.toml); .ci/run runs this before the tests. All
# three run, so one CI log shows every complaint; any failure fails the target.
lint: $(DEV_STAMP)
	status=0; \
	$(VENV)/bin/ruff check $(LINTED) || status=1; \
	$(VENV)/bin/ruff format --check $(LINTED) || status=1; \
	$(VENV)/bin/mypy || status=1; \
	exit $$status

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
