"""The gate's input document (policies/rego/README.md) from the catalog, on both backends: the
job's last reported flows between the datasets asked about, with their names, and the fields'
direct and inherited classifications."""

from __future__ import annotations

from typing import Any

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id, job_id
from headwater.ingestion.normalize import normalize
from headwater.policies.gate import Gate, GateRequest
from tests.factories import column_lineage, dataset, run_event, schema, ts

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


WIDE = 300  # unclassified columns per table
PII = {"tags": {"tags": [{"key": "classification", "value": "pii.email", "field": "email"}]}}


def _full_read_document(store: Store, req: GateRequest) -> dict[str, Any]:
    """The decision input as the gate built it by reading every field, every field's inherited
    classifications and every flow of the job (before it read only the classified part)."""
    ids = [dataset_id(*r) for r in (*req.inputs, *req.outputs)]
    known = dict(zip(ids, (*req.inputs, *req.outputs), strict=True))
    fields = store.fields(ids)
    inherited = store.inherited_classifications(
        [field_id(*known[i], f.name) for i in ids for f in fields[i]])
    planned = [f for f in store.job_flows(job_id(*req.job))
               if f.source_dataset in known and f.target_dataset in known]

    def doc(i: str) -> dict[str, Any]:
        return {"fieldCount": len(fields[i]), "fields": [
            {"name": f.name, "type": f.type, "classifications": f.classifications,
             "inherited": inh, "learnedFrom": f.learned_from} for f in fields[i]
            if (inh := inherited.get(field_id(*known[i], f.name), [])) or f.classifications]}

    classified = {(i, f["name"]) for i in ids for f in doc(i)["fields"]}
    return {"inputs": [doc(dataset_id(*r)) for r in req.inputs],
            "outputs": [doc(dataset_id(*r)) for r in req.outputs],
            "flowsKnown": bool(planned),
            "flowSources": sorted({f.source_dataset for f in planned}),
            "flows": [(f.source_dataset, f.source_field, f.target_dataset, f.target_field,
                       f.transformation, f.masking) for f in planned
                      if (f.source_dataset, f.source_field) in classified]}


def test_a_wide_tables_input_is_what_reading_every_field_gives(store: Store) -> None:
    # raw.customers.email (pii.email) -> stg.customers.email_clean -> mart.export.contact:
    # two hops of column lineage, among WIDE unclassified columns copied along each step; a
    # hashed (masking) copy inherits nothing; `contact` is known only from lineage.
    cols = [f"c{i}" for i in range(WIDE)]
    raw, stg, mart = (PG, "raw.customers"), (PG, "stg.customers"), (PG, "mart.export")
    stage = column_lineage({c: [(*raw, c)] for c in cols} | {"email_clean": [(*raw, "email")]})
    mapping = {c: [(*stg, c)] for c in cols} | {"contact": [(*stg, "email_clean")]}
    export = column_lineage(mapping)
    export["columnLineage"]["fields"] |= column_lineage(
        {"email_hash": [(*stg, "email_clean")]}, subtype="HASH", masking=True
    )["columnLineage"]["fields"]
    tagged = {"tags": {"tags": [{"key": "classification", "value": "internal", "field": "c7"}]}}
    store.write_events([normalize(e) for e in (
        run_event("COMPLETE", job=("etl", "stage"), time=ts(1),
                  inputs=[dataset(*raw, s=schema(*cols, "email"), t=PII)],
                  outputs=[dataset(*stg, s=schema(*cols, "email_clean"), c=stage, t=tagged)]),
        run_event("COMPLETE", job=("etl", "export"), time=ts(2),
                  inputs=[dataset(*stg)],
                  outputs=[dataset(*mart, s=schema(*cols, "email_hash"), c=export)]))])
    req = GateRequest(job=("etl", "export"), inputs=[stg], outputs=[mart], purpose="billing")
    doc = Gate(store, engine=None).enrich(req)  # type: ignore[arg-type]
    full = _full_read_document(store, req)
    assert {k: doc[k] for k in ("flowsKnown", "flowSources")} == {
        k: full[k] for k in ("flowsKnown", "flowSources")}
    assert [{k: d[k] for k in ("fieldCount", "fields")} for d in doc["inputs"]] == full["inputs"]
    assert [{k: d[k] for k in ("fieldCount", "fields")} for d in doc["outputs"]] == full["outputs"]
    assert [(f["from"]["dataset"], f["from"]["field"], f["to"]["dataset"], f["to"]["field"],
             f["transformation"], f["masking"]) for f in doc["flows"]] == full["flows"]
    # What that is: the classified fields only, with the count of all of them.
    [staged], [exported] = doc["inputs"], doc["outputs"]
    assert staged["fieldCount"] == WIDE + 1
    assert [(f["name"], f["classifications"], f["inherited"]) for f in staged["fields"]] == [
        ("c7", ["internal"], []), ("email_clean", [], ["pii.email"])]
    assert exported["fieldCount"] == WIDE + 2  # the schema's, and `contact` from lineage
    assert [(f["name"], f["inherited"], f["learnedFrom"]) for f in exported["fields"]] == [
        ("c7", ["internal"], "schema"), ("contact", ["pii.email"], "columnLineage")]
    assert [(f["from"]["field"], f["to"]["field"]) for f in doc["flows"]] == [
        ("c7", "c7"), ("email_clean", "contact"), ("email_clean", "email_hash")]
    assert exported["fedBy"] == [dataset_id(*stg)]
