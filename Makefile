# One entry point for people and CI. Every target is idempotent.
#   make quickstart   run the main job on the embedded default (no cluster, no server)
#   make test         install what is missing, start the test services, lint, type-check, test

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: quickstart test venv services control-plane lint typecheck pytest mintest crds docs clean conformance bench

# Running needs only the package; the test tools (pytest, ruff, mypy) come on top.
$(BIN)/atlas-operator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-tools: $(BIN)/atlas-operator
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.dev-tools

# The Getting Started AtlasSchema, reconciled in local mode onto ./quickstart.db,
# then the resulting table as the engine inspects it.
quickstart: $(BIN)/atlas-operator
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

# The unit tests again, on the lowest dependency versions pyproject.toml allows.
MIN_VENV := .venv-min
MIN_TESTS := tests/engine/test_statements.py tests/engine/test_lexer_atlas.py \
  tests/engine/test_hcl.py tests/engine/test_urls.py tests/engine/test_sandbox.py \
  tests/engine/test_diff_plan.py tests/engine/drivers/test_execution.py \
  tests/engine/drivers/test_sqlite.py tests/operator/test_resources.py \
  tests/operator/test_crd.py tests/operator/test_conditions.py \
  tests/operator/test_manifests.py tests/operator/test_runtime_parts.py \
  tests/operator/test_events.py tests/fuzz

$(MIN_VENV)/.installed: pyproject.toml constraints/minimum.txt
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/pip install --quiet -c constraints/minimum.txt -e . "pytest>=8" "pytest-timeout>=2.3"
	touch $@

mintest: $(MIN_VENV)/.installed services
	set -a; eval "$$(hack/test-services.sh)"; set +a; \
	$(MIN_VENV)/bin/python -m pytest -q $(PYTEST_ARGS) $(MIN_TESTS)

test: lint typecheck pytest mintest

# The CRDs (config/crd/ and the chart's copy) and the README's field reference are
# generated from the resource models; tests fail when they are stale.
crds: venv
	$(BIN)/atlas-operator crds --output-dir config/crd
	{ echo '{{- if .Values.crds.create }}'; $(BIN)/atlas-operator crds; echo '{{- end }}'; } \
	  > charts/atlas-operator/templates/crds/crd.yaml

docs: crds
	$(BIN)/python -m atlas_operator.operator.reference README.md

clean:
	rm -rf $(VENV) $(MIN_VENV) .pytest_cache .mypy_cache .ruff_cache

# Correctness and speed, measured (not part of `make test`).
conformance: venv services
	$(BIN)/python bench/conformance.py

bench: venv services
	$(BIN)/python bench/schema_apply.py --views 200 --triggers 100
	$(BIN)/python bench/pg_objects.py
	$(BIN)/python bench/migrate_apply.py
	$(BIN)/python bench/migrate_seed.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/operator_ready.py
	# The fuzz suite's long pass: ten times the inputs of `make test` (tests/fuzz/common.py).
	ATLAS_FUZZ_ITERATIONS=10 $(BIN)/pytest -q -p no:cacheprovider tests/fuzz
