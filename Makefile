# Every target works on a fresh Debian machine with Python 3.11: the venv and packages are made here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test check bench soak system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev,requests,metrics,parquet,pandas,polars,robots,warc]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

system-packages:
	bash scripts/system-packages.sh

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) system-packages
	$(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	bash scripts/system-packages.sh bench
	$(PY) -m compileall -q src  # start-up is measured: not the compiling that PYTHONDONTWRITEBYTECODE forces
	$(PY) bench/run.py

soak: $(STAMP) system-packages
	$(PY) -m pytest -q -m slow -s

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache bench/work
