# Two entry points: `make reproduce` runs the whole paper, `make test` runs the test suite.
# Both create .venv on first use and install byzsim into it with the pinned versions of
# requirements.lock, so that a rerun on another machine computes with the same libraries.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: reproduce quick test test-fast bench lock clean-results

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

# Every figure and table of the paper, from the LibSVM download to figures/.
reproduce: $(STAMP)
	$(BIN)/snakemake reproduce_all --cores all $(SNAKEMAKE_ARGS)

# The same DAG with the small grids and budgets of config/quick.yaml (a few minutes).
# The target comes first because --configfile takes every following word as a file.
quick: $(STAMP)
	$(BIN)/snakemake reproduce_all --cores all --configfile config/quick.yaml $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite without the tests marked slow (real Snakemake runs, full datasets).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Refresh the pinned versions after a deliberate dependency change.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean-results:
	rm -rf results figures logs .snakemake/metadata
