# The README's two commands are `make demo` and `make test`; both set themselves up.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help setup demo test lint fmt-check bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(VENV)/.installed  ## virtual environment, pinned packages, system graphviz and chromium

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v dot >/dev/null 2>&1 || { echo "installing graphviz (dot)"; \
	  (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || \
	  echo "warning: could not install graphviz; diagrams will be written as .dot only"; }
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  { echo "installing chromium and chromedriver (the diagram viewer's browser test)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	  echo "warning: could not install chromium; the viewer's browser test will be skipped"; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: setup  ## compile, train and evaluate the digits classifier, render its diagram
	$(BIN)/python examples/demo.py

test: setup  ## the whole test suite (a file's tests on one worker: its module fixtures run once)
	@# bytecode for the package even where PYTHONDONTWRITEBYTECODE is set: the suite starts
	@# many processes, and each would otherwise compile every seqnet module again; and pytest
	@# may keep its assertion-rewritten test modules (7 s of CPU a worker on every later run)
	$(BIN)/python -m compileall -q seqnet examples benchmarks
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

lint: setup  ## ruff
	$(BIN)/ruff check seqnet tests benchmarks examples

fmt-check: setup  ## every shipped spec is valid and canonically formatted
	$(BIN)/seqnet check -q specs/*.seqnet && $(BIN)/seqnet fmt --check specs/*.seqnet specs/lib/*.seqnet

bench: setup  ## the benchmarks (slow)
	$(BIN)/python benchmarks/frontend.py && $(BIN)/python benchmarks/render.py

clean:  ## remove the virtual environment, runs and caches
	rm -rf $(VENV) runs .pytest_cache
