"""The Neo4j store: Neo4j 5 over Bolt with the official driver.

Graph: ``(:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->(:Dataset)``, ``(:Field)-[:DERIVES]->(:Field)``
for column lineage, ``(:Run)`` linked to its job and to the datasets it read and wrote, plus
schema versions, facets, quality results, events (for idempotency), dead letters and tokens.

A batch is written in one transaction of one ``UNWIND`` statement per kind of write. The batch
is folded in Python first (``catalog.batching``) so each node appears once per statement and
the merge rules (newest facet wins, run states never regress) are plain CASE expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import neo4j
import orjson
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired
from neo4j.graph import Node

from headwater.catalog.batching import facet_owners, folded_runs, latest_per_key, merged_per_id
from headwater.catalog.errors import StoreError
from headwater.catalog.ids import digest, field_id, node_kind
from headwater.catalog.model import (
    DatasetRecord,
    DeadLetter,
    DecisionRecord,
    Downstream,
    EventWrite,
    FieldRecord,
    Flow,
    Graph,
    GraphEdge,
    GraphNode,
    JobRecord,
    QualityRecord,
    ReachedField,
    RunRecord,
    SchemaVersionRecord,
)
from headwater.catalog.rules import TERMINAL_STATES, retention_days

CONSTRAINTS = [
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

INHERIT_DEPTH = 20
# Derivations that carry classifications: not masking, not declassified by a steward.
_CARRIES = "DERIVES WHERE NOT r.masking AND NOT coalesce(r.declassified, false)"
_CLASSES = "coalesce(f.tagClasses, []) + coalesce(f.stewardClasses, [])"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _run(tx: neo4j.ManagedTransaction, query: str, rows: list[Any], **params: Any) -> None:
    """One UNWIND statement, skipped when there is nothing to write (a round trip saved)."""
    if rows:
        tx.run(query, params, rows=rows).consume()


def _newer(var: str, key: str) -> str:
    """Cypher twin of the embedded store's rule: a non-null incoming value that is at least as
    recent as the node replaces it."""
    return (f"{var}.{key} = CASE WHEN r.{key} IS NOT NULL AND ({var}.{key} IS NULL"
            f" OR r.t >= {var}.updatedAt) THEN r.{key} ELSE {var}.{key} END")


def _union(var: str, key: str, incoming: str) -> str:
    return (f"{var}.{key} = coalesce({var}.{key}, []) + "
            f"[x IN {incoming} WHERE NOT x IN coalesce({var}.{key}, [])]")


class Neo4jStore:
    def __init__(self, uri: str, user: str | None = None, password: str | None = None,
                 database: str | None = None) -> None:
        self.uri = uri
        self.database = database
        self._driver = neo4j.GraphDatabase.driver(
            uri, auth=(user, password or "") if user else None,
            max_connection_pool_size=50, connection_acquisition_timeout=30)
        try:
            for statement in CONSTRAINTS:
                self._driver.execute_query(statement, database_=database)
        except (ServiceUnavailable, SessionExpired, Neo4jError, OSError) as exc:
            self._driver.close()
            raise StoreError(f"cannot reach Neo4j at {uri}: {exc}. Is it running, and are "
                             "HEADWATER_NEO4J_URI/_USER/_PASSWORD right?") from exc

    # -- plumbing ---------------------------------------------------------------------------

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        try:
            records, _, keys = self._driver.execute_query(
                query, params, database_=self.database, routing_=neo4j.RoutingControl.READ)
        except (ServiceUnavailable, SessionExpired, Neo4jError, OSError) as exc:
            raise StoreError(f"Neo4j read failed: {exc}") from exc
        # Record.data() converts every value recursively (most of the cost of a large read);
        # only nodes returned whole need converting, and they are only ever top level.
        return [{k: dict(v) if isinstance(v, Node) else v for k, v in zip(keys, r, strict=True)}
                for r in records]

    def _write_tx(self, work: Any) -> Any:
        try:
            with self._driver.session(database=self.database) as session:
                return session.execute_write(work)
        except (ServiceUnavailable, SessionExpired, Neo4jError, OSError) as exc:
            raise StoreError(f"Neo4j write failed, nothing was stored: {exc}") from exc

    def schema_version(self) -> int:
        return 0  # versioning arrives with the first migration step

    def migrate(self) -> list[str]:
        return []

    def ping(self) -> None:
        self._read("RETURN 1 AS ok")

    def close(self) -> None:
        self._driver.close()

    # -- writes -----------------------------------------------------------------------------

    def write_events(self, events: Sequence[EventWrite]) -> list[bool]:
        fresh: list[bool] = []

        def work(tx: neo4j.ManagedTransaction) -> None:
            ids = list({e.event_id for e in events})
            known = {r["id"] for r in tx.run(
                "UNWIND $ids AS id MATCH (e:Event {id: id}) RETURN e.id AS id", ids=ids)}
            fresh.clear()
            for e in events:
                fresh.append(e.event_id not in known)
                known.add(e.event_id)
            self._write(tx, [e for e, new in zip(events, fresh, strict=True) if new])

        self._write_tx(work)
        return fresh

    def _write(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        if not events:
            return
        now = _now()
        _run(tx, "UNWIND $rows AS r CREATE (:Event {id: r.id, kind: r.kind, eventTime: r.t,"
               " receivedAt: $now, payload: r.payload})",
               [{"id": e.event_id, "kind": e.kind, "t": e.event_time, "payload": e.payload}
                     for e in events], now=now)
        namespaces = {d.namespace for e in events for d in e.all_datasets()}
        namespaces |= {e.job.namespace for e in events if e.job}
        tx.run("UNWIND $names AS n MERGE (x:Namespace {name: n}) ON CREATE SET x.createdAt = $now",
               names=sorted(namespaces), now=now)
        self._write_jobs(tx, events)
        self._write_datasets(tx, events)
        inputs = {(d.id, e.job.id) for e in events if e.job for d in e.inputs}
        outputs = {(e.job.id, d.id) for e in events if e.job for d in e.outputs}
        _run(tx, "UNWIND $rows AS r MATCH (a:Dataset {id: r[0]}), (b:Job {id: r[1]})"
               " MERGE (a)-[:INPUT_TO]->(b)", [list(x) for x in inputs])
        _run(tx, "UNWIND $rows AS r MATCH (a:Job {id: r[0]}), (b:Dataset {id: r[1]})"
               " MERGE (a)-[:PRODUCES]->(b)", [list(x) for x in outputs])
        versions = self._write_schemas(tx, events)
        self._write_runs(tx, events, versions)
        self._write_column_edges(tx, events)
        facets = latest_per_key(
            ((node, name, e.event_time, body) for e in events
             for node, fmap in facet_owners(e) for name, body in fmap.items()), key=2, time=2)
        _run(tx, "UNWIND $rows AS r MERGE (f:Facet {key: r.key})"
               " ON CREATE SET f.owner = r.owner, f.name = r.name, f.eventTime = r.t,"
               "  f.body = r.body"
               " WITH f, r, r.t >= f.eventTime AS newer"
               " SET f.body = CASE WHEN newer THEN r.body ELSE f.body END,"
               "  f.eventTime = CASE WHEN newer THEN r.t ELSE f.eventTime END",
               [{"key": f"{n}|{k}", "owner": n, "name": k, "t": t,
                      "body": orjson.dumps(b).decode()} for n, k, t, b in facets])

    def _write_jobs(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        jobs = [(e.job, e.event_time) for e in events if e.job]
        if not jobs:
            return
        rows = merged_per_id([(j.id, j.namespace, j.name, j.description, j.job_type,
                               j.processing_type, j.integration, j.sql, t, t) for j, t in jobs],
                             time=9)
        extra: dict[str, tuple[set[str], set[str]]] = {}
        for j, _ in jobs:
            tags, owners = extra.setdefault(j.id, (set(), set()))
            tags.update(j.tags)
            owners.update(o for o, _ in j.owners)
        keys = ("description", "jobType", "processingType", "integration", "sql")
        _run(
            tx, "UNWIND $rows AS r MERGE (j:Job {id: r.id})"
            " ON CREATE SET j.namespace = r.namespace, j.name = r.name, j.createdAt = r.created,"
            "  j.updatedAt = r.t"
            " SET " + ", ".join(_newer("j", k) for k in keys)
            + " SET j.updatedAt = CASE WHEN r.t > j.updatedAt THEN r.t ELSE j.updatedAt END,"
            + _union("j", "tags", "r.tags") + ", " + _union("j", "owners", "r.owners"),
            [{"id": r[0], "namespace": r[1], "name": r[2], "description": r[3],
                   "jobType": r[4], "processingType": r[5], "integration": r[6], "sql": r[7],
                   "created": r[8], "t": r[9], "tags": sorted(extra[r[0]][0]),
                   "owners": sorted(extra[r[0]][1])} for r in rows])

    def _write_datasets(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        items = [(d, e.event_time) for e in events for d in e.all_datasets()]
        if not items:
            return
        rows = merged_per_id([(d.id, d.namespace, d.name, d.description, d.lifecycle_state, t, t)
                              for d, t in items], time=6)
        extra: dict[str, tuple[set[str], set[str], set[str]]] = {}
        classes: dict[tuple[str, str], set[str]] = {}
        for d, _ in items:
            tags, owners, links = extra.setdefault(d.id, (set(), set(), set()))
            tags.update(d.tags)
            owners.update(o for o, _ in d.owners)
            links.update(f"{ns}|{n}|{t or ''}" for ns, n, t in d.symlinks)
            for field, c in d.field_classifications:
                classes.setdefault((d.id, field), set()).add(c)
        _run(
            tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
            " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.created,"
            "  d.updatedAt = r.t"
            " SET " + _newer("d", "description") + ", " + _newer("d", "lifecycleState")
            + " SET d.updatedAt = CASE WHEN r.t > d.updatedAt THEN r.t ELSE d.updatedAt END, "
            + ", ".join(_union("d", k, f"r.{k}") for k in ("tags", "owners", "symlinks")),
            [{"id": r[0], "namespace": r[1], "name": r[2], "description": r[3],
                   "lifecycleState": r[4], "created": r[5], "t": r[6],
                   "tags": sorted(extra[r[0]][0]), "owners": sorted(extra[r[0]][1]),
                   "symlinks": sorted(extra[r[0]][2])} for r in rows])
        names = {r[0]: (r[1], r[2]) for r in rows}
        if classes:
            _run(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r.dataset})"
                   " MERGE (f:Field {id: r.id}) ON CREATE SET f.datasetId = r.dataset,"
                   "  f.name = r.field MERGE (d)-[:HAS_FIELD]->(f) SET "
                   + _union("f", "tagClasses", "r.classes"),
                   [{"id": field_id(*names[ds], field), "dataset": ds, "field": field,
                          "classes": sorted(cs)} for (ds, field), cs in classes.items()])
        quality = [
            {"id": digest(d.id, q.field or "", q.assertion, run or e.event_id, q.source),
             "dataset": d.id, "field": q.field, "assertion": q.assertion, "success": q.success,
             "run": run, "t": e.event_time, "source": q.source,
             "value": orjson.dumps(q.value).decode()}
            for e in events for d in e.all_datasets() for q in d.quality
            for run in [q.run_id or (e.run.id if e.run else None)]
        ]
        _run(tx, "UNWIND $rows AS r MERGE (q:Quality {id: r.id}) ON CREATE SET"
               " q.datasetId = r.dataset, q.field = r.field, q.assertion = r.assertion,"
               " q.success = r.success, q.runId = r.run, q.observedAt = r.t, q.source = r.source,"
               " q.value = r.value", quality)

    def _write_schemas(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]
                       ) -> dict[str, int]:
        """Same rule as the embedded store: read the latest versions in one query, walk the
        batch in order in Python, create the new versions in one statement."""
        ids = sorted({d.id for e in events for d in e.all_datasets()})
        # The current version is kept on the dataset node: one index lookup per dataset.
        latest = {
            r["id"]: (r["version"], r["fingerprint"], r["created"]) for r in tx.run(
                "UNWIND $ids AS id MATCH (d:Dataset {id: id}) WHERE d.schemaVersion IS NOT NULL"
                " RETURN id, d.schemaVersion AS version, d.schemaFingerprint AS fingerprint,"
                " d.schemaCreatedAt AS created", ids=ids)
        }
        rows = []
        for e in events:
            for d in e.all_datasets():
                if d.schema is None:
                    continue
                cur = latest.get(d.id)
                if cur and (cur[1] == d.schema_fingerprint or e.event_time < cur[2]):
                    continue
                version = cur[0] + 1 if cur else 1
                latest[d.id] = (version, d.schema_fingerprint or "", e.event_time)
                rows.append({"dataset": d.id, "version": version, "fp": d.schema_fingerprint,
                             "t": e.event_time, "run": e.run.id if e.run else None,
                             "fields": orjson.dumps([[f.name, f.type, f.description]
                                                     for f in d.schema]).decode()})
        _run(tx, "UNWIND $rows AS r CREATE (:SchemaVersion {datasetId: r.dataset,"
             " version: r.version, fingerprint: r.fp, createdAt: r.t, runId: r.run,"
             " fields: r.fields}) WITH r MATCH (d:Dataset {id: r.dataset})"
             " WHERE coalesce(d.schemaVersion, 0) < r.version SET d.schemaVersion = r.version,"
             " d.schemaFingerprint = r.fp, d.schemaCreatedAt = r.t", rows)
        return {ds: v[0] for ds, v in latest.items()}

    def _write_runs(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                    versions: dict[str, int]) -> None:
        rows = folded_runs(events)
        if not rows:
            return
        terminal = sorted(TERMINAL_STATES)
        # Cypher twin of model.state_wins, evaluated before anything is set.
        wins = ("r.state IS NOT NULL AND (run.state IS NULL OR run.state = 'NEW'"
                " OR (r.state IN $terminal AND (NOT run.state IN $terminal"
                "     OR r.stateTime >= run.stateTime))"
                " OR (NOT r.state IN $terminal AND r.state <> 'OTHER'"
                "     AND NOT run.state IN $terminal AND r.stateTime >= run.stateTime))")
        _run(
            tx, "UNWIND $rows AS r MERGE (run:Run {id: r.id})"
            " ON CREATE SET run.jobId = r.jobId, run.createdAt = r.createdAt,"
            "  run.updatedAt = r.updatedAt"
            f" WITH run, r, {wins} AS wins"
            " SET run.endedAt = CASE WHEN wins THEN r.endedAt ELSE run.endedAt END,"
            "  run.stateTime = CASE WHEN wins THEN r.stateTime ELSE run.stateTime END,"
            "  run.state = CASE WHEN wins THEN r.state ELSE run.state END,"
            "  run.startedAt = CASE WHEN run.startedAt IS NULL OR r.startedAt < run.startedAt"
            "   THEN coalesce(r.startedAt, run.startedAt) ELSE run.startedAt END,"
            "  run.nominalStart = coalesce(r.nominalStart, run.nominalStart),"
            "  run.nominalEnd = coalesce(r.nominalEnd, run.nominalEnd),"
            "  run.errorMessage = coalesce(r.errorMessage, run.errorMessage),"
            "  run.parentRunId = coalesce(r.parentRunId, run.parentRunId),"
            "  run.createdAt = CASE WHEN r.createdAt < run.createdAt THEN r.createdAt"
            "   ELSE run.createdAt END,"
            "  run.updatedAt = CASE WHEN r.updatedAt > run.updatedAt THEN r.updatedAt"
            "   ELSE run.updatedAt END, " + _union("run", "tags", "r.tags")
            + " WITH run, r MATCH (j:Job {id: r.jobId}) MERGE (run)-[:RUN_OF]->(j)",
            rows, terminal=terminal)
        io = {(e.run.id, "READ" if d.role == "input" else "WROTE", d.id)
              for e in events if e.run for d in (*e.inputs, *e.outputs)}
        for rel in ("READ", "WROTE"):
            _run(tx, f"UNWIND $rows AS r MATCH (run:Run {{id: r.run}}), (d:Dataset {{id: r.ds}})"
                   f" MERGE (run)-[x:{rel}]->(d)"
                   " SET x.schemaVersion = coalesce(r.version, x.schemaVersion)",
                   [{"run": run, "ds": ds, "version": versions.get(ds)}
                         for run, kind, ds in io if kind == rel])

    def _write_column_edges(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        edges = {(c.source_id, c.target_id, c.type, c.subtype): (c, e)
                 for e in sorted(events, key=lambda e: e.event_time) for c in e.column_edges}
        if not edges:
            return
        _run(tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
               " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.t,"
               "  d.updatedAt = r.t", [{"id": c.source_dataset, "namespace": c.source_namespace,
                      "name": c.source_name, "t": e.event_time} for c, e in edges.values()])
        fields = {(c.source_id, c.source_dataset, c.source_field) for c, _ in edges.values()}
        fields |= {(c.target_id, c.target_dataset, c.target_field) for c, _ in edges.values()}
        _run(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r[1]})"
               " MERGE (f:Field {id: r[0]}) ON CREATE SET f.datasetId = r[1], f.name = r[2]"
               " MERGE (d)-[:HAS_FIELD]->(f)", [list(f) for f in fields])
        _run(tx, "UNWIND $rows AS r MATCH (s:Field {id: r.source}), (t:Field {id: r.target})"
               " MERGE (s)-[e:DERIVES {type: r.type, subtype: r.subtype}]->(t)"
               " SET e.description = coalesce(r.description, e.description),"
               "  e.masking = r.masking, e.jobId = coalesce(r.job, e.jobId)",
               [{"source": c.source_id, "target": c.target_id, "type": c.type,
                      "subtype": c.subtype, "description": c.description, "masking": c.masking,
                      "job": e.job.id if e.job else None} for c, e in edges.values()])

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        now = _now()
        dl_id = digest(now, payload)
        self._write_tx(lambda tx: tx.run(
            "MERGE (d:DeadLetter {id: $id}) ON CREATE SET d.receivedAt = $now, d.reason = $reason,"
            " d.errors = $errors, d.payload = $payload", id=dl_id, now=now, reason=reason,
            errors=orjson.dumps(errors).decode(), payload=payload).consume())
        return dl_id

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._read("MATCH (d:DeadLetter) RETURN d ORDER BY d.receivedAt DESC LIMIT $n",
                          n=limit)
        return [DeadLetter(r["d"]["id"], r["d"]["receivedAt"], r["d"]["reason"],
                           orjson.loads(r["d"]["errors"]), bytes(r["d"]["payload"])) for r in rows]

    # -- reads ------------------------------------------------------------------------------

    def _facets(self, node_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        # Many ids are read as one record holding one list (the driver pays per record).
        for owner, name, body in self._read(
                "UNWIND $ids AS id MATCH (f:Facet {owner: id})"
                " RETURN collect([f.owner, f.name, f.body]) AS all", ids=list(node_ids))[0]["all"]:
            out.setdefault(owner, {})[name] = orjson.loads(body)
        return out

    def dataset(self, namespace: str, name: str) -> DatasetRecord | None:
        rows = self._read("MATCH (d:Dataset {namespace: $ns, name: $name}) RETURN d.id AS id",
                          ns=namespace, name=name)
        return self.datasets_by_id([rows[0]["id"]])[0] if rows else None

    def datasets_by_id(self, ids: Sequence[str], facets: bool = True
                       ) -> list[DatasetRecord | None]:
        found = {d["id"]: d for d in self._read(
            "UNWIND $ids AS id MATCH (d:Dataset {id: id}) RETURN collect(properties(d)) AS all",
            ids=list(ids))[0]["all"]}
        facet_map = self._facets(list(found)) if facets else {}
        return [
            None if (d := found.get(i)) is None else DatasetRecord(
                id=i, namespace=d["namespace"], name=d["name"], description=d.get("description"),
                tags=sorted(d.get("tags") or []), owners=sorted(d.get("owners") or []),
                retention_days=retention_days(d.get("retentionDays"), d.get("tags") or []),
                lifecycle_state=d.get("lifecycleState"), updated_at=d.get("updatedAt"),
                facets=facet_map.get(i, {}))
            for i in ids
        ]

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        out: dict[str, list[FieldRecord]] = {i: [] for i in dataset_ids}
        rows = self._read(
            "UNWIND $ids AS id MATCH (s:SchemaVersion {datasetId: id})"
            " WITH id, s ORDER BY s.version DESC WITH id, head(collect(s)) AS s"
            " OPTIONAL MATCH (:Dataset {id: id})-[:HAS_FIELD]->(f:Field)"
            f" RETURN id, s.fields AS fields, collect([f.name, {_CLASSES}]) AS classes",
            ids=list(dataset_ids))
        for r in rows:
            classes = {name: sorted(set(cs)) for name, cs in r["classes"] if name is not None}
            out[r["id"]] = [FieldRecord(n, t, d, classes.get(n, []))
                            for n, t, d in orjson.loads(r["fields"])]
        return out

    def schema_versions(self, dataset_id: str, first: int = 20) -> list[SchemaVersionRecord]:
        rows = self._read("MATCH (s:SchemaVersion {datasetId: $id}) RETURN s"
                          " ORDER BY s.version DESC LIMIT $n", id=dataset_id, n=first)
        return [SchemaVersionRecord(r["s"]["version"], r["s"]["createdAt"], r["s"].get("runId"),
                                    [FieldRecord(n, t, d)
                                     for n, t, d in orjson.loads(r["s"]["fields"])])
                for r in rows]

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        rows = self._read("MATCH (q:Quality {datasetId: $id})"
                          " WHERE ($run IS NULL OR q.runId = $run)"
                          " AND ($field IS NULL OR q.field = $field)"
                          " AND (NOT $failed OR NOT q.success)"
                          " RETURN q ORDER BY q.observedAt DESC, q.assertion, q.field LIMIT $n",
                          id=dataset_id, n=first, run=run_id, field=field, failed=failures_only)
        return [QualityRecord(q["assertion"], q["success"], q.get("field"), q.get("runId"),
                              q["observedAt"], q["source"],
                              orjson.loads(q["value"]) if q.get("value") else None)
                for q in (r["q"] for r in rows)]

    def latest_quality(self, dataset_ids: Sequence[str]) -> dict[str, list[QualityRecord]]:
        out: dict[str, list[QualityRecord]] = {i: [] for i in dataset_ids}
        for r in self._read(
            "UNWIND $ids AS id MATCH (q:Quality {datasetId: id})"
            " WITH id, q ORDER BY q.observedAt DESC"
            " WITH id, q.assertion AS a, coalesce(q.field, '') AS f, head(collect(q)) AS q"
            " RETURN id, q ORDER BY a, f", ids=list(dataset_ids)):
            q = r["q"]
            out[r["id"]].append(QualityRecord(q["assertion"], q["success"], q.get("field"),
                                              q.get("runId"), q["observedAt"], q["source"],
                                              orjson.loads(q["value"]) if q.get("value") else None))
        return out

    def job(self, namespace: str, name: str) -> JobRecord | None:
        rows = self._read("MATCH (j:Job {namespace: $ns, name: $name}) RETURN j.id AS id",
                          ns=namespace, name=name)
        return self.jobs_by_id([rows[0]["id"]])[0] if rows else None

    def jobs_by_id(self, ids: Sequence[str], facets: bool = True) -> list[JobRecord | None]:
        found = {j["id"]: j for j in self._read(
            "UNWIND $ids AS id MATCH (j:Job {id: id}) RETURN collect(properties(j)) AS all",
            ids=list(ids))[0]["all"]}
        facet_map = self._facets(list(found)) if facets else {}
        return [
            None if (j := found.get(i)) is None else JobRecord(
                id=i, namespace=j["namespace"], name=j["name"], description=j.get("description"),
                job_type=j.get("jobType"), sql=j.get("sql"), updated_at=j.get("updatedAt"),
                facets=facet_map.get(i, {}))
            for i in ids
        ]

    def _neighbours(self, ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        out: dict[str, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
        for label in ("Dataset", "Job"):
            for r in self._read(
                f"UNWIND $ids AS id MATCH (n:{label} {{id: id}})"
                " OPTIONAL MATCH (u)-[:INPUT_TO|PRODUCES]->(n)"
                " WITH id, n, collect(DISTINCT u.id) AS up"
                " OPTIONAL MATCH (n)-[:INPUT_TO|PRODUCES]->(dn)"
                " RETURN id, up, collect(DISTINCT dn.id) AS down", ids=list(ids)):
                out[r["id"]] = (sorted(r["up"]), sorted(r["down"]))
        return out

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(job_ids)

    def dataset_jobs(self, dataset_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(dataset_ids)

    def _run_record(self, run: dict[str, Any], facets: dict[str, dict[str, Any]]) -> RunRecord:
        return RunRecord(
            id=run["id"], job_id=run["jobId"], state=run.get("state") or "NEW",
            started_at=run.get("startedAt"), ended_at=run.get("endedAt"),
            error_message=run.get("errorMessage"), parent_run_id=run.get("parentRunId"),
            nominal_start=run.get("nominalStart"), nominal_end=run.get("nominalEnd"),
            facets=facets.get(run["id"], {}))

    def run(self, run_id: str) -> RunRecord | None:
        rows = self._read("MATCH (r:Run {id: $id}) RETURN r", id=run_id)
        return self._run_record(rows[0]["r"], self._facets([run_id])) if rows else None

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        rows = self._read("MATCH (r:Run {jobId: $id}) RETURN r"
                          " ORDER BY coalesce(r.startedAt, r.createdAt) DESC, r.id LIMIT $n",
                          id=job_id, n=first)
        facets = self._facets([r["r"]["id"] for r in rows])
        return [self._run_record(r["r"], facets) for r in rows]

    def namespaces(self) -> list[str]:
        return [r["n"] for r in self._read("MATCH (x:Namespace) RETURN x.name AS n ORDER BY n")]

    def event_count(self) -> int:
        return int(self._read("MATCH (e:Event) RETURN count(e) AS n")[0]["n"])

    # -- lineage ----------------------------------------------------------------------------

    def walk(self, start: str, level: str, direction: str, depth: int, limit: int) -> Graph:
        rel = "DERIVES" if level == "column" else "INPUT_TO|PRODUCES"
        left, right = ("<-", "-") if direction == "UPSTREAM" else ("-", "->")
        start_label = {"field": "Field", "dataset": "Dataset", "job": "Job"}.get(
            node_kind(start) or "", "Dataset")
        # ANY SHORTEST: one breadth-first search from the start, one shortest path per node
        # reached; a plain variable-length match would enumerate every path (exponential in a
        # graph full of diamonds). Each node comes back with its outgoing edges (those leaving
        # the returned set are dropped below) and, for fields, its dataset: one round trip.
        # Everything comes back as one record holding one list: the driver pays per record, so
        # 600 rows cost three times as much as one row of 600.
        column = level == "column"
        rows = self._read(
            f"MATCH (s:{start_label} {{id: $start}})"
            f" MATCH p = ANY SHORTEST (s){left}[:{rel}]{right}{{0,{depth + 1}}}(n)"
            " WITH n, length(p) AS d ORDER BY d, n.id LIMIT $limit"
            f" OPTIONAL MATCH (n)-[e:{rel}]->(m)"
            " WITH n, d, collect([m.id, e.type, e.subtype]) AS out"
            + (" OPTIONAL MATCH (ds:Dataset {id: n.datasetId})"
               " RETURN collect({id: n.id, d: d, namespace: ds.namespace, name: ds.name,"
               " field: n.name, out: out}) AS rows" if column else
               " RETURN collect({id: n.id, d: d, dataset: 'Dataset' IN labels(n),"
               " namespace: n.namespace, name: n.name, out: out}) AS rows"),
            start=start, limit=limit + 1)[0]["rows"]
        rows.sort(key=lambda r: (r["d"], r["id"]))
        within = [r for r in rows if r["d"] <= depth]
        truncated = len(within) < len(rows) or len(within) > limit
        within = within[:limit]
        if column:
            within = [r for r in within if r["namespace"] is not None]  # a field of no dataset
        kept = {r["id"] for r in within}
        nodes = [GraphNode(r["id"], "FIELD" if column else "DATASET" if r["dataset"] else "JOB",
                           r["namespace"], r["name"], r["field"] if column else None, r["d"])
                 for r in within]
        edges = sorted(
            {GraphEdge(r["id"], target, (f"{kind}/{subtype}" if subtype else kind)
                       if column else None)
             for r in within for target, kind, subtype in r["out"] if target in kept},
            key=lambda e: (e.source, e.target, e.transformation or ""))
        nodes.sort(key=lambda n: (n.depth, n.id))
        return Graph(nodes, edges, truncated)

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        rows = self._read(
            "UNWIND $ids AS id MATCH (t:Field {id: id})"
            f" MATCH ANY SHORTEST (t)<-[r:{_CARRIES}]-{{1,{INHERIT_DEPTH}}}(f:Field)"
            f" WITH DISTINCT id, f UNWIND {_CLASSES} AS c"
            " RETURN id, collect(DISTINCT c) AS classes", ids=list(field_ids))
        return {r["id"]: sorted(r["classes"]) for r in rows if r["classes"]}

    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
        # 1. One breadth-first search per changed field, one level deeper than asked (so that
        # the depth cut shows). Each reached field comes with the sources and jobs of the
        # derivations into it: those from reached fields name every job that derives an
        # affected field. One record holding one list (the driver pays per record).
        rows = self._read(
            "UNWIND $starts AS sid MATCH (s:Field {id: sid})"
            f" MATCH p = ANY SHORTEST (s)-[:DERIVES]->{{1,{depth + 1}}}(n)"
            " WITH sid, elementId(s) AS origin, n, length(p) AS d, nodes(p)[-2].id AS parent"
            " ORDER BY d LIMIT $limit MATCH (ds:Dataset)-[:HAS_FIELD]->(n)"
            " OPTIONAL MATCH (src)-[e:DERIVES]->(n)"
            " WITH sid, origin, n, d, parent, ds, collect([elementId(src), e.jobId]) AS into"
            " RETURN collect([sid, n.id, ds.id, ds.namespace, ds.name, n.name, d, parent, into,"
            " ds.owners, elementId(n), origin]) AS rows",
            starts=list(field_ids), limit=limit + 1)[0]["rows"]
        rows.sort(key=lambda r: (r[6], r[1], r[0]))
        within = [r for r in rows if r[6] <= depth]
        truncated = len(within) < len(rows) or len(within) > limit
        within = within[:limit]
        fields = [ReachedField(*r[:8]) for r in within]
        # Sources compared by element id: reading their id property costs a third of the query.
        reached = {r[10] for r in within} | {r[11] for r in within}
        jobs = {job for r in within for src, job in r[8] if job and src in reached}
        datasets: dict[str, tuple[str, str, int]] = {}
        owners: dict[str, list[str]] = {}
        for r in within:
            if r[2] not in datasets or r[6] < datasets[r[2]][2]:
                datasets[r[2]] = (r[3], r[4], r[6])
            owners[r[2]] = sorted(r[9] or [])
        # 2. Dataset level: from the changed dataset and those fields' datasets, through jobs,
        # into datasets with no column lineage (theirs would say what they read). The first
        # step is a plain expansion (usually empty: most writers report column lineage); only
        # what it finds is searched on, breadth first.
        seeds = {dataset_id: 0} | {i: d for i, (_, _, d) in datasets.items()}
        blind = "NOT EXISTS { (%s)-[:HAS_FIELD]->(:Field)<-[:DERIVES]-() }"
        rows = self._read(
            "UNWIND keys($seeds) AS sid MATCH (:Dataset {id: sid})-[:INPUT_TO]->(:Job)"
            f"-[:PRODUCES]->(x:Dataset) WHERE $seeds[x.id] IS NULL AND {blind % 'x'}"
            " WITH x, min($seeds[sid]) + 1 AS d0"
            " MATCH p = ANY SHORTEST (x)((:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->(y:Dataset)"
            f" WHERE $seeds[y.id] IS NULL AND {blind % 'y'}){{0,{depth}}}(t)"
            " WITH t, min(d0 + length(p) / 2) AS d ORDER BY d, t.id LIMIT $limit"
            " RETURN collect([t.id, t.namespace, t.name, d, t.owners]) AS rows",
            seeds=seeds, limit=limit + 1)[0]["rows"]
        for i, ns, name, d, who in sorted(rows, key=lambda r: (r[3], r[0])):
            if d > depth or len(datasets) >= limit:
                truncated = True
            else:
                datasets[i], owners[i] = (ns, name, d), sorted(who or [])
        unseen = [i for i in datasets if i not in seeds]
        # 3. Jobs that write a dataset-level one from the changed or an affected dataset, and
        # jobs that read the changed dataset and write nothing (checks, exports).
        jobs.update(self._read(
            "CALL () { UNWIND $blind AS id MATCH (src:Dataset)-[:INPUT_TO]->(j:Job)"
            "-[:PRODUCES]->(:Dataset {id: id}) WHERE $sources[src.id] IS NOT NULL RETURN j"
            " UNION MATCH (:Dataset {id: $id})-[:INPUT_TO]->(j:Job)"
            " WHERE NOT EXISTS { (j)-[:PRODUCES]->() } RETURN j }"
            " RETURN collect(DISTINCT j.id) AS jobs", blind=unseen, id=dataset_id,
            sources={i: True for i in (dataset_id, *datasets)})[0]["jobs"])
        return Downstream(fields, datasets, sorted(jobs), owners, truncated)

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        where = ["($ns IS NULL OR d.namespace = $ns)",
                 "($search IS NULL OR toLower(d.name) CONTAINS toLower($search))"]
        prefix = ""
        if classification:
            # Datasets holding it directly or inheriting it along carrying derivations.
            prefix = (
                "MATCH (f:Field) WHERE any(c IN " + _CLASSES + " WHERE c = $class"
                " OR c STARTS WITH $class + '.')"
                f" OPTIONAL MATCH ANY SHORTEST (f)-[r:{_CARRIES}]->{{1,{INHERIT_DEPTH}}}(t:Field)"
                " WITH collect(DISTINCT f.datasetId) + collect(DISTINCT t.datasetId) AS held ")
            where.append("d.id IN held")
        cond = " AND ".join(where)
        params = {"ns": namespace, "search": search or None, "class": classification}
        total = self._read(f"{prefix}MATCH (d:Dataset) WHERE {cond} RETURN count(d) AS n",
                           **params)[0]["n"]
        page = self._read(f"{prefix}MATCH (d:Dataset) WHERE {cond} AND d.id > $after"
                          " RETURN d.id AS id ORDER BY id LIMIT $first",
                          **params, after=after or "", first=first)
        return [r["id"] for r in page], int(total)

    def job_flows(self, job_id: str) -> list[Flow]:
        rows = self._read(
            "MATCH (s:Field)-[e:DERIVES {jobId: $job}]->(t:Field)"
            " RETURN s.datasetId AS sd, s.name AS sf, t.datasetId AS td, t.name AS tf,"
            " e.type AS type, e.subtype AS subtype, e.masking AS masking"
            " ORDER BY sd, sf, td, tf", job=job_id)
        return [Flow(r["sd"], r["sf"], r["td"], r["tf"],
                     f"{r['type']}/{r['subtype']}" if r["subtype"] else r["type"],
                     bool(r["masking"])) for r in rows]

    def log_decision(self, d: DecisionRecord) -> None:
        self._edit("CREATE (:Decision {id: $id, time: $time, principal: $principal, jobId: $job,"
                   " runId: $run, decision: $decision, reasons: $reasons, masks: $masks,"
                   " policyRevision: $revision, engine: $engine, inputDigest: $digest})",
                   id=d.id, time=d.time, principal=d.principal, job=d.job_id, run=d.run_id,
                   decision=d.decision, reasons=orjson.dumps(d.reasons).decode(),
                   masks=orjson.dumps(d.masks).decode(), revision=d.policy_revision,
                   engine=d.engine, digest=d.input_digest)

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None) -> list[DecisionRecord]:
        rows = self._read("MATCH (d:Decision) WHERE ($run IS NULL OR d.runId = $run)"
                          " AND ($job IS NULL OR d.jobId = $job)"
                          " RETURN d ORDER BY d.time DESC, d.id LIMIT $first",
                          run=run_id, job=job_id, first=first)
        return [DecisionRecord(d["id"], d["time"], d["principal"], d.get("jobId"),
                               d.get("runId"), d["decision"], orjson.loads(d["reasons"]),
                               orjson.loads(d["masks"]), d["policyRevision"], d["engine"],
                               d["inputDigest"]) for d in (r["d"] for r in rows)]

    # -- erasure workflow -------------------------------------------------------------------
    def classification_holders(self, classifications: Sequence[str]
                               ) -> list[tuple[str, str, str, bool]]:
        matching = f"[c IN {_CLASSES} WHERE any(w IN $wanted WHERE c = w OR c STARTS WITH w + '.')]"
        rows = self._read(
            "CALL () { MATCH (f:Field) WHERE f.tagClasses IS NOT NULL RETURN f"
            " UNION MATCH (f:Field) WHERE f.stewardClasses IS NOT NULL RETURN f }"
            f" WITH f, {matching} AS cs WHERE size(cs) > 0"
            # One breadth-first search per classified field, each reached field once (no path
            # enumeration); a cycle back to f only finds f again.
            f" OPTIONAL MATCH ANY SHORTEST (f)-[r:{_CARRIES}]->+(t:Field)"
            " WITH f, cs, collect(t) AS reached"
            " UNWIND [[f, true]] + [x IN reached | [x, false]] AS held"
            " UNWIND cs AS c"
            # Direct wins over inherited for the same field and classification.
            " WITH held[0] AS n, c, any(x IN collect(held[1]) WHERE x) AS direct"
            " WHERE n.datasetId IS NOT NULL"
            " RETURN n.datasetId AS d, n.name AS f, c, direct", wanted=list(classifications))
        # Sorted here, as the embedded store sorts: by code point.
        return sorted((r["d"], r["f"], r["c"], bool(r["direct"])) for r in rows)

    def downstream_dataset_edges(self, dataset_ids: Sequence[str]
                                 ) -> list[tuple[str, str, str]]:
        # One BFS per start, which stops on entering another start: that one searches on from
        # there itself, so overlapping starts do not walk the same region again. $starts is a
        # map for a constant-time test.
        rows = self._read(
            "UNWIND $ids AS id MATCH (s:Dataset {id: id})"
            " OPTIONAL MATCH ANY SHORTEST (s)((:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->"
            "(b:Dataset) WHERE $starts[b.id] IS NULL)*(d:Dataset)"
            " WITH DISTINCT d WHERE d IS NOT NULL"
            " MATCH (d)-[:INPUT_TO]->(j:Job)-[:PRODUCES]->(o:Dataset)"
            " RETURN DISTINCT d.id AS a, j.id AS j, o.id AS b",
            ids=list(dataset_ids), starts=dict.fromkeys(dataset_ids, True))
        return sorted((r["a"], r["j"], r["b"]) for r in rows)

    def _write_erasure(self, tx: neo4j.ManagedTransaction, doc: dict[str, Any],
                       audit: Sequence[dict[str, Any]]) -> None:
        _run(tx, "UNWIND $rows AS r CREATE (:ErasureAudit {requestId: $id, seq: r.seq,"
             " entry: r.entry})", [{"seq": e["seq"], "entry": orjson.dumps(e).decode()}
                                   for e in audit], id=doc["id"])

    def create_erasure(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run("CREATE (:Erasure {id: $id, version: $version, status: $status,"
                   " receivedAt: $received, doc: $doc})", id=doc["id"], version=doc["version"],
                   status=doc["status"], received=doc["receivedAt"],
                   doc=orjson.dumps(doc).decode()).consume()
            self._write_erasure(tx, doc, audit)
        self._write_tx(work)

    def update_erasure(self, doc: dict[str, Any], expected_version: int,
                       audit: Sequence[dict[str, Any]]) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            # The write lock taken by SET serialises concurrent writers on this node.
            hit = tx.run("MATCH (e:Erasure {id: $id}) WHERE e.version = $expected"
                         " SET e.version = $version, e.status = $status, e.doc = $doc"
                         " RETURN count(e) AS n", id=doc["id"], expected=expected_version,
                         version=doc["version"], status=doc["status"],
                         doc=orjson.dumps(doc).decode()).single()
            if not hit or not hit["n"]:
                return False
            self._write_erasure(tx, doc, audit)
            return True
        return bool(self._write_tx(work))

    def erasure(self, request_id: str) -> dict[str, Any] | None:
        rows = self._read("MATCH (e:Erasure {id: $id}) RETURN e.doc AS doc", id=request_id)
        return orjson.loads(rows[0]["doc"]) if rows else None

    def erasures(self, statuses: Sequence[str] | None = None, first: int = 100
                 ) -> list[dict[str, Any]]:
        # Two statements, so each is an index read: a "$statuses IS NULL OR" filter would
        # keep the planner from seeking erasure_status.
        where = ("e.receivedAt IS NOT NULL" if statuses is None
                 else "e.status IN $statuses AND e.receivedAt IS NOT NULL")
        rows = self._read(f"MATCH (e:Erasure) WHERE {where}"
                          " RETURN e.doc AS doc ORDER BY e.receivedAt, e.id LIMIT $first",
                          statuses=list(statuses or []), first=first)
        return [orjson.loads(r["doc"]) for r in rows]

    def erasure_audit(self, request_id: str) -> list[dict[str, Any]]:
        rows = self._read("MATCH (a:ErasureAudit {requestId: $id}) RETURN a.entry AS entry"
                          " ORDER BY a.seq", id=request_id)
        return [orjson.loads(r["entry"]) for r in rows]

    # -- steward edits ----------------------------------------------------------------------

    def _edit(self, query: str, **params: Any) -> None:
        self._write_tx(lambda tx: tx.run(query, params).consume())

    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        self._edit("MATCH (d:Dataset {id: $ds}) MERGE (f:Field {id: $id})"
                   " ON CREATE SET f.datasetId = $ds, f.name = $field"
                   " MERGE (d)-[:HAS_FIELD]->(f) SET f.stewardClasses = $classes",
                   ds=dataset_id, id=self._field_id(dataset_id, field), field=field,
                   classes=list(classifications))

    def _field_id(self, dataset_id: str, field: str) -> str:
        rows = self._read("MATCH (d:Dataset {id: $id}) RETURN d.namespace AS ns, d.name AS name",
                          id=dataset_id)
        if not rows:
            raise StoreError(f"no dataset {dataset_id}")
        return field_id(rows[0]["ns"], rows[0]["name"], field)

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None:
        change = (_union("d", "tags", "$tags") if add
                  else "d.tags = [t IN coalesce(d.tags, []) WHERE NOT t IN $tags]")
        self._edit(f"MATCH (d:Dataset {{id: $id}}) SET {change}", id=dataset_id, tags=list(tags))

    def set_retention(self, dataset_id: str, days: int | None) -> None:
        self._edit("MATCH (d:Dataset {id: $id}) SET d.retentionDays = $days", id=dataset_id,
                   days=days)

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        self._edit("MATCH (:Field {id: $s})-[e:DERIVES]->(:Field {id: $t})"
                   " SET e.declassified = $on", s=source_field_id, t=target_field_id, on=on)

    # -- auth -------------------------------------------------------------------------------

    def add_token(self, token_hash: str, name: str, role: str) -> None:
        self._edit("CREATE (:Token {hash: $hash, name: $name, role: $role, createdAt: $now})",
                   hash=token_hash, name=name, role=role, now=_now())

    def token_role(self, token_hash: str) -> str | None:
        rows = self._read("MATCH (t:Token {hash: $hash}) RETURN t.role AS role", hash=token_hash)
        return rows[0]["role"] if rows else None
