# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

# torch is pinned to the CPU build first: an unpinned torch would pull a multi-gigabyte CUDA build.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# --force: the demo's folder (works/out/demo-2019/) is made again each time, never piled up.
demo: $(VENV)/.installed
	$(BIN)/sugarglass run works/demo.toml --force
	$(BIN)/sugarglass feelings works/demo.toml

test: $(VENV)/.installed-test
	$(BIN)/pytest

clean:
	rm -rf $(VENV) works/out works/*.sqlite*
