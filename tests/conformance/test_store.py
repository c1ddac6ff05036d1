"""Every store behaviour, on both backends (the ``store`` fixture is parametrised)."""

from __future__ import annotations

import uuid

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, job_id
from headwater.ingestion.normalize import normalize
from tests.factories import column_lineage, dataset, run_event, schema, ts

PG = "postgres://db.internal:5432"
ORDERS = dataset_id(PG, "shop.public.orders")


def write(store: Store, *events: dict) -> list[bool]:
    return store.write_events([normalize(e) for e in events])


def orders(*fields: str | tuple[str, str], **facets: dict) -> dict:
    return dataset(PG, "shop.public.orders", s=schema(*fields), **facets)


def test_same_event_twice_changes_nothing(store: Store) -> None:
    event = run_event("START", outputs=[orders("id", "email")])
    assert write(store, event) == [True]
    assert write(store, event) == [False]
    assert write(store, event, event) == [False, False]
    assert store.event_count() == 1
    assert len(store.schema_versions(ORDERS)) == 1


def test_duplicates_inside_one_batch_are_detected(store: Store) -> None:
    event = run_event("START", outputs=[orders("id")])
    assert write(store, event, event) == [True, False]
    assert store.event_count() == 1


def test_complete_before_start_ends_completed(store: Store) -> None:
    run_id = str(uuid.uuid4())
    write(store, run_event("COMPLETE", run_id=run_id, time=ts(9)))
    write(store, run_event("START", run_id=run_id, time=ts(1)))
    run = store.run(run_id)
    assert run is not None
    assert run.state == "COMPLETED"
    assert run.started_at == "2026-03-01T10:00:01.000000+00:00"
    assert run.ended_at == "2026-03-01T10:00:09.000000+00:00"


def test_terminal_state_never_regresses_to_running(store: Store) -> None:
    run_id = str(uuid.uuid4())
    write(store, run_event("START", run_id=run_id, time=ts(1)),
          run_event("FAIL", run_id=run_id, time=ts(5)))
    write(store, run_event("RUNNING", run_id=run_id, time=ts(7)))
    run = store.run(run_id)
    assert run is not None and run.state == "FAILED"
    assert run.ended_at == "2026-03-01T10:00:05.000000+00:00"


def test_latest_terminal_event_wins(store: Store) -> None:
    run_id = str(uuid.uuid4())
    write(store, run_event("FAIL", run_id=run_id, time=ts(8)))
    write(store, run_event("COMPLETE", run_id=run_id, time=ts(4)))
    run = store.run(run_id)
    assert run is not None and run.state == "FAILED"


def test_run_facts_parent_error_nominal_time(store: Store) -> None:
    run_id, parent = str(uuid.uuid4()), str(uuid.uuid4())
    write(store, run_event("FAIL", run_id=run_id, run_facets={
        "parent": {"run": {"runId": parent}, "job": {"namespace": "airflow", "name": "dag"}},
        "errorMessage": {"message": "division by zero", "programmingLanguage": "python"},
        "nominalTime": {"nominalStartTime": "2026-03-01T00:00:00Z"},
        "acme_custom": {"anything": [1, 2, {"x": None}]},
    }))
    run = store.run(run_id)
    assert run is not None
    assert run.parent_run_id == parent
    assert run.error_message == "division by zero"
    assert run.nominal_start == "2026-03-01T00:00:00.000000+00:00"
    assert run.facets["acme_custom"] == {"anything": [1, 2, {"x": None}]}


def test_schema_version_only_when_schema_changes(store: Store) -> None:
    write(store, run_event("COMPLETE", time=ts(1), outputs=[orders("id", "email")]))
    write(store, run_event("COMPLETE", time=ts(2), outputs=[orders("email", "id")]))  # reordered
    assert [v.version for v in store.schema_versions(ORDERS)] == [1]
    write(store, run_event("COMPLETE", time=ts(3), outputs=[orders("id", ("email", "varchar"))]))
    write(store, run_event("COMPLETE", time=ts(4), outputs=[orders("id", ("email", "varchar"), "total")]))
    versions = store.schema_versions(ORDERS)
    assert [v.version for v in versions] == [3, 2, 1]
    assert [f.name for f in versions[0].fields] == ["id", "email", "total"]
    assert store.fields([ORDERS])[ORDERS][1].type == "varchar"


