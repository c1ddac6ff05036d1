"""The gate's input document (policies/rego/README.md) from the catalog, on both backends: the
job's last reported flows between the datasets asked about, with their names, and the fields'
direct and inherited classifications."""

from __future__ import annotations

import random
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
    # Version 3: a flow names its datasets by id alone (their names are in inputs/outputs).
    assert doc["inputVersion"] == 3
    assert doc["flows"] == [{
        "from": {"dataset": f"dataset:{PG}:shop.customers", "field": "email"},
        "to": {"dataset": f"dataset:{PG}:shop.export", "field": "email_hash"},
        "transformation": "DIRECT/HASH", "masking": True}]
    assert doc["context"] == {"purpose": "billing"}
    [customers], [export] = doc["inputs"], doc["outputs"]
    assert customers["id"] == f"dataset:{PG}:shop.customers" and customers["known"]
    # Since version 2: only classified fields, with the count of all the catalog knows; since
    # version 3, only what the rules read of them.
    assert customers["fields"] == [
        {"name": "email", "classifications": ["pii.email"], "inherited": []}]
    assert customers["fieldCount"] == 2
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
            {"name": f.name, "classifications": f.classifications, "inherited": inh}
            for f in fields[i]
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
    assert [(f["name"], f["inherited"]) for f in exported["fields"]] == [
        ("c7", ["internal"]), ("contact", ["pii.email"])]
    assert [(f["from"]["field"], f["to"]["field"]) for f in doc["flows"]] == [
        ("c7", "c7"), ("email_clean", "contact"), ("email_clean", "email_hash")]
    assert exported["fedBy"] == [dataset_id(*stg)]


def test_classified_fields_are_those_the_full_read_finds_in_a_tangled_graph(store: Store) -> None:
    # Random column lineage among a few datasets (cycles, masking derivations, fields known
    # only from lineage, steward classifications and declassified derivations), and a chain
    # longer than the inheritance depth: the classified part read alone, and the job flows
    # from some fields, are what the full reads give.
    rng = random.Random(20)
    names = [f"d{i}" for i in range(8)] + [f"chain{i}" for i in range(23)]
    edges: list[tuple[str, str, str, str, bool]] = []
    for t in names[1:8]:
        for f in (f"f{i}" for i in range(6)):
            edges += [(rng.choice(names[:8]), f"f{rng.randrange(6)}", t, f, rng.random() < 0.2)
                      for _ in range(rng.randrange(3))]
    edges += [(names[8 + i], "x", names[9 + i], "x", False) for i in range(22)]
    events = []
    for i, t in enumerate(sorted({e[2] for e in edges})):
        mapping: dict[str, Any] = {}
        for s, sf, _, tf, masking in (e for e in edges if e[2] == t):
            mapping.setdefault(tf, {"inputFields": []})["inputFields"].append(
                {"namespace": PG, "name": s, "field": sf, "transformations": [
                    {"type": "DIRECT", "subtype": "HASH" if masking else "IDENTITY",
                     "masking": masking}]})
        cols = ("x",) if t.startswith("chain") else ("f0", "f1", "f2", "f3")
        events.append(run_event("COMPLETE", job=("etl", f"make_{t}"), time=ts(i),
                                inputs=[dataset(PG, s) for s in {e[0] for e in edges
                                                                  if e[2] == t}],
                                outputs=[dataset(PG, t, s=schema(*cols),
                                                 c={"columnLineage": {"fields": mapping}})]))
    store.write_events([normalize(e) for e in events])
    for d, f in {(rng.choice(names[:8]), f"f{rng.randrange(6)}") for _ in range(6)}:
        store.classify_field(dataset_id(PG, d), f, rng.sample(["pii.email", "internal"], 1))
    store.classify_field(dataset_id(PG, "chain0"), "x", ["pii.phone"])
    for s, sf, t, tf, _ in rng.sample(edges[:-22], 3):
        store.declassify_edge(field_id(PG, s, sf), field_id(PG, t, tf))
    ids = [dataset_id(PG, n) for n in names]
    fields = store.fields(ids)
    inherited = store.inherited_classifications(
        [field_id(PG, n, f.name) for n, i in zip(names, ids, strict=True) for f in fields[i]])
    expected = {i: (len(fields[i]), [
        (f.name, f.type, f.classifications, inh, f.learned_from) for f in fields[i]
        if (inh := inherited.get(field_id(PG, n, f.name), [])) or f.classifications])
        for n, i in zip(names, ids, strict=True)}
    got = store.classified_fields(ids)
    assert {i: (c.count, [(f.name, f.type, f.classifications, c.inherited.get(f.name, []),
                           f.learned_from) for f in c.fields]) for i, c in got.items()} == expected
    assert got[dataset_id(PG, "chain20")].inherited == {"x": ["pii.phone"]}
    assert got[dataset_id(PG, "chain21")].fields == []  # 21 derivations away: too far
    assert any(c.inherited for i, c in got.items() if "chain" not in i)  # the random part too
    for t in names[1:8]:
        job = job_id("etl", f"make_{t}")
        every = store.job_flows(job)
        asked = [field_id(PG, n, f"f{k}") for n in names[:8] for k in range(0, 6, 2)]
        flows = store.job_flows_from(job, asked)
        assert flows.count == len(every)
        assert flows.datasets == {(f.source_dataset, f.target_dataset) for f in every}
        assert flows.flows == [f for f in every if f.source_field in ("f0", "f2", "f4")]
