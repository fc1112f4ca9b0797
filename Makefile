# talk: set up, render the example, test, benchmark.
#
#   make demo    install what is needed (once), then render examples/ to out.mp4
#   make test    install what is needed (once), then run the test suite
#
# Everything lives in .venv; `make clean` removes it. Needs GNU make.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install; newer than pyproject.toml means "nothing to do".
STAMP := $(VENV)/.installed
# The interpreter that creates the venv: python3.11 where there is one, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
PIP_FLAGS ?=

.PHONY: help setup demo test bench clean

help:
	@echo "make demo    install (once) and render examples/face.jpg + examples/speech.wav to out.mp4"
	@echo "make test    install (once) and run the tests"
	@echo "make setup   create $(VENV) and install talk with its test dependencies"
	@echo "make bench   run benchmarks/speed.py"
	@echo "make clean   remove $(VENV) and caches"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x "$(BIN)/python" ]; then \
		if [ -z "$(PYTHON)" ]; then echo "error: neither python3.11 nor python3 found on PATH" >&2; exit 1; fi; \
		echo "creating $(VENV) with $(PYTHON)"; \
		"$(PYTHON)" -m venv "$(VENV)"; \
	fi
	$(BIN)/pip install $(PIP_FLAGS) -e ".[test,ray,languages]"
	$(BIN)/pip check
	@touch "$@"

demo: setup
	$(BIN)/talk render --ref examples/face.jpg --audio examples/speech.wav -o out.mp4 --overwrite

test: setup
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf "$(VENV)" .pytest_cache .hypothesis build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
