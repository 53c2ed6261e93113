# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0

.PHONY: demo test venv dev datasets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned and installed first: an unpinned requirement pulls the CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[dev,export,baselines]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# The embedded Fashion-MNIST subset: on digits the cell barely matters and the empty cell wins.
demo: venv
	$(BIN)/shrinknas search autoshrink --dataset fashion-mnist-mini --nodes 5 --candidates 4 --epochs 3 \
		--finetune-steps 32 --batch-size 32 --proxy-size 1000 --confirm-seeds 2 --seed 0 --out runs/demo --force-new
	$(BIN)/shrinknas show runs/demo -o runs/demo/cell.png
	$(BIN)/shrinknas runs plot runs/demo

test: dev
	$(BIN)/python -m pytest

# Optional real datasets from Debian (needs root or sudo): Fashion-MNIST and the fortunes corpus.
datasets:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist fortunes

clean:
	rm -rf $(VENV) runs .pytest_cache
