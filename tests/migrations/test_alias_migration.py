"""The alias index (schema version 9 embedded, 11-12 Neo4j) is built from what a store holds:
after the upgrade, an event naming only a location a stored table declared is that table; a
RENAME's old name stays a dataset of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import neo4j
import pytest

from headwater.catalog import Store, open_store
from headwater.catalog.ids import dataset_id
from headwater.ingestion.normalize import normalize
from tests.conftest import make_store
from tests.factories import dataset, run_event, schema, ts

LAKE, LOCATION, HIVE, TABLE = "s3://lake", "/warehouse/orders", "hive://metastore", "shop.orders"
DUCK = "duckdb://mart"


def before_the_upgrade(store: Store) -> None:
    store.write_events([normalize(e) for e in [
        run_event("COMPLETE", job=("spark", "load"), time=ts(1), outputs=[dataset(
            LAKE, LOCATION, s=schema("id"), y={"symlinks": {"identifiers": [
                {"namespace": HIVE, "name": TABLE, "type": "TABLE"}]}})]),
        run_event("COMPLETE", job=("dbt", "rename"), time=ts(2), outputs=[dataset(
            DUCK, "customers", s=schema("id"), f={"lifecycleStateChange": {
                "lifecycleStateChange": "RENAME",
                "previousIdentifier": {"namespace": DUCK, "name": "customers_v1"}}})]),
    ]])


def after_the_upgrade(store: Store) -> None:
    store.write_events([normalize(e) for e in [
        run_event("COMPLETE", job=("spark", "read"), time=ts(3),
                  inputs=[dataset(LAKE, LOCATION)], outputs=[dataset(DUCK, "report")]),
        run_event("COMPLETE", job=("dbt", "old"), time=ts(4),
                  outputs=[dataset(DUCK, "customers_v1", s=schema("id"))]),
    ]])
    assert store.dataset(LAKE, LOCATION) is None
    table = dataset_id(HIVE, TABLE)
    assert store.dataset_jobs([table])[table] == (["job:spark:load"], ["job:spark:read"])
    assert store.dataset(DUCK, "customers_v1") is not None  # a RENAME's old name: no alias


@pytest.mark.parametrize("backend", ["embedded"])
def test_the_embedded_alias_index_is_built_from_stored_symlinks(tmp_path: Path,
                                                               backend: str) -> None:
    path = tmp_path / "headwater.db"
    store = open_store(backend, path=path)
    before_the_upgrade(store)
    store.close()
    with sqlite3.connect(path) as db:  # as schema version 8 left it
        db.execute("DROP TABLE dataset_aliases")
        db.execute("ALTER TABLE quality_results DROP COLUMN name")  # step 10's
        for table in ("jobs", "datasets"):  # step 12's
            db.execute(f"ALTER TABLE {table} DROP COLUMN facts_digest")
        db.execute("PRAGMA user_version = 8")
    db.close()
    store = open_store(backend, path=path)
    try:
        after_the_upgrade(store)
    finally:
        store.close()


def test_the_neo4j_alias_index_is_built_from_stored_symlinks(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue("neo4j_service")
    store = make_store("neo4j", tmp_path, request)
    before_the_upgrade(store)
    store.close()
    user, password = env.get("HEADWATER_NEO4J_USER"), env.get("HEADWATER_NEO4J_PASSWORD")
    with (neo4j.GraphDatabase.driver(env["HEADWATER_NEO4J_URI"],
                                     auth=(user, password) if user else None) as driver,
          driver.session() as session):  # as schema version 10 left it
        session.run("MATCH (a:DatasetAlias) DELETE a").consume()
        session.run("DROP CONSTRAINT dataset_alias_id IF EXISTS").consume()
        session.run("DROP INDEX dataset_alias_dataset IF EXISTS").consume()
        session.run("MATCH (s:HeadwaterSchema) SET s.version = 10").consume()
    store = open_store("neo4j", uri=env["HEADWATER_NEO4J_URI"], user=user, password=password)
    try:
        after_the_upgrade(store)
    finally:
        store.close()
