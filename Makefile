# The two commands of the README:
#   make demo   set everything up, generate synthetic data, adapt, print the report (CPU)
#   make test   set everything up, lint, run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint clean-venv

setup:
	@VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)
