"""Schema migrations for Neo4j: the stored version and the ordered steps to the code's.

The version is one node, ``(:HeadwaterSchema {id: "headwater"})``, with a ``version``
property; a database without it is at version 0 (made by 0.1.0, or empty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import neo4j
import orjson

from headwater.catalog.attempts import from_payload
from headwater.catalog.migrations import Step, describe, pending
from headwater.catalog.neo4j.aliases import ALIAS_INDEXES, build_aliases
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import GRAPH_NODE, unwind
from headwater.catalog.neo4j.rekey import rekey
from headwater.catalog.neo4j.search import SEARCH_INDEXES, build_index
from headwater.catalog.neo4j.writes import settle_runs
from headwater.catalog.quality_names import splits

SCHEMA_NODE = "headwater"

# The constraints and indexes Headwater 0.1.0 created at every start.
RELEASE_0_1_0 = [
    *(f"CREATE CONSTRAINT {label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
      for label, key in (("Event", "id"), ("Dataset", "id"), ("Job", "id"), ("Run", "id"),
                         ("Field", "id"), ("Facet", "key"), ("Quality", "id"),
                         ("DeadLetter", "id"), ("Token", "hash"), ("Namespace", "name"))),
    "CREATE INDEX dataset_ns_name IF NOT EXISTS FOR (n:Dataset) ON (n.namespace, n.name)",
    "CREATE INDEX job_ns_name IF NOT EXISTS FOR (n:Job) ON (n.namespace, n.name)",
    "CREATE INDEX schema_dataset IF NOT EXISTS FOR (n:SchemaVersion) ON (n.datasetId)",
    "CREATE INDEX run_job IF NOT EXISTS FOR (n:Run) ON (n.jobId)",
    "CREATE INDEX quality_dataset IF NOT EXISTS FOR (n:Quality) ON (n.datasetId)",
    "CREATE INDEX derives_job IF NOT EXISTS FOR ()-[e:DERIVES]-() ON (e.jobId)",
    "CREATE INDEX facet_owner IF NOT EXISTS FOR (n:Facet) ON (n.owner)",
    "CREATE INDEX decision_time IF NOT EXISTS FOR (n:Decision) ON (n.time)",
    "CREATE INDEX decision_run IF NOT EXISTS FOR (n:Decision) ON (n.runId)",
    "CREATE CONSTRAINT erasure_id IF NOT EXISTS FOR (n:Erasure) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX erasure_status IF NOT EXISTS FOR (n:Erasure) ON (n.status, n.receivedAt)",
    "CREATE INDEX erasure_received IF NOT EXISTS FOR (n:Erasure) ON (n.receivedAt)",
    # Erasure discovery starts from the classified fields: an index scan of those, not a label
    # scan of every field (range indexes hold list values; IS NOT NULL scans them).
    "CREATE INDEX field_tag_classes IF NOT EXISTS FOR (n:Field) ON (n.tagClasses)",
    "CREATE INDEX field_steward_classes IF NOT EXISTS FOR (n:Field) ON (n.stewardClasses)",
    "CREATE CONSTRAINT erasure_audit_key IF NOT EXISTS FOR (n:ErasureAudit)"
    " REQUIRE (n.requestId, n.seq) IS UNIQUE",
]


def _commands(statements: Sequence[str]) -> Callable[[neo4j.ManagedTransaction], None]:
    def apply(tx: neo4j.ManagedTransaction) -> None:
        for statement in statements:
            tx.run(statement).consume()
    return apply


def _replay_runs(tx: neo4j.ManagedTransaction) -> None:
    """Runs stored before step 4: their sort time, and their events' state transitions
    replayed from the stored events, so their attempts (and state) are what the events said."""
    tx.run("MATCH (r:Run) WHERE r.sortTime IS NULL"
           " SET r.sortTime = coalesce(r.startedAt, r.createdAt)").consume()
    found: dict[str, list[str]] = {}
    for record in tx.run("MATCH (e:Event {kind: 'run'}) RETURN e.payload AS p, e.eventTime AS t"):
        parsed = from_payload(bytes(record["p"]), record["t"])
        if parsed is not None:
            run, t = parsed
            found.setdefault(run, []).append(orjson.dumps(
                [t.event_time, t.event_type, t.state, t.error_message, t.try_number]).decode())
    ids = sorted(found)
    for i in range(0, len(ids), 1_000):
        chunk = ids[i:i + 1_000]
        unwind(tx, "UNWIND $rows AS r MATCH (run:Run {id: r.id})"
               " SET run.transitions = r.transitions",
               [{"id": run, "transitions": found[run]} for run in chunk])
        settle_runs(tx, chunk)


def _named_checks(tx: neo4j.ManagedTransaction) -> None:
    """Idempotent: a result already split has a name, and is not replaced again."""
    events = [(r["t"], bytes(r["p"])) for r in tx.run(
        "MATCH (e:Event {kind: 'run'}) RETURN e.eventTime AS t, e.payload AS p")]
    found = splits((t, p) for t, p in events if b"dataQualityAssertions" in p)
    stored = {r["id"] for r in tx.run(
        "UNWIND $ids AS id MATCH (q:Quality {id: id}) WHERE q.name IS NULL RETURN id",
        ids=[s.old_id for s in found])}
    todo = [s for s in found if s.old_id in stored]
    unwind(tx, "UNWIND $rows AS id MATCH (q:Quality {id: id}) DELETE q",
           [s.old_id for s in todo])
    unwind(tx, "UNWIND $rows AS r MERGE (q:Quality {id: r.id}) ON CREATE SET"
           " q.datasetId = r.dataset, q.field = r.field, q.assertion = r.assertion,"
           " q.success = r.success, q.runId = r.run, q.observedAt = r.t,"
           " q.source = 'openlineage', q.value = 'null', q.name = r.name",
           [row for s in todo for row in s.rows()])


# Every step must be idempotent (IF NOT EXISTS, MERGE): see ``migrate``.
STEPS: list[Step[neo4j.ManagedTransaction]] = [
    Step(1, "constraints and indexes of 0.1.0, and the schema version node's",
         _commands([*RELEASE_0_1_0,
                    "CREATE CONSTRAINT headwater_schema_id IF NOT EXISTS"
                    " FOR (n:HeadwaterSchema) REQUIRE n.id IS UNIQUE"])),
    # Token names become unique: tokens sharing one (0.1.0 named every unnamed token
    # "<role>-token") keep it for the oldest, the others get "-<n>" appended. Data first, the
    # constraint in the next step: Neo4j refuses both in one transaction.
    Step(2, "tokens: distinct names", _commands([
        "MATCH (t:Token) WITH t ORDER BY t.createdAt, t.hash"
        " WITH t.name AS name, collect(t) AS same WHERE size(same) > 1"
        " UNWIND range(1, size(same) - 1) AS i"
        " WITH same[i] AS t, i SET t.name = t.name + '-' + toString(i + 1)"])),
    Step(3, "tokens: unique names", _commands([
        "CREATE CONSTRAINT token_name IF NOT EXISTS FOR (n:Token) REQUIRE n.name IS UNIQUE"])),
    # Every schema a dataset was seen with, so its history does not depend on arrival order
    # (catalog/schema_history.py). The index first; existing versions are their own first
    # observations, written in the next step (schema commands and data: two transactions).
    Step(4, "schema observations: index", _commands([
        "CREATE INDEX schema_observation IF NOT EXISTS"
        " FOR (n:SchemaObservation) ON (n.datasetId, n.t)"])),
    Step(5, "schema observations: from the existing versions", _commands([
        "MATCH (s:SchemaVersion) MERGE (o:SchemaObservation {datasetId: s.datasetId,"
        " t: s.createdAt, fingerprint: s.fingerprint})"
        " ON CREATE SET o.runId = coalesce(s.runId, '')",
        "MATCH (d:Dataset) WHERE d.schemaVersion IS NOT NULL AND d.schemaSeenAt IS NULL"
        " MATCH (s:SchemaVersion {datasetId: d.id})"
        " WITH d, max(s.createdAt) AS seen SET d.schemaSeenAt = seen"])),
    # Catalog search: the indexes first, the documents of what is stored in the next step.
    Step(6, "catalog search: a full-text index of datasets, fields and jobs",
         _commands(SEARCH_INDEXES)),
    Step(7, "catalog search: index what is stored", build_index),
    Step(8, "runs: indexes to list them newest first (per job and over all) and by parent",
         _commands([
             "CREATE INDEX run_job_newest IF NOT EXISTS FOR (n:Run) ON (n.jobId, n.sortTime)",
             "CREATE INDEX run_newest IF NOT EXISTS FOR (n:Run) ON (n.sortTime)",
             "CREATE INDEX run_parent IF NOT EXISTS FOR (n:Run) ON (n.parentRunId)"])),
    Step(9, "runs: sort times, and attempts replayed from the stored run events", _replay_runs),
    # Idempotent as every step: a node already at its new id is not found again.
    Step(10, "ids that cannot collide: nodes whose name or field holds ':' or '%' re-keyed",
         rekey),
    # Other names of a dataset: the index first, then the aliases of the stored symlinks
    # (schema commands and data: two transactions).
    Step(11, "other names of a dataset: alias index", _commands(ALIAS_INDEXES)),
    Step(12, "other names of a dataset: the aliases the stored symlinks declare (a RENAME's"
             " old name is none)", build_aliases),
    Step(13, "quality results keyed on the check's own name (dbt tests): results of one kind"
             " on one column of one run split again from the stored events", _named_checks),
    # A job's run count is the degree of its RUN_OF relationships (reads.runs_page): each run
    # has one, to its own job. Before a run id was refused for another job, 0.1.0 linked a
    # run to every job whose events named it; its jobId is the first, the one it lists under.
    Step(14, "runs: each linked to its own job only, as the run lists count them", _commands([
        "MATCH (r:Run)-[x:RUN_OF]->(j:Job) WHERE j.id <> r.jobId DELETE x",
        "MATCH (r:Run) WHERE NOT EXISTS { (r)-[:RUN_OF]->() }"
        " MATCH (j:Job {id: r.jobId}) MERGE (r)-[:RUN_OF]->(j)"])),
    # Impact analysis walks an in-memory copy of the graph only while this counter is the one
    # it was built at (catalog.adjacency); writes that change the graph bump it.
    Step(15, "impact analysis: a counter of changes to the lineage graph", _commands([
        f"MERGE (g:{GRAPH_NODE} {{id: 1}}) ON CREATE SET g.version = 0"])),
]


class Migrations(Connection):
    def schema_version(self) -> int:
        rows = self._read("MATCH (s:HeadwaterSchema {id: $id}) RETURN s.version AS version",
                          id=SCHEMA_NODE)
        return int(rows[0]["version"]) if rows else 0

    def migrate(self) -> list[str]:
        done = []
        for step in pending(STEPS, self.schema_version(), f"the Neo4j database at {self.uri}"):
            # Neo4j refuses schema commands and data writes in one transaction, so the step
            # runs in one and its version is recorded in the next. Steps are idempotent: a
            # crash between the two leaves the old version, and the next start runs the step
            # again harmlessly. The version never goes down (two servers starting at once).
            self._write_tx(step.apply)
            self._edit("MERGE (s:HeadwaterSchema {id: $id})"
                       " SET s.version = CASE WHEN coalesce(s.version, 0) < $version"
                       " THEN $version ELSE s.version END", id=SCHEMA_NODE, version=step.version)
            done.append(describe(step))
        return done
