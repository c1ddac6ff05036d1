# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test lint bench clean services policy-wasm

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Start Headwater on the embedded store and policy engine (no server needed).
run: install
	$(BIN)/headwater serve

## Install, provision real Neo4j / OPA / PostgreSQL (cached), run every test.
test: install
	$(BIN)/python tests/harness/services.py install
	$(BIN)/python -m pytest

# mypy cannot follow setuptools' package-dir mapping, so it checks an installed copy.
lint: install
	$(BIN)/ruff check .
	rm -rf build/lint && $(BIN)/python -m pip install -q --no-deps --target build/lint .
	cd build/lint && ../../$(BIN)/mypy -p headwater

## Recompile policies/compiled/policy.wasm after editing policies/rego (with the pinned OPA).
policy-wasm: install
	$(BIN)/headwater policy compile --opa "$$($(BIN)/python -c \
		'from tests.harness.services import opa_binary; print(opa_binary())')"

bench: install  # about 40 minutes on a 2-core machine; each also runs alone (see README)
	for b in ingest lineage gate erasure_plan erasure_pg quality_import; do \
		$(BIN)/python -m bench.$$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
