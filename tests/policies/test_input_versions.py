"""Input version 3 (policies/rego/README.md, "Versions of the input"): the document Headwater
sends names a flow's datasets by id alone and a field by what the rules read, and the same
request written as version 2 (by hand, or by an older Headwater) decides the same on every
engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.catalog import open_store
from headwater.ingestion.normalize import normalize
from headwater.policies.engine import BUNDLE, EmbeddedEngine, OpaEngine, PolicyEngine
from headwater.policies.gate import Gate, GateRequest
from tests.factories import column_lineage, dataset, run_event, schema
from tests.harness.services import start_opa
from tests.policies.older_inputs import as_version_2

PG = "postgres://shop:5432"
CUSTOMERS, EXPORT, CRM = (PG, "shop.customers"), (PG, "shop.export"), (PG, "shop.crm")
DECISION = "headwater/gate/decision"


@pytest.fixture(scope="module")
def stock_opa() -> Iterator[str]:
    service = start_opa(str(BUNDLE))
    yield service.url
    service.stop()


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, dict]]:
    """The document Headwater builds for a job copying PII (an email and a phone number) into
    an output approved for phones only and one approved for all PII, and the same request in
    version 2's layout."""
    store = open_store("embedded", path=Path(tmp_path_factory.mktemp("v3")) / "headwater.db")
    classified = {"tags": {"tags": [
        {"key": "classification", "value": "pii.email", "field": "email"},
        {"key": "classification", "value": "pii.phone", "field": "phone"}]}}
    store.write_events([normalize(e) for e in (
        run_event("COMPLETE", job=("etl", "stage"), outputs=[dataset(
            *CUSTOMERS, s=schema("id", "email", "phone", "address"), t=classified)]),
        run_event("COMPLETE", job=("etl", "export"), inputs=[dataset(*CUSTOMERS)], outputs=[
            dataset(*EXPORT, s=schema("id", "contact", "tel"),
                    t={"tags": {"tags": [{"key": "pii-allowed:pii.phone"}]}},
                    c=column_lineage({"id": [(*CUSTOMERS, "id")],
                                      "contact": [(*CUSTOMERS, "email")],
                                      "tel": [(*CUSTOMERS, "phone")]})),
            dataset(*CRM, s=schema("email"), t={"tags": {"tags": [{"key": "pii-allowed:pii"}]}},
                    c=column_lineage({"email": [(*CUSTOMERS, "email")]}))]))])
    gate = Gate(store, engine=None)  # type: ignore[arg-type]
    doc = gate.enrich(GateRequest(job=("etl", "export"), inputs=[CUSTOMERS],
                                  outputs=[EXPORT, CRM], purpose="billing"), "ci")
    v2 = as_version_2(store, doc)
    store.close()
    yield doc, v2


def test_headwater_sends_version_3(documents: tuple[dict, dict]) -> None:
    doc, _ = documents
    assert doc["inputVersion"] == 3
    assert doc["flows"] == [
        {"from": {"dataset": f"dataset:{PG}:shop.customers", "field": "email"},
         "to": {"dataset": f"dataset:{PG}:shop.crm", "field": "email"},
         "transformation": "DIRECT/IDENTITY", "masking": False},
        {"from": {"dataset": f"dataset:{PG}:shop.customers", "field": "email"},
         "to": {"dataset": f"dataset:{PG}:shop.export", "field": "contact"},
         "transformation": "DIRECT/IDENTITY", "masking": False},
        {"from": {"dataset": f"dataset:{PG}:shop.customers", "field": "phone"},
         "to": {"dataset": f"dataset:{PG}:shop.export", "field": "tel"},
         "transformation": "DIRECT/IDENTITY", "masking": False}]
    [customers] = doc["inputs"]
    assert customers["fields"] == [
        {"name": "email", "classifications": ["pii.email"], "inherited": []},
        {"name": "phone", "classifications": ["pii.phone"], "inherited": []}]


@pytest.mark.parametrize("kind", ["wasm", "regopy", "opa"])
def test_version_2_decides_as_version_3(documents: tuple[dict, dict], kind: str,
                                        request: pytest.FixtureRequest) -> None:
    doc, v2 = documents
    engine: PolicyEngine = (OpaEngine(request.getfixturevalue("stock_opa")) if kind == "opa"
                            else EmbeddedEngine(opa=None, wasm=kind == "wasm"))
    decided = [engine.evaluate(DECISION, d) for d in (doc, v2)]
    assert normalised(decided[0]) == normalised(decided[1])
    # The email is masked into the export (approved for phones only), not into the CRM
    # (approved for all PII); the phone passes.
    assert decided[0]["decision"] == "mask"
    assert decided[0]["masks"] == [
        {"dataset": f"dataset:{PG}:shop.export", "field": "contact", "strategy": "hash"}]


def normalised(decision: dict[str, Any]) -> dict[str, Any]:
    key = lambda d: sorted(d.items(), key=str)  # noqa: E731
    return {k: sorted(decision[k], key=key) if k != "decision" else decision[k]
            for k in ("decision", "reasons", "masks")}