def test_an_older_schema_arriving_late_is_a_version_in_its_place(store: Store) -> None:
    write(store, run_event("COMPLETE", time=ts(5), outputs=[orders("id", "email", "total")]))
    write(store, run_event("COMPLETE", time=ts(1), outputs=[orders("id")]))
    # Not current (it is older), but history: the first version, the later one renumbered.
    assert [f.name for f in store.fields([ORDERS])[ORDERS]] == ["id", "email", "total"]
    assert [(v.version, v.created_at[:19], len(v.fields))
            for v in store.schema_versions(ORDERS)] == [
        (2, "2026-03-01T10:00:05", 3), (1, "2026-03-01T10:00:01", 1)]


def test_facets_merge_and_later_event_wins(store: Store) -> None:
    doc = {"documentation": {"description": "new orders"}}
    write(store, run_event("START", time=ts(1), outputs=[orders("id", d=doc,
          x={"acme_quality": {"score": 1}})]))
    write(store, run_event("COMPLETE", time=ts(3), outputs=[dataset(PG, "shop.public.orders",
          y={"acme_quality": {"score": 3}}, z={"acme_other": {"v": True}})]))
    write(store, run_event("COMPLETE", time=ts(2), outputs=[dataset(PG, "shop.public.orders",
          y={"acme_quality": {"score": 2}}, d={"documentation": {"description": "stale"}})]))
    ds = store.dataset(PG, "shop.public.orders")
    assert ds is not None
    assert ds.facets["acme_quality"] == {"score": 3}  # newest wins, stale one did not erase it
    assert ds.facets["acme_other"] == {"v": True}  # merged, not replaced
    assert "schema" in ds.facets  # kept from the first event
    assert ds.description == "new orders"


def test_tags_owners_and_field_classifications(store: Store) -> None:
    tags = {"tags": {"tags": [
        {"key": "purpose", "value": "billing", "source": "MANUAL"},
        {"key": "pii-allowed:pii.email"},
        {"key": "classification", "value": "pii.email", "field": "email"},
        {"key": "pii", "field": "phone"},
    ]}}
    owners = {"ownership": {"owners": [{"name": "team:payments", "type": "MAINTAINER"}]}}
    write(store, run_event("COMPLETE", outputs=[orders("id", "email", "phone", t=tags, o=owners)]))
    ds = store.dataset(PG, "shop.public.orders")
    assert ds is not None
    assert ds.tags == ["pii-allowed:pii.email", "purpose:billing"]
    assert ds.owners == ["team:payments"]
    fields = {f.name: f.classifications for f in store.fields([ORDERS])[ORDERS]}
    assert fields == {"id": [], "email": ["pii.email"], "phone": ["pii"]}


def test_job_facts_and_io(store: Store) -> None:
    raw = dataset(PG, "shop.public.raw_orders", s=schema("id"))
    write(store, run_event("COMPLETE", job=("etl", "load_orders"), inputs=[raw],
                           outputs=[orders("id")], job_facets={
        "sql": {"query": "INSERT INTO orders SELECT * FROM raw_orders"},
        "jobType": {"processingType": "BATCH", "integration": "DBT", "jobType": "MODEL"},
        "documentation": {"description": "loads orders"},
    }))
    job = store.job("etl", "load_orders")
    assert job is not None
    assert job.sql == "INSERT INTO orders SELECT * FROM raw_orders"
    assert job.job_type == "MODEL" and job.description == "loads orders"
    assert job.facets["sql"]["query"] == job.sql
    jid = job_id("etl", "load_orders")
    [bare, missing] = store.jobs_by_id([jid, job_id("etl", "nope")], facets=False)
    assert missing is None and bare is not None
    assert (bare.sql, bare.job_type, bare.facets) == (job.sql, "MODEL", {})
    raw_id = dataset_id(PG, "shop.public.raw_orders")
    assert store.job_datasets([jid]) == {jid: ([raw_id], [ORDERS])}
    assert store.dataset_jobs([ORDERS, raw_id]) == {ORDERS: ([jid], []), raw_id: ([], [jid])}


