# One entry point for people and CI. Every target is idempotent.
#   make quickstart   run the main job on the embedded default (no cluster, no server)
#   make test         install what is missing, start the test services, lint, type-check, test

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: quickstart test venv services control-plane lint typecheck pytest crds docs clean conformance bench

$(BIN)/atlas-operator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/atlas-operator

# The Getting Started AtlasSchema, reconciled in local mode onto ./quickstart.db,
# then the resulting table as the engine inspects it.
quickstart: venv
	$(BIN)/atlas-operator reconcile -f examples/quickstart-sqlite.yaml
	$(BIN)/atlas-operator schema inspect -u sqlite://quickstart.db

services:
	hack/test-services.sh > /dev/null

control-plane:
	hack/build-control-plane.sh > /dev/null

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: venv
	$(BIN)/mypy

# The services script and the control-plane build print what the tests need;
# exporting it here saves each pytest session from asking again.
pytest: venv services control-plane
	set -a; eval "$$(hack/test-services.sh)"; set +a; \
	ATLAS_OPERATOR_BIN_DIR="$$(hack/build-control-plane.sh)" \
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The CRDs (config/crd/ and the chart's copy) and the README's field reference are
# generated from the resource models; tests fail when they are stale.
crds: venv
	$(BIN)/atlas-operator crds --output-dir config/crd
	{ echo '{{- if .Values.crds.create }}'; $(BIN)/atlas-operator crds; echo '{{- end }}'; } \
	  > charts/atlas-operator/templates/crds/crd.yaml

docs: crds
	$(BIN)/python -m atlas_operator.operator.reference README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Correctness and speed, measured (not part of `make test`).
conformance: venv services
	$(BIN)/python bench/conformance.py

bench: venv services
	$(BIN)/python bench/schema_apply.py
	$(BIN)/python bench/migrate_apply.py
	$(BIN)/python bench/migrate_seed.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/operator_ready.py
	# The fuzz suite's long pass: ten times the inputs of `make test` (tests/fuzz/common.py).
	ATLAS_FUZZ_ITERATIONS=10 $(BIN)/pytest -q -p no:cacheprovider tests/fuzz
