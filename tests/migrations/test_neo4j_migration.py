"""A Neo4j database made by Headwater 0.1.0 (before schema versioning) opens with today's code,
is migrated, and still holds every dataset, run, classification, decision and erasure request.

The fixture ``fixtures/neo4j-0.1.0.json`` is the whole graph the 0.1.0 release wrote (every
node, every relationship, and the constraints and indexes it had created). To make it again,
with the 0.1.0 release installed in a folder (``pip install --target /tmp/old-hw`` of it), from
outside the repository (so that ``headwater`` is the old release and ``tests`` this one)::

    cd /tmp && PYTHONPATH=/tmp/old-hw:$REPO $REPO/.venv/bin/python \
        -m tests.migrations.test_neo4j_migration

which starts a Neo4j, opens the 0.1.0 store on it, runs ``release_0_1_0.populate`` and
``check``, and writes the fixture with ``export_graph`` below.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from headwater.catalog import open_store
from headwater.catalog.errors import SchemaTooNew
from headwater.catalog.ids import dataset_id, job_id
from headwater.catalog.migrations import describe
from headwater.catalog.neo4j.migrations import STEPS
from headwater.catalog.resolving import resolve
from headwater.ingestion.normalize import normalize
from tests.conftest import _wipe_neo4j
from tests.factories import dataset, run_event, ts
from tests.migrations import colon_names, release_0_1_0

FIXTURE = Path(__file__).parent / "fixtures" / "neo4j-0.1.0.json"
# Written by the code of schema version 3, when names with ':' were keyed as written
# (tests/migrations/colon_names.py makes it).
COLON_NAMES = Path(__file__).parent / "fixtures" / "neo4j-colon-names.json"


# ---------------------------------------------------------------- export (run with 0.1.0)


def _to_json(props: dict[str, Any]) -> dict[str, Any]:
    # A property is never a map in Neo4j, so {"base64": ...} stands for a byte array unambiguously.
    return {k: {"base64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
            for k, v in props.items()}


def _from_json(props: dict[str, Any]) -> dict[str, Any]:
    return {k: base64.b64decode(v["base64"]) if isinstance(v, dict) else v
            for k, v in props.items()}


def export_graph(driver: Any) -> dict[str, Any]:
    """Every node (labels, properties), every relationship (type, properties, start and end as
    indexes into the node list), and the constraints and indexes, as plain JSON."""
    nodes = [{"id": r["id"], "labels": sorted(r["labels"]), "props": _to_json(r["props"])}
             for r in driver.execute_query(
                 "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels,"
                 " properties(n) AS props")[0]]
    # Sorted so that the file reads the same whatever order the database returns.
    nodes.sort(key=lambda r: (r["labels"], json.dumps(r["props"], sort_keys=True)))
    index = {r["id"]: i for i, r in enumerate(nodes)}
    rels = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props,"
        " elementId(b) AS b")[0]
    relationships = sorted(
        ({"type": r["type"], "start": index[r["a"]], "end": index[r["b"]],
          "properties": _to_json(r["props"])} for r in rels),
        key=lambda r: (r["type"], r["start"], r["end"], json.dumps(r["properties"], sort_keys=True)))
    constraints = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, createStatement RETURN name, createStatement ORDER BY name")[0]
    # Indexes a constraint owns come back with the constraint; token lookup indexes are the
    # database's own.
    indexes = driver.execute_query(
        "SHOW INDEXES YIELD name, type, owningConstraint, createStatement"
        " WHERE owningConstraint IS NULL AND type <> 'LOOKUP'"
        " RETURN name, createStatement ORDER BY name")[0]
    return {
        "made_by": "Headwater 0.1.0 (tests.migrations.release_0_1_0.populate)",
        "constraints": [dict(r) for r in constraints],
        "indexes": [dict(r) for r in indexes],
        "nodes": [{"labels": r["labels"], "properties": r["props"]} for r in nodes],
        "relationships": relationships,
    }


def _make_fixture() -> None:
    import neo4j

    from headwater.catalog.neo4j_store import Neo4jStore  # type: ignore[import-not-found]
    from tests.harness.services import ensure_neo4j
    from tests.migrations import release_0_1_0

    svc = ensure_neo4j()
    try:
        uri = svc.env["HEADWATER_NEO4J_URI"]
        store = Neo4jStore(uri)
        release_0_1_0.populate(store)
        release_0_1_0.check(store)
        store.close()
        with neo4j.GraphDatabase.driver(uri) as driver:
            graph = export_graph(driver)
        FIXTURE.write_text(json.dumps(graph, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE}: {len(graph['nodes'])} nodes, "
              f"{len(graph['relationships'])} relationships")
    finally:
        svc.stop()



# ---------------------------------------------------------------- the tests (today's code)


def _options(env: dict[str, str]) -> dict[str, Any]:
    return {"uri": env["HEADWATER_NEO4J_URI"], "user": env.get("HEADWATER_NEO4J_USER"),
            "password": env.get("HEADWATER_NEO4J_PASSWORD")}


@pytest.fixture
def driver(neo4j_service: dict[str, str]) -> Iterator[neo4j.Driver]:
    user = neo4j_service.get("HEADWATER_NEO4J_USER")
    auth = (user, neo4j_service.get("HEADWATER_NEO4J_PASSWORD") or "") if user else None
    with neo4j.GraphDatabase.driver(neo4j_service["HEADWATER_NEO4J_URI"], auth=auth) as d:
        yield d


def _schema(driver: neo4j.Driver) -> set[str]:
    """Names of the constraints and indexes (but the database's own token lookup indexes)."""
    indexes = driver.execute_query("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'"
                                   " RETURN name")[0]
    constraints = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")[0]
    return {r["name"] for r in (*indexes, *constraints)}


@pytest.fixture
def release_0_1_0_database(neo4j_service: dict[str, str], driver: neo4j.Driver
                           ) -> dict[str, Any]:
    """The test Neo4j made exactly what 0.1.0 left: its constraints, indexes and graph."""
    return load_graph(neo4j_service, driver, FIXTURE)


def load_graph(neo4j_service: dict[str, str], driver: neo4j.Driver, fixture: Path
               ) -> dict[str, Any]:
    """The test Neo4j made exactly what ``fixture`` holds: constraints, indexes and graph."""
    graph = json.loads(fixture.read_text())
    _wipe_neo4j(neo4j_service)
    for name in _schema(driver):  # a constraint's own index goes with the constraint
        driver.execute_query(f"DROP CONSTRAINT `{name}` IF EXISTS")
        driver.execute_query(f"DROP INDEX `{name}` IF EXISTS")
    for item in (*graph["constraints"], *graph["indexes"]):
        driver.execute_query(item["createStatement"])
    by_labels: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for i, node in enumerate(graph["nodes"]):
        by_labels.setdefault(tuple(node["labels"]), []).append(
            {"i": i, "props": _from_json(node["properties"])})
    by_type: dict[str, list[dict[str, Any]]] = {}
    for rel in graph["relationships"]:
        by_type.setdefault(rel["type"], []).append(
            {"a": rel["start"], "b": rel["end"], "props": _from_json(rel["properties"])})

    def load(tx: neo4j.ManagedTransaction) -> None:
        # One statement per kind of node and per kind of relationship (labels and types
        # cannot be parameters); relationships find their ends by element id.
        ids: dict[int, str] = {}
        for labels, rows in by_labels.items():
            label = ":".join(f"`{x}`" for x in labels)
            for r in tx.run(f"UNWIND $rows AS r CREATE (n:{label}) SET n = r.props"
                            " RETURN r.i AS i, elementId(n) AS id", rows=rows):
                ids[r["i"]] = r["id"]
        for type_, rows in by_type.items():
            tx.run(f"UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.a"
                   " MATCH (b) WHERE elementId(b) = r.b"
                   f" CREATE (a)-[x:`{type_}`]->(b) SET x = r.props",
                   rows=[{**r, "a": ids[r["a"]], "b": ids[r["b"]]} for r in rows]).consume()

    with driver.session() as session:
        session.execute_write(load)
    assert _schema(driver) == {c["name"] for c in (*graph["constraints"], *graph["indexes"])}
    return graph


def test_a_0_1_0_database_is_migrated_and_keeps_everything(
        neo4j_service: dict[str, str], driver: neo4j.Driver,
        release_0_1_0_database: dict[str, Any]) -> None:
    store = open_store("neo4j", migrate=False, **_options(neo4j_service))
    try:
        assert store.schema_version() == 0
        assert store.migrate() == [describe(s) for s in STEPS]
        assert store.schema_version() == len(STEPS)
        release_0_1_0.check(store)
    finally:
        store.close()
    schema = _schema(driver)
    assert {c["name"] for c in release_0_1_0_database["constraints"]} <= schema
    assert "headwater_schema_id" in schema
    # A second start finds the database current and runs nothing.
    again = open_store("neo4j", **_options(neo4j_service))
    try:
        assert again.schema_version() == len(STEPS)
        assert again.migrate() == []
        release_0_1_0.check(again)
    finally:
        again.close()
    assert _schema(driver) == schema


def test_0_1_0_tokens_sharing_a_name_keep_working_under_distinct_names(
        neo4j_service: dict[str, str], driver: neo4j.Driver,
        release_0_1_0_database: dict[str, Any]) -> None:
    # 0.1.0 named every token created without --name "<role>-token".
    driver.execute_query(
        "UNWIND $rows AS r CREATE (:Token {hash: r.hash, name: r.name, role: r.role,"
        " createdAt: r.at})",
        rows=[{"hash": "b" * 64, "name": "producer-token", "role": "producer",
               "at": "2026-03-01T10:00:00+00:00"},
              {"hash": "c" * 64, "name": "producer-token", "role": "producer",
               "at": "2026-03-02T10:00:00+00:00"},
              {"hash": "d" * 64, "name": "ci-producer", "role": "viewer",
               "at": "2026-03-03T10:00:00+00:00"}])
    store = open_store("neo4j", **_options(neo4j_service))
    try:
        release_0_1_0.check(store)
        names = [t.name for t in store.tokens()]
        assert len(names) == len(set(names)) == 4
        assert {store.token_role(h * 64) for h in "abcd"} == {"producer", "viewer"}
        assert store.token("b" * 64).name == "producer-token"  # type: ignore[union-attr]
    finally:
        store.close()
    assert "token_name" in _schema(driver)


def test_a_database_newer_than_the_code_is_refused_untouched(
        neo4j_service: dict[str, str], driver: neo4j.Driver,
        release_0_1_0_database: dict[str, Any]) -> None:
    driver.execute_query("CREATE (:HeadwaterSchema {id: 'headwater', version: $v})",
                         v=len(STEPS) + 1)
    before, schema = export_graph(driver), _schema(driver)
    with pytest.raises(SchemaTooNew, match=f"schema version {len(STEPS) + 1}"):
        open_store("neo4j", **_options(neo4j_service))
    assert export_graph(driver) == before
    assert _schema(driver) == schema  # no constraint or index was created either


if __name__ == "__main__":
    _make_fixture()


def test_names_with_colons_move_to_ids_that_cannot_collide(
        neo4j_service: dict[str, str], driver: neo4j.Driver) -> None:
    graph = load_graph(neo4j_service, driver, COLON_NAMES)
    assert {"labels": ["HeadwaterSchema"], "properties": {"id": "headwater", "version": 3}} in (
        graph["nodes"])
    store = open_store("neo4j", migrate=False, **_options(neo4j_service))
    try:
        assert store.schema_version() == 3
        assert store.migrate() == [describe(s) for s in STEPS[3:]]
        colon_names.check(store)
        orders = dataset_id(colon_names.NS, colon_names.ORDERS)
        assert resolve(store, f"dataset:{colon_names.NS}:{colon_names.ORDERS}") == orders
        store.write_events([normalize(run_event(
            "COMPLETE", job=colon_names.JOB, time=ts(9),
            inputs=[dataset(colon_names.NS, colon_names.ORDERS)],
            outputs=[dataset(colon_names.NS, colon_names.SUMMARY)]))])
        assert store.datasets_page(colon_names.NS, None, None, 10, None)[1] == 2
        colon_names.check(store)
        assert store.migrate() == []
    finally:
        store.close()


def test_a_run_0_1_0_linked_to_two_jobs_counts_under_its_own_job_only(
        neo4j_service: dict[str, str], driver: neo4j.Driver) -> None:
    """0.1.0 linked a run to every job whose events named its id; a job's run list counts
    its links (reads.runs_page), so the migration keeps only the link to the run's own job."""
    _wipe_neo4j(neo4j_service)
    own, other = ("etl", "owner"), ("etl", "intruder")
    store = open_store("neo4j", **_options(neo4j_service))
    try:
        runs = [run_event("COMPLETE", job=own, time=ts(i)) for i in range(2)]
        store.write_events([normalize(e) for e in
                            [*runs, run_event("COMPLETE", job=other, time=ts(5))]])
    finally:
        store.close()
    # As 0.1.0 left it after an event of the other job reused the first run's id.
    driver.execute_query("MATCH (r:Run {id: $run}), (j:Job {id: $job})"
                         " CREATE (r)-[:RUN_OF]->(j)",
                         run=runs[0]["run"]["runId"], job=job_id(*other))
    step = next(s for s in STEPS if "linked to its own job only" in s.description)
    driver.execute_query("MATCH (s:HeadwaterSchema) SET s.version = $v", v=step.version - 1)
    store = open_store("neo4j", migrate=False, **_options(neo4j_service))
    try:
        assert store.runs_page(job_id(*other), None, None, None, None, 10, None)[1] == 2
        assert describe(step) in store.migrate()
        for job, n in ((own, 2), (other, 1)):
            page, total = store.runs_page(job_id(*job), None, None, None, None, 10, None)
            assert total == len(page) == n
    finally:
        store.close()
