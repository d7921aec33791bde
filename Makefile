# `make run` and `make test` do all set-up themselves on a fresh Linux machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install run test lint format constraints bench clean

# constraints.txt pins every package to the versions CI last tested (`make constraints`).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m hosting.devserver

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# What .ci/run checks before the tests: lint, formatting, types, and the import contracts.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# After changing dependencies in pyproject.toml: record what is installed now as the new pins.
constraints: install
	$(PY) -m pip freeze --exclude-editable | grep -v '^#' > constraints.txt

bench: install
	$(PY) bench/overhead.py && $(PY) bench/streaming.py && $(PY) bench/environments.py

clean:
	rm -rf $(VENV) var
