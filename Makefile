# Everything runs inside .venv, created on first use from requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WARM   := $(VENV)/.numba-warm
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
UNIT   := $(BIN)/python -m pytest tests --ignore=tests/site -p no:nbval -o addopts="-p no:cacheprovider"

.PHONY: help install test unit quick book execute fp-check lab bench lint pretrained clean

# Every target, with the text after its "##": make help lists them all.
help:  ## this list
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "make %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# numba compiles the engine's loop over time on first use (about 5 s) and caches it on disk next
# to src/gru_tutorial/; one 100,000-bit sum through the command line (the path a user takes)
# compiles it now, so that the first long `gru-tutorial add` does not. Redone when src/ changes,
# since an edited kernel's cache is stale.
$(WARM): $(STAMP) $(wildcard src/gru_tutorial/*.py)
	$(BIN)/python -c "import sys; sys.set_int_max_str_digits(0); print(2**100000 - 1); print(1)" \
		| $(BIN)/gru-tutorial add - > /dev/null
	touch $(WARM)

install: $(WARM)  ## create .venv, install the pinned environment, compile numba's kernels
	@:

# --all: an incremental build rewrites only changed pages, so after adding or renaming a chapter
# the other pages kept a sidebar and previous/next links without it (found by tests/site).
book: $(WARM)  ## install (first time) and build the site into _build/html
	$(BIN)/jupyter-book build . --all -W -n --keep-going

test: book  ## install, build, run unit tests + notebook checks (nbval) + site tests (~10 min)
	$(BIN)/python -m pytest

unit: $(STAMP)  ## all the unit tests (tests/, no notebooks, no browser; several minutes)
	$(UNIT)

quick: $(STAMP)  ## the unit tests not marked slow: the edit-test loop (~1.5 min)
	$(UNIT) -m "not slow"

# Each notebook's first cell imports gru_tutorial, which quiets TensorFlow and seeds the run.
execute: $(STAMP)  ## re-run every notebook in place to refresh its stored outputs
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 $(NOTEBOOKS)
	$(BIN)/nbstripout --keep-output --keep-count $(NOTEBOOKS)

# The README's rule "Stored outputs on every CPU": run before committing re-executed notebooks.
fp-check: $(STAMP)  ## re-run the notebooks on other floating-point paths; diff their outputs
	$(BIN)/python benchmarks/fp_paths.py

lab: $(STAMP)  ## open JupyterLab on book/ in the project's environment
	$(BIN)/jupyter lab book/

bench: book  ## build the site, run the benchmarks (minutes), write benchmarks/results/
	$(BIN)/python benchmarks/run_all.py

# The bundled model is exactly what this produces; tests/test_train.py checks it.
pretrained: $(STAMP)  ## retrain the bundled model (small recipe, seed 0)
	$(BIN)/gru-tutorial train --recipe small --seed 0 --quiet --force --out src/gru_tutorial/pretrained

lint: $(STAMP)  ## ruff on src, tests, benchmarks and book
	$(BIN)/ruff check src tests benchmarks book

clean:  ## remove _build (the site and its screenshots)
	rm -rf _build
