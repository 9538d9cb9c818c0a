# Everything runs inside .venv, created on first use from requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

.PHONY: help install test unit book execute lab bench lint pretrained clean

help:
	@echo "make test     install (first time) and run unit tests, notebook checks (nbval) and site tests"
	@echo "make book     install (first time) and build the site into _build/html"
	@echo "make execute  re-run every notebook in place to refresh its stored outputs"
	@echo "make lab      open JupyterLab in the project's environment"
	@echo "make bench    run the benchmarks (minutes) and write benchmarks/results/"
	@echo "make lint     ruff"
	@echo "make pretrained  retrain the model bundled with the package (small recipe, seed 4)"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# --all: an incremental build rewrites only changed pages, so after adding or renaming a chapter
# the other pages kept a sidebar and previous/next links without it (found by tests/site).
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going

test: $(STAMP) book
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/site -p no:nbval -o addopts="-p no:cacheprovider"

# Each notebook's first cell imports gru_tutorial, which quiets TensorFlow and seeds the run.
execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 $(NOTEBOOKS)
	$(BIN)/nbstripout --keep-output --keep-count $(NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab book/

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The bundled model is exactly what this produces; tests/test_train.py checks it.
pretrained: $(STAMP)
	$(BIN)/gru-tutorial train --recipe small --seed 4 --quiet --out src/gru_tutorial/pretrained

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks book

clean:
	rm -rf _build
