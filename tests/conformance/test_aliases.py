"""Other names of a dataset, whatever order events arrive in (issue 17): Spark names a storage
location and lists the metastore table in its symlinks once; other events of the same data
name only the location. The catalog is the same in every order, on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.search import search
from headwater.ingestion.normalize import normalize
from headwater.policies.gate import Gate, gate_request
from tests.conftest import make_store
from tests.factories import dataset, run_event, schema, ts

LAKE, LOCATION = "s3://lake", "/warehouse/customers"
HIVE, TABLE = "hive://metastore", "shop.customers"
DUCK = "duckdb://mart"
TABLE_ID, LOCATION_ID = dataset_id(HIVE, TABLE), dataset_id(LAKE, LOCATION)
SYMLINK = {"symlinks": {"identifiers": [{"namespace": HIVE, "name": TABLE, "type": "TABLE"}]}}


def tagged(field: str, value: str) -> dict[str, Any]:
    return {"tags": {"tags": [{"key": "classification", "value": value, "field": field}]}}


def quality(name: str, column: str, success: bool) -> dict[str, Any]:
    return {"dataQualityAssertions": {"assertions": [
        {"assertion": name, "column": column, "success": success}]}}


def declaring() -> dict[str, Any]:
    """Spark's load: writes the location, lists the table, tags ``email``."""
    return run_event("COMPLETE", job=("spark", "load"), time=ts(1), outputs=[dataset(
        LAKE, LOCATION, s=schema("id", "email"), y=SYMLINK, t=tagged("email", "pii.email"))])


def location_only() -> list[dict[str, Any]]:
    """Events that name only the location: a job reads it with column lineage from it, a job
    rewrites it with a new column (tagged) and checks it."""
    export = run_event(
        "COMPLETE", job=("spark", "export"), time=ts(2),
        inputs=[dataset(LAKE, LOCATION)],
        outputs=[dataset(DUCK, "export", s=schema("email", "phone"), c={"columnLineage": {
            "fields": {out: {"inputFields": [{"namespace": LAKE, "name": LOCATION,
                                              "field": out, "transformations": []}]}
                       for out in ("email", "phone")}}})])
    clean = run_event(
        "COMPLETE", job=("spark", "clean"), time=ts(3),
        outputs=[dataset(LAKE, LOCATION, s=schema("id", "email", "phone"),
                         t=tagged("phone", "pii.phone"), q=quality("not_null", "id", False))])
    return [export, clean]


def catalog(store: Store) -> dict[str, Any]:
    """What a user sees of the table: lineage, fields, classifications downstream, quality,
    schema history, search."""
    graphs = [store.walk(TABLE_ID, "dataset", way, 5, 100) for way in ("UPSTREAM", "DOWNSTREAM")]
    fields = store.fields([TABLE_ID]).get(TABLE_ID, [])
    exports = [field_id(DUCK, "export", f) for f in ("email", "phone")]
    hits = search(store, "customers").hits
    return {
        "nodes": sorted({n.id for g in graphs for n in g.nodes}),
        "edges": sorted({(e.source, e.target) for g in graphs for e in g.edges}),
        "fields": sorted((f.name, tuple(sorted(f.classifications))) for f in fields),
        "inherited": store.inherited_classifications(exports),
        "quality": sorted((q.assertion, q.field, q.success)
                          for q in store.quality_results(TABLE_ID)),
        "schema": [(v.version, sorted(f.name for f in v.fields))
                   for v in store.schema_versions(TABLE_ID)],
        "search": sorted((h.type, h.id) for h in hits),
        "location": store.dataset(LAKE, LOCATION),
    }


EXPECTED_NODES = sorted([TABLE_ID, dataset_id(DUCK, "export"), "job:spark:load",
                         "job:spark:export", "job:spark:clean"])


