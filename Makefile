# Every target creates .venv with python3 and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo docs bench fuzz lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,docs,examples]"
	touch $@

$(VENV)/.examples-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[examples]"
	touch $@

$(VENV)/.bench-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[bench,examples]"
	touch $@

## test: lint, the whole pytest suite (doctests and docs snippets included), docs build
test: $(VENV)/.test-deps
	$(BIN)/ruff check srcdiff tests examples benchmarks
	MPLBACKEND=Agg $(BIN)/python -m pytest
	$(BIN)/mkdocs build --strict -q -d $(VENV)/site

## demo: train a small network on handwritten digits with srcdiff gradients
demo: $(VENV)/.examples-deps
	MPLBACKEND=Agg $(BIN)/python examples/train_mlp.py

## docs: build the documentation site into site/
docs: $(VENV)/.test-deps
	$(BIN)/mkdocs build --strict

## bench: time srcdiff against hand-written NumPy and the peers that are installed
bench: $(VENV)/.bench-deps
	MPLBACKEND=Agg $(BIN)/python benchmarks/run.py

## fuzz: a long campaign of the random-program fuzzer, every construct family, failures kept
fuzz: $(VENV)/.test-deps
	$(BIN)/python -m tests.fuzz_campaign --examples 2000 --out fuzz-failures.jsonl

lint: $(VENV)/.test-deps
	$(BIN)/ruff check srcdiff tests examples benchmarks

clean:
	rm -rf $(VENV) site build *.egg-info
