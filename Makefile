# `make run` and `make test` do all set-up themselves on a fresh Linux machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install run test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m hosting.devserver

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/overhead.py && $(PY) bench/streaming.py

clean:
	rm -rf $(VENV) var