def test_runs_newest_first(store: Store) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, rid in enumerate(ids):
        write(store, run_event("START", run_id=rid, time=ts(10 + i), job=("etl", "j")))
    assert [r.id for r in store.runs(job_id("etl", "j"), 2)] == [ids[2], ids[1]]


def test_quality_assertions_become_results(store: Store) -> None:
    checked = dataset(PG, "shop.public.orders", s=schema("id"))
    checked["inputFacets"] = {"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "success": True, "column": "id"},
        {"assertion": "row_count_gt_0", "success": False},
    ]}}
    run_id = str(uuid.uuid4())
    event = run_event("COMPLETE", run_id=run_id, inputs=[checked])
    write(store, event, event)
    results = {(q.assertion, q.field, q.success, q.run_id, q.source)
               for q in store.quality_results(ORDERS)}
    assert results == {("not_null", "id", True, run_id, "openlineage"),
                       ("row_count_gt_0", None, False, run_id, "openlineage")}


def test_namespaces_with_colons_resolve(store: Store) -> None:
    write(store, run_event("COMPLETE", outputs=[dataset("postgres://h:5432", "a:b", s=schema("x"))]))
    ds = store.dataset("postgres://h:5432", "a:b")
    # The ':' of the name is escaped in the id, those of the namespace are not (catalog.ids).
    assert ds is not None and ds.id == "dataset:postgres://h:5432:a%3Ab"
    assert store.dataset("postgres://h:5432:a", "b") is None


def test_column_lineage_written_idempotently(store: Store) -> None:
    raw = dataset(PG, "raw", s=schema("email"))
    out = dataset(PG, "clean", s=schema("email_hash"),
                  c=column_lineage({"email_hash": [(PG, "raw", "email")]}, "TRANSFORMATION", True))
    event = run_event("COMPLETE", inputs=[raw], outputs=[out])
    assert write(store, event) == [True]
    assert write(store, event) == [False]
    ds = store.dataset(PG, "clean")
    assert ds is not None and "columnLineage" in ds.facets


def test_dead_letters_keep_payload_and_reason(store: Store) -> None:
    dl = store.add_dead_letter(b'{"bad": true}', "invalid event",
                               [{"pointer": "/run", "message": "Field required"}])
    (letter,) = store.dead_letters()
    assert letter.id == dl and letter.payload == b'{"bad": true}'
    assert letter.errors == [{"pointer": "/run", "message": "Field required"}]


def test_tokens_are_found_by_hash(store: Store) -> None:
    store.add_token("abc123", "ci", "producer")
    assert store.token_role("abc123") == "producer"
    assert store.token_role("nope") is None


def test_dataset_event_and_job_event(store: Store) -> None:
    write(store, {"eventTime": ts(1), "producer": "https://p", "schemaURL": "https://s",
                  "dataset": dataset(PG, "shop.public.orders", s=schema("id"))})
    write(store, {"eventTime": ts(2), "producer": "https://p", "schemaURL": "https://s",
                  "job": {"namespace": "etl", "name": "static"}, "inputs": [],
                  "outputs": [orders("id")]})
    assert store.dataset(PG, "shop.public.orders") is not None
    jid = job_id("etl", "static")
    assert store.job_datasets([jid])[jid] == ([], [ORDERS])


def test_quality_filters_and_latest_per_assertion(store: Store) -> None:
    def checked(success: bool, second: int, run_id: str) -> dict:
        d = dataset(PG, "shop.public.orders", s=schema("id"))
        d["inputFacets"] = {"dataQualityAssertions": {"assertions": [
            {"assertion": "not_null", "success": success, "column": "id"},
            {"assertion": "row_count", "success": True}]}}
        return run_event("COMPLETE", run_id=run_id, inputs=[d], time=ts(second))

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    write(store, checked(False, 1, first), checked(True, 2, second))
    assert [(q.assertion, q.success) for q in store.quality_results(ORDERS, failures_only=True)
            ] == [("not_null", False)]
    assert {q.run_id for q in store.quality_results(ORDERS, run_id=first)} == {first}
    assert [q.assertion for q in store.quality_results(ORDERS, field="id")] == [
        "not_null", "not_null"]
    latest = store.latest_quality([ORDERS])[ORDERS]
    assert [(q.assertion, q.success, q.run_id) for q in latest] == [
        ("not_null", True, second), ("row_count", True, second)]
