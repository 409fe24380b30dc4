# One command each: `make demo` runs a whole store here, `make test` runs the tests.
# Both set the machine up first (Debian packages, a virtual environment) when needed.

VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= ./data
PORT ?= 8080
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup firmware demo test test-fast lint typecheck screenshots clean

setup:
	@./scripts/setup.sh

# ESPHome in its own venv (.venv-esphome): validates every firmware config offline
firmware:
	@./scripts/check-firmware.sh

demo: setup
	$(VENV)/bin/tablehub demo --data $(DATA) --port $(PORT) $(DEMO_ARGS)

# The browser tests (tests/e2e) run beside the rest, in a pytest of their own (two cores;
# CI's time), each pytest in a temporary directory of its own outside the tree; both
# summaries are printed, and either one failing fails the target.
test: setup firmware
	@base=$$(mktemp -d /tmp/tablehub-tests.XXXXXX); \
	$(PY) -m pytest tests/e2e --basetemp=$$base/e2e $(PYTEST_ARGS) > $$base/e2e.log 2>&1 & \
	e2e=$$!; \
	$(PY) -m pytest --ignore=tests/e2e --basetemp=$$base/rest $(PYTEST_ARGS); rest=$$?; \
	wait $$e2e; e2e_rc=$$?; \
	echo "---- tests/e2e, run beside the rest (exit $$e2e_rc) ----"; cat $$base/e2e.log; \
	rm -rf $$base; test $$rest -eq 0 && test $$e2e_rc -eq 0

test-fast: setup
	$(PY) -m pytest -m "not browser and not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check plumbing hub devices cloud_bridge tests
	$(VENV)/bin/ruff format --check plumbing hub devices cloud_bridge tests

typecheck: setup
	$(VENV)/bin/mypy

screenshots: setup
	TABLEHUB_SCREENSHOTS=docs $(PY) -m pytest tests/e2e -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Benchmarks and the fault suite (bench/): `make bench` writes docs/benchmarks.md,
# `make chaos` docs/reliability.md; `make chaos-short` is the CI cut (under 3 minutes).
BENCH_ARGS ?=
CHAOS_ARGS ?=
BENCH_STAMP := $(VENV)/.tablehub-bench-installed

.PHONY: bench bench-floods chaos chaos-short

$(BENCH_STAMP): pyproject.toml | setup
	$(VENV)/bin/pip install -q -e ".[bench]"
	touch $@

bench: setup $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# another table's order latency while the hub is flooded with stalled order bodies
bench-floods: setup $(BENCH_STAMP)
	$(PY) -m bench.floods $(FLOODS_ARGS)

chaos: setup $(BENCH_STAMP)
	$(PY) -m bench.chaos $(CHAOS_ARGS)

chaos-short: setup $(BENCH_STAMP)
	$(PY) -m bench.chaos --short $(CHAOS_ARGS)

# Named mutants (bench/mutants.toml): each breaks one invariant in a copy of the tree and its
# killer tests must fail. `make mutants` runs them all and writes docs/mutants.md;
# `make mutants-short` is the CI cut (the mutants marked short). `make mutants-faults` runs
# the faults each mutant lists (`faults = [...]`), one short fault-suite run each (minutes,
# root for disk-full: by hand, not in CI), into bench/results/mutants-faults.json and the
# fault tables of docs/mutants.md and docs/reliability.md.
.PHONY: mutants mutants-short mutants-faults

mutants: setup
	$(PY) -m bench.mutants --report docs/mutants.md

mutants-short: setup
	$(PY) -m bench.mutants --short

mutants-faults: setup $(BENCH_STAMP)
	$(PY) -m bench.mutants --faults --report docs/mutants.md