def assert_one_dataset(seen: dict[str, Any]) -> None:
    assert seen["location"] is None  # not a dataset of its own
    assert seen["nodes"] == EXPECTED_NODES
    assert ("job:spark:clean", TABLE_ID) in seen["edges"]
    assert seen["fields"] == [("email", ("pii.email",)), ("id", ()), ("phone", ("pii.phone",))]
    assert seen["inherited"] == {field_id(DUCK, "export", "email"): ["pii.email"],
                                 field_id(DUCK, "export", "phone"): ["pii.phone"]}
    assert seen["quality"] == [("not_null", "id", False)]
    assert seen["schema"] == [(2, ["email", "id", "phone"]), (1, ["email", "id"])]
    assert [i for t, i in seen["search"] if t == "DATASET"] == [TABLE_ID]


def test_a_location_named_after_the_declaration_is_the_table(store: Store) -> None:
    store.write_events([normalize(declaring())])
    store.write_events([normalize(e) for e in location_only()])
    assert_one_dataset(catalog(store))


def test_a_location_named_before_the_declaration_is_merged_into_the_table(store: Store) -> None:
    store.write_events([normalize(e) for e in location_only()])
    assert store.dataset(LAKE, LOCATION) is not None  # nothing says yet it is the table
    store.write_events([normalize(declaring())])
    assert_one_dataset(catalog(store))


@pytest.mark.parametrize("order", ["declared-first", "declared-last"])
def test_one_batch_in_either_order_is_the_table(store: Store, order: str) -> None:
    events = [declaring(), *location_only()]
    if order == "declared-last":
        events.reverse()
    store.write_events([normalize(e) for e in events])
    assert_one_dataset(catalog(store))


def test_both_orders_give_the_same_catalog(backend: str, tmp_path: Path,
                                          request: pytest.FixtureRequest) -> None:
    seen = []
    for first, then in ((declaring(), location_only()), (location_only(), declaring())):
        store = make_store(backend, tmp_path / str(len(seen)), request)
        try:
            for events in (first, then):
                store.write_events([normalize(e) for e in
                                    (events if isinstance(events, list) else [events])])
            seen.append(catalog(store))
        finally:
            store.close()
    assert_one_dataset(seen[0])
    assert seen[0] == seen[1]


def test_a_renamed_datasets_old_name_stays_a_dataset_of_its_own(store: Store) -> None:
    store.write_events([normalize(run_event("COMPLETE", job=("dbt", "rename"), time=ts(1),
                                            outputs=[dataset(DUCK, "customers", f={
                                                "lifecycleStateChange": {
                                                    "lifecycleStateChange": "RENAME",
                                                    "previousIdentifier": {
                                                        "namespace": DUCK,
                                                        "name": "customers_v1"}}})]))])
    # The old name is recreated (swapping tables): it is not the renamed dataset.
    store.write_events([normalize(run_event("COMPLETE", job=("dbt", "recreate"), time=ts(2),
                                            outputs=[dataset(DUCK, "customers_v1")]))])
    old = dataset_id(DUCK, "customers_v1")
    assert store.dataset_jobs([old])[old] == (["job:dbt:recreate"], [])


def test_the_gate_judges_a_location_by_its_tables_catalog(store: Store) -> None:
    """A START naming only the location (as Spark sends it) is judged with what the catalog
    holds for the table: its columns, their classifications, the flows out of them."""
    store.write_events([normalize(declaring())])
    start = run_event("START", job=("spark", "export"), time=ts(5),
                      inputs=[dataset(LAKE, LOCATION)],
                      outputs=[dataset(DUCK, "export", c={"columnLineage": {"fields": {
                          "email": {"inputFields": [{"namespace": LAKE, "name": LOCATION,
                                                     "field": "email"}]}}}})])
    doc = Gate(store, engine=None).enrich(gate_request(start))  # type: ignore[arg-type]
    [location] = doc["inputs"]
    assert (location["id"], location["known"]) == (LOCATION_ID, True)
    assert {f["name"]: f["classifications"] for f in location["fields"]} == {
        "email": ["pii.email"]}
    assert location["fieldCount"] == 2
    assert [(f["from"]["dataset"], f["from"]["field"]) for f in doc["flows"]] == [
        (LOCATION_ID, "email")]
    assert doc["outputs"][0]["fedBy"] == doc["flowSources"] == [LOCATION_ID]


