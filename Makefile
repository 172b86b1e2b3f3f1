# Every target bootstraps its own virtual environment (.venv) from setup.cfg. torch 2.13.0 is installed first,
# on its own: pip takes the CPU build (a plain range, with no torch installed, can pull a multi-GB CUDA build);
# setup.cfg's range then installs nothing more.
TORCH ?= torch==2.13.0
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
BENCH_VENV ?= .venv-bench

.PHONY: figures figures-full test bench docs notebooks clean

$(VENV)/.installed-test: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# peers (py-pde, fplanck, FiPy, hj-reachability/JAX) live in their own environment, never in the core one
$(BENCH_VENV)/.installed-bench: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[test,bench]"
	touch $@

figures: $(VENV)/.installed-test
	$(PY) -m pde_sgd.cli figures

figures-full: $(VENV)/.installed-test
	$(PY) -m pde_sgd.cli figures --full

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

# the site in docs/_build/html, offline: lessons executed (quick setting), gallery from figures/out or drawn
docs: $(VENV)/.installed-test
	$(PY) notebooks/lessons.py
	$(PY) -m sphinx -E -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# plain .ipynb lessons (no outputs) in build/notebooks, to open and run with live sliders in Jupyter
notebooks: $(VENV)/.installed-test
	$(PY) notebooks/lessons.py --no-execute

# every comparison on 1 thread and on all threads (0) on both sides, then the threading-layer / wait-policy
# table and the first calls with an empty Numba cache
BENCH_THREADS ?= 1 0
bench: $(BENCH_VENV)/.installed-bench
	for t in $(BENCH_THREADS); do for b in hj fokker_planck sde capture; do \
	    $(BENCH_VENV)/bin/python benchmarks/$$b.py --threads $$t || exit 1; done; done
	$(BENCH_VENV)/bin/python benchmarks/sweeps.py
	$(BENCH_VENV)/bin/python benchmarks/optim.py
	$(BENCH_VENV)/bin/python benchmarks/threads.py
	$(BENCH_VENV)/bin/python benchmarks/cold_start.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info figures/out docs/_build docs/_gallery docs/lessons docs/api.rst docs/reference docs/gallery.md animations
