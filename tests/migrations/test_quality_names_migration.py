"""dbt tests stored before results were keyed on the test's name (schema version 10 embedded,
13 Neo4j): two tests of one kind on one column of a run had collapsed into one result; the
migration splits them again from the stored events, one result per test."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import neo4j
import pytest

from headwater.catalog import Store, open_store
from headwater.catalog.ids import dataset_id
from headwater.catalog.rules import quality_result_id
from headwater.ingestion.normalize import normalize
from tests.conformance.test_producer_replay import two_tests_of_one_kind
from tests.conftest import make_store

STG = dataset_id("duckdb://shop.duckdb", "shop.main.stg_customers")
SPLIT = [("not_null_stg_customers_email", False), ("not_null_stg_customers_email__active", True)]


def email_checks(store: Store) -> list[tuple[str | None, bool]]:
    return sorted((q.name, q.success) for q in store.quality_results(STG) if q.field == "email")


def old_id(dataset: str, field: str | None, assertion: str, run: str) -> str:
    return quality_result_id(dataset, field, assertion, run, "openlineage")


def test_embedded_collapsed_dbt_tests_are_split_again(tmp_path: Path) -> None:
    path = tmp_path / "headwater.db"
    store = open_store("embedded", path=path)
    store.write_events([normalize(two_tests_of_one_kind())])
    store.close()
    with sqlite3.connect(path) as db:  # as schema version 9 stored them: one per kind
        rows = db.execute("SELECT id, dataset_id, field, assertion, run_id, success"
                          " FROM quality_results ORDER BY success").fetchall()
        db.execute("DELETE FROM quality_results")
        db.executemany("INSERT OR IGNORE INTO quality_results(id, dataset_id, field, assertion,"
                       " success, run_id, observed_at, source) VALUES (?,?,?,?,?,?,'t',"
                       "'openlineage')", [(old_id(ds, f, a, run), ds, f, a, ok, run)
                                          for _, ds, f, a, run, ok in rows])
        db.execute("ALTER TABLE quality_results DROP COLUMN name")
        for table in ("jobs", "datasets"):  # step 12's
            db.execute(f"ALTER TABLE {table} DROP COLUMN facts_digest")
        db.execute("PRAGMA user_version = 9")
    db.close()
    store = open_store("embedded", path=path)
    try:
        assert email_checks(store) == SPLIT
        assert len(store.quality_results(STG)) == 4
    finally:
        store.close()


def test_neo4j_collapsed_dbt_tests_are_split_again(tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue("neo4j_service")
    store = make_store("neo4j", tmp_path, request)
    store.write_events([normalize(two_tests_of_one_kind())])
    store.close()
    user, password = env.get("HEADWATER_NEO4J_USER"), env.get("HEADWATER_NEO4J_PASSWORD")
    with (neo4j.GraphDatabase.driver(env["HEADWATER_NEO4J_URI"],
                                     auth=(user, password) if user else None) as driver,
          driver.session() as session):  # as schema version 12 stored them: one per kind
        found = [dict(r) for r in session.run(
            "MATCH (q:Quality) RETURN q.id AS id, q.datasetId AS ds, q.field AS f,"
            " q.assertion AS a, q.runId AS run ORDER BY q.success")]
        keep: dict[str, str] = {}
        for r in found:
            keep.setdefault(old_id(r["ds"], r["f"], r["a"], r["run"]), r["id"])
        session.run("UNWIND $rows AS r MATCH (q:Quality {id: r.id}) DETACH DELETE q",
                    rows=[r for r in found if r["id"] not in keep.values()]).consume()
        session.run("UNWIND $rows AS r MATCH (q:Quality {id: r[1]}) SET q.id = r[0]"
                    " REMOVE q.name", rows=[list(p) for p in keep.items()]).consume()
        session.run("MATCH (s:HeadwaterSchema) SET s.version = 12").consume()
    store = open_store("neo4j", uri=env["HEADWATER_NEO4J_URI"], user=user, password=password)
    try:
        assert email_checks(store) == SPLIT
        assert len(store.quality_results(STG)) == 4
    finally:
        store.close()
