# The two commands of the README, and what they need. Each creates its own
# virtual environment; nothing beyond Python and the database servers is
# assumed. See DEVELOPERS.md.

PYTHON ?= python3
VENV ?= .venv
# The Django release the environment is built for (the CI's second leg sets 6.1).
DJANGO ?= Django>=5.2,<5.3
# Backends the suite runs on, one pytest session each.
DATABASES ?= sqlite postgres mysql
# Set SKIP_LINT=1 to skip ruff and mypy (the CI's second leg does). Not named
# LINT: GNU make predefines that variable, so `LINT ?= 1` would never apply.
SKIP_LINT ?=
PYTEST_ARGS ?=
# pytest-xdist workers per session (0: none). Two halve the suite's time on a
# two-core machine (CI's); the tests share no state between processes.
PYTEST_WORKERS ?= 2

BIN := $(VENV)/bin
STAMP := $(VENV)/.djperf-installed

.PHONY: demo test lint venv clean check-package

demo: $(STAMP)
	$(BIN)/python -m djperf demo

test: $(STAMP)
ifeq ($(SKIP_LINT),)
	$(MAKE) --no-print-directory lint
endif
	@set -e; for db in $(DATABASES); do \
		echo "== tests on $$db (Django $$($(BIN)/python -c 'import django; print(django.get_version())'), Python $$($(BIN)/python -c 'import platform; print(platform.python_version())'))"; \
		DJPERF_TEST_DB=$$db $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); \
	done

lint: $(STAMP)
	$(BIN)/ruff check src tests example benchmarks scripts
	$(BIN)/ruff format --check src tests example benchmarks scripts
	PYTHONPATH=. $(BIN)/mypy

venv: $(STAMP)

# The package as a user gets it: a wheel built from this checkout, installed
# in a new virtual environment, and the README's "Use it in your project"
# snippets run there on a new Django project (scripts/check_package.py).
check-package: $(STAMP)
	$(BIN)/python scripts/check_package.py --django '$(DJANGO)'

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -e '.[demo]' --group dev '$(DJANGO)'
	touch $(STAMP)

clean:
	rm -rf .venv .venv-* example/djperf_shop.sqlite3 .pytest_cache .mypy_cache .ruff_cache

# benchmarks/batch.py (seed 000's recompute methods and djperf's, on the three
# backends; writes docs/batch-benchmark.png) in a venv of its own: matplotlib is
# no dependency of djperf. E.g. BENCH_ARGS='--sizes 5000' for a quick run.
BENCH_ARGS ?= --timeout 600 --per-row-timeout 300 --json benchmarks/results/batch.json
.PHONY: bench-batch
bench-batch:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet --quiet -e '.[demo]' --group dev matplotlib '$(DJANGO)'
	.venv-bench/bin/python benchmarks/batch.py $(BENCH_ARGS)