def test_what_was_recorded_on_the_location_moves_to_the_table(store: Store) -> None:
    """A steward's edits on the location, the runs that read and wrote it (with what they
    reported for it), its description: all on the table once the location is declared."""
    export, clean = location_only()
    clean["outputs"][0]["outputFacets"] = {"outputStatistics": {"rowCount": 42}}
    clean["outputs"][0]["facets"]["documentation"] = {"description": "customers, cleaned"}
    store.write_events([normalize(export), normalize(clean)])
    store.classify_field(LOCATION_ID, "id", ["pii.customer_id"])
    store.set_retention(LOCATION_ID, 30)
    store.declassify_edge(field_id(LAKE, LOCATION, "phone"), field_id(DUCK, "export", "phone"))
    store.write_events([normalize(declaring())])
    fields = {f.name: f.classifications for f in store.fields([TABLE_ID])[TABLE_ID]}
    assert fields["id"] == ["pii.customer_id"]
    [record] = store.datasets_by_id([TABLE_ID])
    assert record is not None
    assert (record.retention_days, record.description) == (30, "customers, cleaned")
    phone = field_id(DUCK, "export", "phone")
    assert store.inherited_classifications([phone]).get(phone, []) == []  # still declassified
    (reads, _), (_, writes) = (store.run_datasets([r["run"]["runId"]])[r["run"]["runId"]]
                               for r in (export, clean))
    assert [d.dataset_id for d in reads] == [TABLE_ID]
    assert [(d.dataset_id, d.facets) for d in writes] == [
        (TABLE_ID, {"outputStatistics": {"rowCount": 42}})]


def test_a_location_stored_after_it_was_declared_is_merged_by_the_next_declaration(
        store: Store) -> None:
    """The location written as a dataset of its own after its declaration (a second Neo4j
    writer racing the declaring batch did not see the alias yet): the next event listing the
    table merges it."""
    store.write_events([normalize(declaring())])
    forget = {"embedded": lambda: store._edit(("DELETE FROM dataset_aliases", ())),  # type: ignore[attr-defined]
              "neo4j": lambda: store._edit("MATCH (a:DatasetAlias) DELETE a")}  # type: ignore[attr-defined]
    forget["embedded" if "Embedded" in type(store).__name__ else "neo4j"]()  # what it saw
    store.write_events([normalize(e) for e in location_only()])
    assert store.dataset(LAKE, LOCATION) is not None
    later = declaring()  # Spark lists the table on every event
    later["eventTime"] = ts(9)
    store.write_events([normalize(later)])
    assert store.dataset(LAKE, LOCATION) is None
    seen = catalog(store)
    assert seen["fields"] == [("email", ("pii.email",)), ("id", ()), ("phone", ("pii.phone",))]
    assert ("job:spark:clean", TABLE_ID) in seen["edges"]


def test_the_gate_reads_a_jobs_stored_flows_from_the_table_as_the_location(store: Store
                                                                          ) -> None:
    """The job's last column lineage is stored on the table; a START naming the location with
    no columnLineage facet is judged with those flows, under the name it sent."""
    store.write_events([normalize(declaring()), normalize(location_only()[0])])
    start = run_event("START", job=("spark", "export"), time=ts(6),
                      inputs=[dataset(LAKE, LOCATION)], outputs=[dataset(DUCK, "export")])
    doc = Gate(store, engine=None).enrich(gate_request(start))  # type: ignore[arg-type]
    assert doc["flowSources"] == [LOCATION_ID]
    assert [(f["from"]["dataset"], f["from"]["field"], f["to"]["field"]) for f in doc["flows"]
            ] == [(LOCATION_ID, "email", "email")]
