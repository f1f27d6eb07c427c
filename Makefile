# dlbook: two commands do all the set-up on a fresh machine.
#   make book     build the HTML book into _build/html (from stored notebook outputs)
#   make test     run everything: unit tests, every notebook (nbval), a strict book
#                 build, and the headless-browser checks of the built book
#   make execute  re-execute every notebook in place, refreshing stored outputs
# Each creates .venv and installs dlbook with its extras the first time.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build keeps set-up and CI fast; pass TORCH_SPEC=torch for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.dlbook-installed
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)

.PHONY: setup book test execute benchmarks clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[book,test]"
	touch $@

setup: $(STAMP)

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/_build/html/index.html"

test: setup
	$(BIN)/python -m pytest tests book --nbval-lax --nbval-current-env \
		-p no:cacheprovider --durations=10

execute: setup
	@for nb in $(NOTEBOOKS); do \
		echo "executing $$nb"; \
		( cd $$(dirname $$nb) && $(CURDIR)/$(BIN)/jupyter execute --inplace \
			$$(basename $$nb) ) || exit 1; \
	done

benchmarks: setup
	$(BIN)/python benchmarks/numpy_vs_torch.py
	$(BIN)/python benchmarks/roi_pool.py

clean:
	rm -rf _build .pytest_cache
