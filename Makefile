# Fresh-machine entry points. `make demo` and `make test` set everything up first.
# torch/torchvision are installed with pip from this workplace's local wheel store
# (pip only: uv/poetry would download gigabytes); pyproject.toml declares ranges.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.xai-eval-installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: setup system-deps demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[test,real]'
	# foolbox's wheel carries 20 labelled ImageNet photos; we only read its files.
	$(PY) -m pip install -q --no-deps 'foolbox==3.3.4'
	# pytorch-grad-cam is a benchmark/test-only peer; its deps minus the GUI OpenCV.
	$(PY) -m pip install -q ttach opencv-python-headless scikit-learn
	$(PY) -m pip install -q --no-deps 'grad-cam>=1.5'
	# Metric peers for benchmarks/suite.py and the oracle tests; --no-deps keeps torch and
	# the headless OpenCV as they are (Quantus asks for the GUI opencv-python).
	$(PY) -m pip install -q cachetools pandas
	$(PY) -m pip install -q --no-deps 'quantus==0.6.0' 'torchcam==0.5.0'
	# timm architectures (no weights, so not its hub deps) for the automatic-layer tests.
	$(PY) -m pip install -q --no-deps 'timm>=1.0'
	# The example third-party plugin, installed the way a user installs one.
	$(PY) -m pip install -q --no-deps -e examples/xai-eval-example-plugin
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium + driver for the browser tests (Playwright drives /usr/bin/chromium).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

demo: setup
	$(VENV)/bin/xai-eval demo

# ruff, then the layer and plugin import contracts of .importlinter (docs/architecture.md).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

test: setup system-deps lint
	$(PY) -m pytest -q -n 2 || [ $$? -eq 5 ]

bench: setup
	$(PY) benchmarks/explainers.py

clean:
	rm -rf $(VENV) build *.egg-info
