# Every target bootstraps its own virtual environment (.venv) from setup.cfg.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(EXTRAS)
EXTRAS ?= test

.PHONY: figures figures-full test bench clean

$(VENV)/.installed-%: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

figures: $(VENV)/.installed-test
	$(PY) -m pde_sgd.cli figures

figures-full: $(VENV)/.installed-test
	$(PY) -m pde_sgd.cli figures --full

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

bench: $(VENV)/.installed-bench
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info figures/out
