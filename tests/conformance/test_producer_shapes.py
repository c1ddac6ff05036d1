"""What real producers send, held to the governance promise on both backends (issue 17).

The events are shaped as dbt-ol sends them: a schema facet listing only the columns documented
in schema.yml, a columnLineage facet covering every column, ``transformations: []``.
"""

from __future__ import annotations

from typing import Any

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id
from headwater.ingestion.normalize import normalize
from headwater.lineage.impact import SchemaChange, analyse
from headwater.policies.engine import EmbeddedEngine
from headwater.policies.gate import Gate, GateRequest
from tests.factories import dataset, run_event, schema, ts

DUCK = "duckdb://jaffle"
TAGGED_EMAIL = {"tags": {"tags": [{"key": "classification", "value": "pii.email",
                                   "field": "email"}]}}


def untransformed(mapping: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """dbt-ol's columnLineage: every output column, ``transformations: []`` throughout."""
    return {"columnLineage": {"fields": {
        out: {"inputFields": [{"namespace": DUCK, "name": n, "field": f, "transformations": []}
                              for n, f in sources]}
        for out, sources in mapping.items()}}}


def dbt_run() -> list[dict[str, Any]]:
    """raw_customers(id, email: pii.email) -> stg_customers -> customer_revenue; schema.yml
    documents only ``id`` of the two models."""
    stg = run_event("COMPLETE", job=("dbt", "stg_customers"), time=ts(1),
                    inputs=[dataset(DUCK, "raw_customers", s=schema("id", "email"),
                                    t=TAGGED_EMAIL)],
                    outputs=[dataset(DUCK, "stg_customers", s=schema("id"), c=untransformed({
                        "id": [("raw_customers", "id")],
                        "email": [("raw_customers", "email")]}))])
    rev = run_event("COMPLETE", job=("dbt", "customer_revenue"), time=ts(2),
                    inputs=[dataset(DUCK, "stg_customers", s=schema("id"))],
                    outputs=[dataset(DUCK, "customer_revenue", s=schema("id"), c=untransformed({
                        "id": [("stg_customers", "id")],
                        "email": [("stg_customers", "email")]}))])
    return [stg, rev]


def test_a_column_known_from_lineage_is_a_column_with_its_classifications(store: Store) -> None:
    store.write_events([normalize(e) for e in dbt_run()])
    rev = dataset_id(DUCK, "customer_revenue")
    fields = {f.name: f for f in store.fields([rev])[rev]}
    assert sorted(fields) == ["email", "id"]
    assert (fields["email"].type, fields["email"].learned_from) == (None, "columnLineage")
    assert fields["id"].learned_from == "schema"
    inherited = store.inherited_classifications([field_id(DUCK, "customer_revenue", "email")])
    assert inherited[field_id(DUCK, "customer_revenue", "email")] == ["pii.email"]


def test_a_later_schema_that_lists_the_column_gives_it_its_type(store: Store) -> None:
    store.write_events([normalize(e) for e in dbt_run()])
    documented = run_event("COMPLETE", job=("dbt", "customer_revenue"), time=ts(3),
                           outputs=[dataset(DUCK, "customer_revenue",
                                            s=schema("id", ("email", "varchar")))])
    store.write_events([normalize(documented)])
    rev = dataset_id(DUCK, "customer_revenue")
    email = next(f for f in store.fields([rev])[rev] if f.name == "email")
    assert (email.type, email.learned_from) == ("varchar", "schema")


def test_lineage_learned_columns_do_not_make_schema_versions(store: Store) -> None:
    events = dbt_run()
    store.write_events([normalize(e) for e in events])
    store.write_events([normalize({**events[1], "eventTime": ts(9)})])
    rev = dataset_id(DUCK, "customer_revenue")
    assert [(v.version, [f.name for f in v.fields]) for v in store.schema_versions(rev)] == [
        (1, ["id"])]


def test_impact_and_erasure_reach_a_lineage_learned_column(store: Store) -> None:
    store.write_events([normalize(e) for e in dbt_run()])
    report = analyse(store, SchemaChange(DUCK, "stg_customers", drop_fields=["email"]))
    assert ("customer_revenue", "email") in {(f.name, f.field) for f in report.affected_fields}
    holders = {(ds, f) for ds, f, _, _ in store.classification_holders(["pii.email"])}
    assert (dataset_id(DUCK, "customer_revenue"), "email") in holders


def test_empty_transformations_are_unknown_and_still_carry_classifications(store: Store
                                                                          ) -> None:
    store.write_events([normalize(e) for e in dbt_run()])
    graph = store.walk(field_id(DUCK, "raw_customers", "email"), "column", "DOWNSTREAM", 5, 100)
    labels = {(e.source, e.target): e.transformation for e in graph.edges}
    edge = (field_id(DUCK, "raw_customers", "email"), field_id(DUCK, "stg_customers", "email"))
    assert edge in labels and labels[edge] is None
    flows = store.job_flows("job:dbt:stg_customers")
    assert {f.transformation for f in flows} == {"UNKNOWN"}
    assert store.inherited_classifications([field_id(DUCK, "stg_customers", "email")])


def test_the_gate_sees_the_undocumented_pii_column_and_names_unknown_inputs(store: Store
                                                                           ) -> None:
    store.write_events([normalize(e) for e in dbt_run()])
    gate = Gate(store, EmbeddedEngine(opa=None))
    export = GateRequest(job=("reverse_etl", "sync_crm"), inputs=[(DUCK, "customer_revenue")],
                         outputs=[("salesforce://acme", "Contact")], environment="dev")
    doc = gate.enrich(export)
    [revenue] = doc["inputs"]
    # The documented id and the undocumented email (known from column lineage alone) are both
    # known; only email is classified, so only it is sent (input version 2).
    assert {f.name: f.learned_from for f in store.fields([revenue["id"]])[revenue["id"]]} == {
        "id": "schema", "email": "columnLineage"}
    assert {f["name"]: f["inherited"] for f in revenue["fields"]} == {"email": ["pii.email"]}
    assert revenue["fieldCount"] == 2
    record = gate.decide(export, "test").record
    assert any(r["rule"] == "pii_placement" and "customer_revenue.email" in r["message"]
               for r in record.reasons), record.reasons
    # The output is new: a warning, not a denial.
    assert ("unknown_dataset", "warn") in {
        (r["rule"], r["severity"]) for r in record.reasons
        if r["dataset"] == dataset_id("salesforce://acme", "Contact")}
    typo = GateRequest(job=("dbt", "x"), inputs=[(DUCK, "customer_revenu")],
                       outputs=[(DUCK, "customer_revenue")], environment="prod")
    decided = gate.decide(typo, "test").record
    assert decided.decision == "deny"
    assert [(r["rule"], r["dataset"]) for r in decided.reasons if r["severity"] == "deny"] == [
        ("unknown_dataset", dataset_id(DUCK, "customer_revenu"))]


def lifecycle(state: str, **extra: Any) -> dict[str, Any]:
    return {"lifecycleStateChange": {"lifecycleStateChange": state, **extra}}


def test_drop_and_truncate_are_shown_whatever_the_arrival_order(store: Store) -> None:
    orders = dataset_id(DUCK, "orders")
    events = [run_event("COMPLETE", time=ts(1), outputs=[dataset(DUCK, "orders",
                                                                 s=schema("id"))]),
              run_event("COMPLETE", time=ts(3), outputs=[dataset(DUCK, "orders",
                                                                 f=lifecycle("TRUNCATE"))]),
              run_event("COMPLETE", time=ts(5), outputs=[dataset(DUCK, "orders",
                                                                 f=lifecycle("DROP"))])]
    store.write_events([normalize(e) for e in reversed(events)])
    [record] = store.datasets_by_id([orders])
    assert record is not None
    assert (record.lifecycle_state, record.dropped_at) == ("DROP", normalize(events[2]).event_time)
    # The drop is the last version of the schema history: no columns.
    assert [len(v.fields) for v in store.schema_versions(orders)] == [0, 1]
    recreated = run_event("COMPLETE", time=ts(7), outputs=[dataset(DUCK, "orders",
                                                                   f=lifecycle("CREATE"))])
    store.write_events([normalize(recreated)])
    [record] = store.datasets_by_id([orders])
    assert record is not None and (record.lifecycle_state, record.dropped_at) == ("CREATE", None)


def test_a_storage_location_with_a_table_symlink_is_that_table(store: Store) -> None:
    table = {"symlinks": {"identifiers": [
        {"namespace": "hive://metastore", "name": "shop.customers", "type": "TABLE"}]}}
    spark = run_event("COMPLETE", job=("spark", "load"), time=ts(1), outputs=[dataset(
        "s3://lake", "/warehouse/customers", s=schema("id", "email"), y=table, t=TAGGED_EMAIL)])
    # A later job reads the location, listing the table; its column lineage names the location.
    export = run_event("COMPLETE", job=("spark", "export"), time=ts(2),
                       inputs=[dataset("s3://lake", "/warehouse/customers", y=table)],
                       outputs=[dataset(DUCK, "export", s=schema("email"), c={"columnLineage": {
                           "fields": {"email": {"inputFields": [{
                               "namespace": "s3://lake", "name": "/warehouse/customers",
                               "field": "email", "transformations": []}]}}}})])
    store.write_events([normalize(spark), normalize(export)])
    assert store.dataset("s3://lake", "/warehouse/customers") is None
    customers = dataset_id("hive://metastore", "shop.customers")
    fields = {f.name: f.classifications for f in store.fields([customers])[customers]}
    assert fields == {"id": [], "email": ["pii.email"]}
    assert store.inherited_classifications([field_id(DUCK, "export", "email")]) == {
        field_id(DUCK, "export", "email"): ["pii.email"]}


def test_a_rename_keeps_the_history_under_the_new_name(store: Store) -> None:
    store.write_events([normalize(run_event("COMPLETE", time=ts(1), outputs=[
        dataset(DUCK, "customers_v1", s=schema("id", "email"))]))])
    store.write_events([normalize(run_event("COMPLETE", time=ts(4), outputs=[
        dataset(DUCK, "customers", s=schema("id", "email", "phone"),
                f=lifecycle("RENAME", previousIdentifier={"namespace": DUCK,
                                                          "name": "customers_v1"}))]))])
    versions = store.schema_versions(dataset_id(DUCK, "customers"))
    assert [(v.version, len(v.fields)) for v in versions] == [(2, 3), (1, 2)]
    [record] = store.datasets_by_id([dataset_id(DUCK, "customers")])
    assert record is not None and record.lifecycle_state == "RENAME"
