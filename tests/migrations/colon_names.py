"""A store written before ids were escaped (schema version 3), holding nodes whose names and
fields contain ':' and '%', and how to check that the migration moved all of it.

``populate`` ran once with the code of schema version 3 to make the committed fixtures
(``embedded-colon-names.db``, ``neo4j-colon-names.json``): run ``python -m
tests.migrations.colon_names embedded|neo4j`` with that code on the path (see ``_make``).
``check`` runs with today's code on the migrated copy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.factories import column_lineage, dataset, run_event, schema, ts

NS = "s3://lake"
ORDERS = "raw/orders:2026"   # a ':' in the name
SUMMARY = "daily%summary"    # a '%' in the name
GEO = "geo:lat"              # a ':' in a field
PG = "postgres://shop:5432"  # colons in the namespace only: its ids do not change
JOB = ("spark", "nightly:orders")
RUN = "0b8c1a52-5d9f-4c53-9c1e-1d2f3a4b5c11"
ERASURE_ID = "er-colon-1"


def old_id(*parts: str) -> str:
    """An id as 0.1.0 .. schema version 3 wrote it: the parts joined as they are."""
    prefix = {2: "dataset", 3: "datasetField"}[len(parts)]
    return ":".join([prefix, *parts])


def events() -> list[dict[str, Any]]:
    orders = dataset(NS, ORDERS, s=schema("id", "email", GEO))
    orders["inputFacets"] = {"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "success": False, "column": "email"}]}}
    summary = dataset(NS, SUMMARY, s=schema("id", "email", GEO),
                      c=column_lineage({"email": [(NS, ORDERS, "email")],
                                        GEO: [(NS, ORDERS, GEO)]}))
    plain = dataset(PG, "shop.customers", s=schema("id"))
    return [
        run_event("START", run_id=RUN, job=JOB, time=ts(1), inputs=[orders], outputs=[summary]),
        run_event("COMPLETE", run_id=RUN, job=JOB, time=ts(2), inputs=[orders],
                  outputs=[summary]),
        run_event("COMPLETE", job=("etl", "plain"), time=ts(3), outputs=[plain]),
    ]


def populate(store: Any) -> None:
    from headwater.catalog.model import DecisionRecord
    from headwater.ingestion.normalize import normalize

    store.write_events([normalize(e) for e in events()])
    orders = old_id(NS, ORDERS)
    store.classify_field(orders, "email", ["pii.email"])
    store.classify_field(orders, GEO, ["sensitive.location"])
    store.declassify_edge(old_id(NS, ORDERS, GEO), old_id(NS, SUMMARY, GEO))
    store.tag_dataset(orders, ["legal-hold:tax-law", "owner-team:sales"])
    store.set_retention(orders, 30)
    store.log_decision(DecisionRecord(
        id="d-colon-1", time="2026-03-01T10:01:00.000000+00:00", principal="airflow",
        job_id=f"job:{JOB[0]}:{JOB[1]}", run_id=RUN, decision="allow", reasons=[], masks=[],
        policy_revision="sha256:0123456789abcdef", engine="embedded", input_digest="f" * 32))
    store.create_erasure(
        {"id": ERASURE_ID, "version": 2, "status": "RUNNING",
         "receivedAt": "2026-03-01T10:02:00.000Z",
         "tasks": [{"id": "t1", "dataset": orders, "namespace": NS, "name": ORDERS,
                    "action": "delete", "status": "pending", "upstream": []},
                   {"id": "t2", "dataset": old_id(NS, SUMMARY), "namespace": NS,
                    "name": SUMMARY, "action": "delete", "status": "pending",
                    "upstream": [orders]}]},
        [{"seq": 1, "event": "received", "at": "2026-03-01T10:02:00.000Z"}])


def check(store: Any) -> None:
    """Everything about the nodes with ':' and '%' in their names is found under their new ids;
    the node without them kept its id."""
    from headwater.catalog.ids import dataset_id, field_id, job_id

    orders, summary, job = dataset_id(NS, ORDERS), dataset_id(NS, SUMMARY), job_id(*JOB)
    assert (orders, summary, job) == ("dataset:s3://lake:raw/orders%3A2026",
                                      "dataset:s3://lake:daily%25summary",
                                      "job:spark:nightly%3Aorders")
    d = store.dataset(NS, ORDERS)
    assert d is not None and d.id == orders and d.retention_days == 30
    assert sorted(d.tags) == ["legal-hold:tax-law", "owner-team:sales"]
    assert store.dataset(PG, "shop.customers").id == f"dataset:{PG}:shop.customers"
    fields = store.fields([orders, summary])
    assert [(f.name, f.classifications) for f in fields[orders]] == [
        ("id", []), ("email", ["pii.email"]), (GEO, ["sensitive.location"])]
    assert [f.name for f in fields[summary]] == ["id", "email", GEO]
    assert [v.version for v in store.schema_versions(orders)] == [1]
    assert [(q.assertion, q.success) for q in store.quality_results(orders)] == [
        ("not_null", False)]
    # Column lineage and a steward's declassification moved with the field ids.
    assert store.inherited_classifications(
        [field_id(NS, SUMMARY, "email"), field_id(NS, SUMMARY, GEO)]) == {
        field_id(NS, SUMMARY, "email"): ["pii.email"]}
    assert store.classification_holders(["pii.email"]) == [
        (summary, "email", "pii.email", False), (orders, "email", "pii.email", True)]
    graph = store.walk(orders, "dataset", "DOWNSTREAM", 5, 100)
    assert {n.id for n in graph.nodes} == {orders, job, summary}
    assert store.job_datasets([job])[job] == ([orders], [summary])
    assert RUN in [r.id for r in store.runs(job)]
    assert [d.id for d in store.decisions(job_id=job)] == ["d-colon-1"]
    erasure = store.erasure(ERASURE_ID)
    assert [(t["dataset"], t["upstream"]) for t in erasure["tasks"]] == [
        (orders, []), (summary, [orders])]
    # Catalog search finds the moved nodes under their new ids, and nothing under the old.
    from headwater.catalog.search import search

    hits = search(store, "orders", first=50).hits
    assert {h.id for h in hits if h.field is None} == {orders, job}
    # The audit trail is evidence: it is kept as it was written.
    assert [e["seq"] for e in store.erasure_audit(ERASURE_ID)] == [1]


def _make(kind: str) -> None:  # pragma: no cover - run by hand with the old code
    """Write the fixture for ``kind`` with the code on the path (schema version 3)."""
    import json
    import sqlite3
    import tempfile

    from headwater.catalog import open_store

    here = Path(__file__).parent / "fixtures"
    if kind == "embedded":
        path = Path(tempfile.mkdtemp()) / "headwater.db"
        store = open_store("embedded", path=path)
        populate(store)
        store.close()
        target = here / "embedded-colon-names.db"
        with sqlite3.connect(path) as src, sqlite3.connect(target) as dst:
            src.execute("PRAGMA wal_checkpoint(FULL)")
            src.backup(dst)
        print(f"wrote {target}")
        return
    import neo4j

    from tests.harness.services import ensure_neo4j
    from tests.migrations.test_neo4j_migration import export_graph

    svc = ensure_neo4j()
    try:
        uri = svc.env["HEADWATER_NEO4J_URI"]
        store = open_store("neo4j", uri=uri)
        populate(store)
        store.close()
        with neo4j.GraphDatabase.driver(uri) as driver:
            graph = export_graph(driver)
        graph["made_by"] = "schema version 3 (tests.migrations.colon_names.populate)"
        target = here / "neo4j-colon-names.json"
        target.write_text(json.dumps(graph, indent=1, sort_keys=True) + "\n")
        print(f"wrote {target}: {len(graph['nodes'])} nodes")
    finally:
        svc.stop()


if __name__ == "__main__":  # pragma: no cover
    _make(sys.argv[1])
