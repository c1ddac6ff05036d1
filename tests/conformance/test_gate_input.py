"""The gate's input document (policies/rego/README.md) from the catalog, on both backends: the
job's last reported flows between the datasets asked about, with their names, and the fields'
direct and inherited classifications."""

from __future__ import annotations

from headwater.catalog import Store
from headwater.ingestion.normalize import normalize
from headwater.policies.gate import Gate, GateRequest
from tests.factories import column_lineage, dataset, run_event, schema

PG = "postgres://shop:5432"  # a namespace with colons: ids are not split to find names
TAGS = {"tags": {"tags": [{"key": "classification", "value": "pii.email", "field": "email"}]}}


def test_enrich_builds_the_documented_input(store: Store) -> None:
    store.write_events([normalize(run_event(
        "COMPLETE", job=("etl", "export"),
        inputs=[dataset(PG, "shop.customers", s=schema("id", "email"), t=TAGS)],
        outputs=[dataset(PG, "shop.export", s=schema("id", "email_hash"), c=column_lineage(
                     {"email_hash": [(PG, "shop.customers", "email")]}, subtype="HASH",
                     masking=True)),
                 dataset(PG, "shop.audit", s=schema("id"),
                         c=column_lineage({"id": [(PG, "shop.customers", "id")]}))]))])
    # The audit table is not asked about: its flow stays out of the document.
    doc = Gate(store, engine=None).enrich(GateRequest(  # type: ignore[arg-type]
        job=("etl", "export"), inputs=[(PG, "shop.customers")], outputs=[(PG, "shop.export")],
        purpose="billing"))
    assert doc["flows"] == [{
        "from": {"namespace": PG, "name": "shop.customers", "field": "email",
                 "dataset": f"dataset:{PG}:shop.customers"},
        "to": {"namespace": PG, "name": "shop.export", "field": "email_hash",
               "dataset": f"dataset:{PG}:shop.export"},
        "transformation": "DIRECT/HASH", "masking": True}]
    assert doc["context"] == {"purpose": "billing"}
    [customers], [export] = doc["inputs"], doc["outputs"]
    assert customers["id"] == f"dataset:{PG}:shop.customers" and customers["known"]
    # Version 2: only classified fields, with the count of all the catalog knows.
    assert {f["name"]: (f["classifications"], f["inherited"]) for f in customers["fields"]} == {
        "email": (["pii.email"], [])}
    assert customers["fieldCount"] == 2 and doc["inputVersion"] == 2
    # Hashing is a masking derivation: nothing is inherited through it.
    assert export["fields"] == [] and export["fieldCount"] == 2
    assert doc["flowsKnown"] and doc["flowSources"] == [f"dataset:{PG}:shop.customers"]


def test_flows_of_unclassified_fields_are_left_out_but_counted(store: Store) -> None:
    store.write_events([normalize(run_event(
        "COMPLETE", job=("etl", "export"),
        inputs=[dataset(PG, "shop.customers", s=schema("id", "email"), t=TAGS),
                dataset(PG, "shop.orders", s=schema("id"))],
        outputs=[dataset(PG, "shop.export", s=schema("id", "email", "order"), c=column_lineage(
            {"id": [(PG, "shop.customers", "id")], "email": [(PG, "shop.customers", "email")],
             "order": [(PG, "shop.orders", "id")]}))]))])
    doc = Gate(store, engine=None).enrich(GateRequest(  # type: ignore[arg-type]
        job=("etl", "export"), inputs=[(PG, "shop.customers"), (PG, "shop.orders")],
        outputs=[(PG, "shop.export")]))
    assert [(f["from"]["field"], f["to"]["field"]) for f in doc["flows"]] == [("email", "email")]
    assert doc["flowsKnown"]
    assert doc["flowSources"] == [f"dataset:{PG}:shop.customers", f"dataset:{PG}:shop.orders"]
    [export] = doc["outputs"]
    assert export["fedBy"] == doc["flowSources"]
    # email inherits pii.email along the flow: the only field of the export that is sent.
    assert [(f["name"], f["inherited"]) for f in export["fields"]] == [("email", ["pii.email"])]
