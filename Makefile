# The README's two commands: `make report` (the main job) and `make test` (everything CI runs).
# Each sets itself up from scratch: only Python 3.10+ and make are needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test test-oldest lint typecheck pytest bench install format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/dfkit report --sample

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy dfkit

pytest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 --dist loadgroup

# The oldest stack dfkit supports (Python 3.10, pandas 2.2, pyarrow 15, DuckDB 1.1), where a
# Python 3.10 is on the machine (on PATH or installed by pyenv); skipped otherwise.
OLDEST_VENV := .venv-oldest
OLDEST_PINS := 'pandas==2.2.3' 'pyarrow==15.0.2' 'numpy<2' 'duckdb==1.1.3' 'msgspec==0.18.6'

test-oldest:
	@py=$$(for c in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python; do \
	  $$c -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$c && break; \
	done); \
	if [ -z "$$py" ]; then echo "test-oldest: no Python 3.10 on this machine, skipped"; exit 0; fi; \
	echo "test-oldest: $$py with $(OLDEST_PINS)"; \
	$$py -m venv $(OLDEST_VENV) && \
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e '.[test]' $(OLDEST_PINS) && \
	MPLBACKEND=Agg $(OLDEST_VENV)/bin/python -m pytest -n 2 --dist loadgroup -q

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_frame.py
	$(BIN)/python benchmarks/bench_results.py
	$(BIN)/python benchmarks/bench_atomic.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) report .mypy_cache .ruff_cache .pytest_cache
