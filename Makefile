# The two commands a new user runs: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.sdinterp-installed
TEST_STAMP := $(VENV)/.sdinterp-test-fixtures
# A pinned CPU torch first: unpinned torch (or a package asking for it) would pull the CUDA stack.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test install clean bench

# The package and its dependencies (docs/install.md explains the order).
$(STAMP): pyproject.toml setup.py requirements/base.txt requirements/nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "setuptools>=68" $(TORCH_PIN) 2>&1 | grep -v '^WARNING: Location' || true
	$(PIP) install -q -r requirements/base.txt 2>&1 | grep -v '^WARNING: Location' || true
	$(PIP) install -q --no-deps -r requirements/nodeps.txt 2>&1 | grep -v '^WARNING: Location' || true
	$(PIP) install -q --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c "from sdinterp.adapters._compat import ensure_video_stack; ensure_video_stack(); import torch, torchvision, pytorchvideo, mmaction.models; print('installed: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

# Test fixtures only `make test` installs: the example third-party plugin adds a sampler, a scorer
# and a model family to the environment, which a user's `make demo` must not get.
$(TEST_STAMP): $(STAMP) tests/plugin_dist/pyproject.toml tests/plugin_dist/sdinterp_example_plugin/__init__.py
	$(PIP) install -q --no-deps ./tests/plugin_dist 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c "import sdinterp_example_plugin"
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sdinterp demo

test: $(TEST_STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
