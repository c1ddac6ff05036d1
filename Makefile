# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per install flavour and version of pyproject.toml: `make run` installs only what the
# service needs; `make test` adds the test tools, which covers `make run` too.
HASH       := $(shell sha1sum pyproject.toml | cut -c1-12)
RUN_STAMP  := $(VENV)/.installed-run-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)
# `make run PORT=8080`; unset, `headwater serve` takes HEADWATER_PORT, else 5000.
PORT ?=

.PHONY: install install-run run test lint schema bench clean services policy-wasm record-producers ui-assets

# GraphiQL and Swagger UI for the web UI, from the npm registry (versions pinned in
# api/ui/assets/package-lock.json), copied where the package serves them: never committed.
UI_NPM    := api/ui/assets
UI_VENDOR := api/ui/static/vendor
UI_STAMP  := $(UI_VENDOR)/.installed-$(shell cat $(UI_NPM)/package-lock.json | sha1sum | cut -c1-12)
UI_FILES  := react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js \
	graphiql/graphiql.min.js graphiql/graphiql.min.css \
	swagger-ui-dist/swagger-ui-bundle.js swagger-ui-dist/swagger-ui.css

$(UI_STAMP): $(UI_NPM)/package.json $(UI_NPM)/package-lock.json
	cd $(UI_NPM) && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(UI_VENDOR) && mkdir -p $(UI_VENDOR)
	cd $(UI_NPM)/node_modules && cp $(UI_FILES) ../../static/vendor/
	@touch $@

ui-assets: $(UI_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml $(UI_STAMP) | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	@find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '*-$(HASH)' -delete
	@touch $@

$(TEST_STAMP): pyproject.toml $(UI_STAMP) | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '*-$(HASH)' -delete
	@touch $@ $(RUN_STAMP)

## The service alone (what `make run` needs).
install-run: $(RUN_STAMP)

## The service with the test and lint tools (what `make test` and `make lint` need).
install: $(TEST_STAMP)

## Start Headwater on the embedded store and policy engine (no server needed).
run: $(RUN_STAMP)
	$(BIN)/headwater serve $(if $(PORT),--port $(PORT))

## Install, provision real Neo4j / OPA / PostgreSQL (cached), run every test.
test: install
	$(BIN)/python tests/harness/services.py install
	$(BIN)/python -m pytest

# mypy cannot follow setuptools' package-dir mapping, so it checks an installed copy (built
# afresh: pip reuses build/lib, which would keep modules that no longer exist).
lint: install
	$(BIN)/ruff check .
	rm -rf build && $(BIN)/python -m pip install -q --no-deps --target build/lint .
	cd build/lint && ../../$(BIN)/mypy -p headwater

## Recompile policies/compiled/policy.wasm after editing policies/rego (with the pinned OPA).
policy-wasm: install
	$(BIN)/headwater policy compile --opa "$$($(BIN)/python -c \
		'from tests.harness.services import opa_binary; print(opa_binary())')"

bench: install  # about 40 minutes on a 2-core machine; each also runs alone (docs/benchmarks.md)
	for b in ingest lineage gate erasure_plan erasure_pg quality_import runs; do \
		$(BIN)/python -m bench.$$b || exit 1; done

## Re-record tests/data/producers/ from real dbt-ol and Airflow runs (after changing a pin, the
## dbt project or the DAG); tests/conformance/test_producer_replay.py replays them.
record-producers: install
	$(BIN)/python tests/harness/producers.py record

## Write docs/schema.graphql from the live GraphQL schema (tests/unit/test_schema_file.py checks it).
schema: install
	$(BIN)/python -m tests.unit.test_schema_file

clean:
	rm -rf $(VENV) build *.egg-info $(UI_VENDOR) $(UI_NPM)/node_modules
