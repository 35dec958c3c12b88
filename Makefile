# Every target works on a fresh Debian machine with Python 3.11: the venv and packages are made here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The modules setup.py compiles, built beside their sources; made again when any source changes
# (a compiled module is checked against the types of all it imports).
COMPILED := src/multifetch/.compiled
SOURCES := $(shell find src/multifetch -name '*.py')

.PHONY: demo test check bench soak system-packages clean compiled pure wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'setuptools>=77'
	MULTIFETCH_PURE=1 $(PY) -m pip install --quiet -e '.[test,dev,requests,metrics,parquet,pandas,polars,robots,warc]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

compiled: $(COMPILED)

$(COMPILED): $(STAMP) setup.py $(SOURCES)
	$(PY) setup.py -q build_ext --inplace
	find src -name '*.so' -exec touch {} +  # built from the sources as they are now (tests/conftest.py)
	touch $@

# The same modules as Python: the compiled ones removed (``make compiled`` builds them again).
pure:
	find src -name '*.so' -delete
	rm -f $(COMPILED)

# A wheel to install elsewhere, compiled here (where every dependency's types are at hand).
wheel: $(STAMP)
	$(PY) -m pip wheel --quiet --no-build-isolation --no-deps --wheel-dir dist .

system-packages:
	bash scripts/system-packages.sh

demo: $(COMPILED)
	bash scripts/demo.sh

test: $(COMPILED) system-packages
	$(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/ruff check src tests bench setup.py
	$(VENV)/bin/mypy

bench: $(COMPILED)
	bash scripts/system-packages.sh bench
	$(PY) -m compileall -q src  # start-up is measured: not the compiling that PYTHONDONTWRITEBYTECODE forces
	$(PY) bench/run.py

soak: $(COMPILED) system-packages
	$(PY) -m pytest -q -m slow -s

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache bench/work $(COMPILED)
	find src -name '*.so' -delete
