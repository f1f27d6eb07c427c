# dlbook: two commands do all the set-up on a fresh machine.
#   make book     build the HTML book into _build/html (from stored notebook outputs)
#   make test     run everything: unit tests, every notebook (nbval), a strict book
#                 build, and the headless-browser checks of the built book
#   make execute  re-execute every notebook in place, refreshing stored outputs
#   make setup-cells  rewrite every notebook's Colab setup cell from the version
#                 in dlbook/__init__.py and the repository URL in _config.yml
# Each creates .venv and installs dlbook with the extras it needs the first time.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build keeps set-up and CI fast. On an ordinary Linux machine PyPI's
# torch wheel is the CUDA build (several GB); for the CPU build name PyTorch's
# CPU index: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# For a CUDA build on a GPU machine: make book TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
TORCH_PIP_ARGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
BOOK_STAMP := $(VENV)/.dlbook-book-installed
STAMP := $(VENV)/.dlbook-installed
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)

.PHONY: setup book test execute benchmarks setup-cells clean

# `make book` installs what the build needs: dlbook and its dependencies (the API
# reference imports the package) and the pinned book tools, not the test tools.
$(BOOK_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[book]"
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[book,test]"
	touch $(BOOK_STAMP) $@

setup: $(STAMP)

book: $(BOOK_STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/_build/html/index.html"

# Two workers, one thread each: most cells are small NumPy/torch ops that gain
# nothing from a second thread, so two notebooks at once nearly halve the run on
# a 2-core machine. --dist loadfile keeps each notebook's cells in one kernel.
TEST_WORKERS ?= 2
test: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} \
	$(BIN)/python -m pytest tests book --nbval-lax --nbval-current-env \
		-n $(TEST_WORKERS) --dist loadfile -p no:cacheprovider --durations=10

execute: setup
	@for nb in $(NOTEBOOKS); do \
		echo "executing $$nb"; \
		( cd $$(dirname $$nb) && env -u DLBOOK_SEED $(CURDIR)/$(BIN)/jupyter execute --inplace \
			$$(basename $$nb) ) || exit 1; \
	done

setup-cells: setup
	$(BIN)/python -m dlbook._book.setup_cells --write

benchmarks: setup
	$(BIN)/python benchmarks/numpy_vs_torch.py
	$(BIN)/python benchmarks/roi_pool.py

clean:
	rm -rf _build .pytest_cache
