"""Impact analysis on both backends over tests/lineage_graph.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog import Store
from headwater.lineage.impact import ImpactError, SchemaChange, analyse, assess, narrows
from tests.conftest import BACKENDS, make_store
from tests.lineage_graph import NS, d, f, j, load

# Each store through its queries, and through its in-memory copy of the graph.
WALKS = [(b, w) for b in BACKENDS for w in ("query", "memory")]


@pytest.fixture(params=WALKS, ids=[f"{b}-{w}" for b, w in WALKS])
def graph_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The graph, analysed by the store's queries, or by its in-memory copy."""
    backend, walk = request.param
    store = make_store(backend, tmp_path, request)
    try:
        if hasattr(store, "adjacency"):
            store.adjacency = "sync" if walk == "memory" else "off"
        load(store)
        yield store
    finally:
        store.close()


def test_dropping_a_field_reaches_columns_and_dataset_level_consumers(graph_store: Store) -> None:
    graph_store.classify_field(d("C"), "email", ["pii.email"])
    r = analyse(graph_store, SchemaChange(NS, "C", drop_fields=["email"]))
    assert r.breaking
    assert [(a.name, a.field, a.depth, a.path) for a in r.affected_fields] == [
        ("F", "email_hash", 1, [f("C", "email"), f("F", "email_hash")]),
        ("H", "contact", 2, [f("C", "email"), f("F", "email_hash"), f("H", "contact")]),
    ]
    assert [(a.name, a.depth) for a in r.affected_datasets] == [
        ("D", 1), ("E", 1), ("F", 1), ("G", 1), ("H", 2)]
    assert r.affected_jobs == [j("J2"), j("J3"), j("J4"), j("J5"), j("J6")]
    assert f"no column lineage reaches {d('E')}: it is counted as affected at dataset level " \
        "(its producer did not report which columns it reads)" in r.findings
    assert "warehouse://dw:5432 F.email_hash would lose its inherited pii.email classification " \
        "(email is dropped)" in r.findings


def test_renaming_a_join_key(graph_store: Store) -> None:
    r = analyse(graph_store, SchemaChange(NS, "B", rename_fields=[("id", "customer_key")]))
    assert [(a.name, a.field, a.depth) for a in r.affected_fields] == [("C", "customer_id", 1)]
    # D, E and G read C through jobs that report no column lineage: they may use customer_id.
    # F and H have column lineage from C, and none of it comes from customer_id.
    assert [(a.name, a.depth) for a in r.affected_datasets] == [("C", 1), ("D", 2), ("E", 2),
                                                                ("G", 2)]
    assert r.affected_jobs == [j("J1"), j("J2"), j("J3"), j("J5")] and r.breaking


def test_dropping_a_leaf_dataset_breaks_nothing(graph_store: Store) -> None:
    r = analyse(graph_store, SchemaChange(NS, "H", drop_dataset=True))
    assert not r.breaking
    assert (r.affected_fields, r.affected_datasets, r.affected_jobs) == ([], [], [])
    assert r.findings == ["nothing downstream reads what changes"]


def test_type_narrowing_and_watched_columns(graph_store: Store) -> None:
    from headwater.ingestion.normalize import normalize
    from tests.factories import dataset, run_event, schema

    checked = dataset(NS, "A", s=schema(("email", "varchar(200)")))
    checked["inputFacets"] = {"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "success": True, "column": "email"}]}}
    graph_store.write_events([normalize(run_event("COMPLETE", job=("etl", "check"),
                                                  inputs=[checked], time="2026-03-02T00:00:00Z"))])
    r = analyse(graph_store, SchemaChange(NS, "A", change_types=[("email", "varchar(20)")]))
    assert "email narrows from varchar(200) to varchar(20): downstream readers of it may " \
        "overflow or truncate" in r.findings
    assert [(a.name, a.field) for a in r.affected_fields] == [("C", "email"), ("F", "email_hash"),
                                                              ("H", "contact")]
    r = analyse(graph_store, SchemaChange(NS, "A", drop_fields=["email"]))
    assert "a quality assertion watches email, which is dropped" in r.findings


def test_unknown_dataset_or_field_is_a_clear_error(graph_store: Store) -> None:
    with pytest.raises(ImpactError, match="no dataset"):
        analyse(graph_store, SchemaChange(NS, "nope", drop_fields=["x"]))
    with pytest.raises(ImpactError, match="has no field 'nope'; its fields: email, customer_id"):
        analyse(graph_store, SchemaChange(NS, "C", drop_fields=["nope"]))


def test_narrowing_rules() -> None:
    assert narrows("bigint", "int") is True
    assert narrows("int", "bigint") is False
    assert narrows("numeric(12,2)", "numeric(12,0)") is True
    assert narrows("varchar(20)", "text") is False
    assert narrows("blob", "uuid") is None


def _more(store: Store) -> None:
    """J7 reads F and writes X (no column lineage); J8 reads C and writes nothing (a check);
    "J9, copy" is a second writer of F.email_hash, from C.email."""
    from headwater.ingestion.normalize import normalize
    from tests.factories import dataset, run_event, schema
    from tests.lineage_graph import _lineage

    store.write_events([normalize(e) for e in [
        run_event("COMPLETE", job=("etl", "J7"), inputs=[dataset(NS, "F", s=schema("email_hash"))],
                  outputs=[dataset(NS, "X", s=schema("x"))]),
        run_event("COMPLETE", job=("etl", "J8"), inputs=[dataset(NS, "C", s=schema("email"))]),
        run_event("COMPLETE", job=("etl", "J9, copy"), inputs=[dataset(NS, "C", s=schema("email"))],
                  outputs=[dataset(NS, "F", s=schema("email_hash"), c=_lineage({
                      "email_hash": [("C", "email", "DIRECT", "IDENTITY", False)]}))]),
    ]])


def test_dataset_level_impact_stops_where_column_lineage_says_what_is_read(
        graph_store: Store) -> None:
    _more(graph_store)
    r = analyse(graph_store, SchemaChange(NS, "B", rename_fields=[("id", "customer_key")]))
    # X reads F, and F's column lineage shows it takes nothing from customer_id.
    assert [a.name for a in r.affected_datasets] == ["C", "D", "E", "G"]
    # J8 reads C, which is affected, but only the changed dataset's own readers that write
    # nothing are listed: C's readers are judged by what they write.
    assert j("J8") not in r.affected_jobs and j("J7") not in r.affected_jobs


def test_every_job_deriving_an_affected_field_and_readers_that_write_nothing(
        graph_store: Store) -> None:
    _more(graph_store)
    r = analyse(graph_store, SchemaChange(NS, "C", drop_fields=["email"]))
    assert [(a.name, a.depth) for a in r.affected_datasets] == [
        ("D", 1), ("E", 1), ("F", 1), ("G", 1), ("H", 2), ("X", 2)]
    # Nearest first: the jobs writing depth-1 datasets (and J8, which reads C and writes
    # nothing), then those writing depth 2; by id within a depth.
    assert r.affected_jobs == [j(n) for n in ("J2", "J3", "J4", "J5", "J8", "J9, copy", "J6", "J7")]


def test_checks_on_affected_fields_and_datasets_are_in_the_report(graph_store: Store) -> None:
    """Issue 17 item 5: the check on a downstream field is part of the report, with its latest
    result; so are dataset-level checks of affected datasets and checks on the changed field."""
    from headwater.ingestion.normalize import normalize
    from tests.factories import dataset, run_event, schema

    def checked(name: str, *fields: str, assertions: list[dict[str, object]]) -> dict[str, object]:
        ds = dataset(NS, name, s=schema(*fields))
        ds["inputFacets"] = {"dataQualityAssertions": {"assertions": assertions}}
        return ds

    graph_store.write_events([normalize(e) for e in [
        run_event("COMPLETE", job=("dbt", "test_h"), time="2026-03-02T00:00:00Z", inputs=[
            checked("H", "contact", assertions=[
                {"assertion": "not_null", "success": True, "column": "contact"},
                {"assertion": "row_count", "success": True}])]),
        run_event("COMPLETE", job=("dbt", "test_h"), time="2026-03-03T00:00:00Z", inputs=[
            checked("H", "contact", assertions=[
                {"assertion": "not_null", "success": False, "column": "contact"}])]),
        run_event("COMPLETE", job=("dbt", "test_c"), time="2026-03-02T00:00:00Z", inputs=[
            checked("C", "email", "customer_id", assertions=[
                {"assertion": "unique", "success": True, "column": "email"},
                {"assertion": "not_null", "success": True, "column": "customer_id"}])]),
        # A check on a field nothing derives from the change: not affected.
        run_event("COMPLETE", job=("dbt", "test_g"), time="2026-03-02T00:00:00Z", inputs=[
            checked("G", "g", assertions=[
                {"assertion": "not_null", "success": True, "column": "g"}])]),
    ]])
    r = analyse(graph_store, SchemaChange(NS, "C", drop_fields=["email"]))
    assert [(c.name, c.field, c.assertion, c.last_success, c.depth) for c in r.affected_checks] == [
        ("C", "email", "unique", True, 0),        # the dropped field's own test
        ("H", None, "row_count", True, 2),       # a dataset-level check of an affected dataset
        ("H", "contact", "not_null", False, 2),  # the downstream field's test, latest result
    ]
    assert {c.source for c in r.affected_checks} == {"openlineage"}


def test_downstream_is_cut_by_depth_and_limit_and_says_so(graph_store: Store) -> None:
    whole = graph_store.downstream(d("A"), [f("A", "email")], 20, 100)
    assert [(x.id, x.depth, x.parent) for x in whole.fields] == [
        (f("C", "email"), 1, f("A", "email")), (f("F", "email_hash"), 2, f("C", "email")),
        (f("H", "contact"), 3, f("F", "email_hash"))]
    assert not whole.truncated
    shallow = graph_store.downstream(d("A"), [f("A", "email")], 2, 100)
    assert [x.id for x in shallow.fields] == [f("C", "email"), f("F", "email_hash")]
    assert shallow.truncated
    few = graph_store.downstream(d("A"), [f("A", "email")], 20, 1)
    assert [x.id for x in few.fields] == [f("C", "email")] and few.truncated


def test_a_page_and_the_totals_are_a_slice_of_the_whole_report(graph_store: Store) -> None:
    """What a screen asks for (totals and a page of each list, built for that page alone) is
    exactly the matching slice of the whole report (what `headwater impact --limit 0` reads)."""
    from headwater.ingestion.normalize import normalize
    from tests.factories import dataset, run_event, schema

    _more(graph_store)
    graph_store.write_events([normalize(run_event(
        "COMPLETE", job=("dbt", "test_h"), time="2026-03-02T00:00:00Z", inputs=[dict(
            dataset(NS, "H", s=schema("contact")), inputFacets={"dataQualityAssertions": {
                "assertions": [{"assertion": "not_null", "success": True, "column": "contact"},
                               {"assertion": "row_count", "success": False}]}})]))])
    owned = {"ownership": {"owners": [{"name": "team:b", "type": "MAINTAINER"},
                                      {"name": "team:a", "type": "MAINTAINER"}]}}
    graph_store.write_events([normalize(run_event(  # J5 again, now saying who owns G
        "COMPLETE", job=("etl", "J5"), inputs=[dataset(NS, "C", s=schema("email", "customer_id"))],
        outputs=[dataset(NS, "G", s=schema("g"), o=owned)]))])
    change = SchemaChange(NS, "C", drop_fields=["email"])
    whole = analyse(graph_store, change)
    paged = assess(graph_store, change)
    assert paged.totals() == (len(whole.affected_fields), len(whole.affected_datasets),
                              len(whole.affected_jobs), len(whole.affected_checks)) == (2, 6, 8, 2)
    assert (paged.breaking, paged.findings) == (whole.breaking, whole.findings)
    for first, offset in ((1, 0), (2, 1), (3, 4), (100, 0), (5, 6), (1, 100)):
        assert paged.fields(first, offset) == whole.affected_fields[offset:offset + first]
        assert paged.datasets(first, offset) == whole.affected_datasets[offset:offset + first]
        assert paged.jobs(first, offset) == whole.affected_jobs[offset:offset + first]
        assert paged.checks(first, offset) == whole.affected_checks[offset:offset + first]
    assert [(a.name, a.field, a.path) for a in paged.fields(1, 1)] == [
        ("H", "contact", [f("C", "email"), f("F", "email_hash"), f("H", "contact")])]
    assert [(a.name, a.owners) for a in paged.datasets(2, 2)] == [("F", []), ("G", ["team:a", "team:b"])]


def test_the_in_memory_graph_answers_only_while_it_is_current(store: Store) -> None:
    """Each store walks a copy of the graph held in memory: after a write that changes the
    graph, the copy never answers (the queries do while a new one builds); a run that repeats
    lineage already stored leaves the copy current."""
    from headwater.ingestion.normalize import normalize
    from tests.factories import dataset, run_event, schema
    from tests.lineage_graph import _lineage

    load(store)
    store.adjacency = "sync"  # type: ignore[attr-defined]
    change = SchemaChange(NS, "A", drop_fields=["email"])
    assert [a.name for a in analyse(store, change).affected_fields] == ["C", "F", "H"]
    copy = store._adjacency
    assert copy is not None

    def k(run: str) -> dict[str, object]:
        return normalize(run_event("COMPLETE", run_id=run, job=("etl", "J10"),
                                   inputs=[dataset(NS, "H", s=schema("contact"))],
                                   outputs=[dataset(NS, "K", s=schema("k"), c=_lineage({
                                       "k": [("H", "contact", "DIRECT", "IDENTITY", False)]}))]))

    store.write_events([k("00000000-0000-4000-8000-000000000001")])
    store.adjacency = "background"
    for _ in range(500):  # the query answers until a new copy is built (in a thread)
        assert [a.name for a in analyse(store, change).affected_fields] == ["C", "F", "H", "K"]
        if store._adjacency is not copy:
            break
        time.sleep(0.01)
    fresh = store._adjacency
    assert fresh is not copy and fresh is not None
    store.write_events([k("00000000-0000-4000-8000-000000000002")])  # the same lineage again
    store.adjacency = "sync"
    assert [a.name for a in analyse(store, change).affected_fields] == ["C", "F", "H", "K"]
    assert store._adjacency is fresh
    # Another job takes over that derivation: nothing is added, but the copy is stale.
    store.write_events([normalize(run_event(
        "COMPLETE", job=("etl", "J11"), inputs=[dataset(NS, "H", s=schema("contact"))],
        outputs=[dataset(NS, "K", s=schema("k"), c=_lineage({
            "k": [("H", "contact", "DIRECT", "IDENTITY", False)]}))]))])
    assert j("J11") in analyse(store, change).affected_jobs
    assert store._adjacency is not fresh
