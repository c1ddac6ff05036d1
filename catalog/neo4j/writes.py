"""The write path: a batch of events in one transaction, and dead letters.

A batch is written in one transaction of one ``UNWIND`` statement per kind of write. The batch
is folded in Python first (``catalog.batching``) so each node appears once per statement and
the merge rules (newest facet wins, run states never regress) are plain CASE expressions.
"""

from __future__ import annotations

from collections.abc import Sequence

import neo4j
import orjson

from headwater.catalog.batching import (
    admitted,
    facet_owners,
    folded_runs,
    latest_per_key,
    merged_per_id,
)
from headwater.catalog.ids import field_id
from headwater.catalog.model import DeadLetterWrite, EventWrite, WriteResult
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import newer, union, unwind
from headwater.catalog.rules import (
    TERMINAL_STATES,
    dead_letter_ids,
    now,
    quality_result_id,
    schema_changes,
)


class EventWrites(Connection):
    def write_events(self, events: Sequence[EventWrite]) -> list[WriteResult]:
        results: list[WriteResult] = []

        def work(tx: neo4j.ManagedTransaction) -> None:
            # One round trip for both: the batch's events already stored, and the job of each
            # of its runs already stored.
            record = tx.run(
                "CALL () { UNWIND $ids AS id MATCH (e:Event {id: id}) RETURN collect(id) AS known }"
                " CALL () { UNWIND $runs AS id MATCH (r:Run {id: id})"
                "  RETURN collect([id, r.jobId]) AS runJobs }"
                " RETURN known, runJobs",
                ids=list({e.event_id for e in events}),
                runs=list({e.run.id for e in events if e.run})).single(strict=True)
            results[:] = admitted(events, set(record["known"]), dict(record["runJobs"]))
            self._write(tx, [e for e, r in zip(events, results, strict=True) if r is True])

        self._write_tx(work)
        return results

    def _write(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        if not events:
            return
        received = now()
        unwind(tx, "UNWIND $rows AS r CREATE (:Event {id: r.id, kind: r.kind, eventTime: r.t,"
                 " receivedAt: $now, payload: r.payload})",
                 [{"id": e.event_id, "kind": e.kind, "t": e.event_time, "payload": e.payload}
                       for e in events], now=received)
        namespaces = {d.namespace for e in events for d in e.all_datasets()}
        namespaces |= {e.job.namespace for e in events if e.job}
        tx.run("UNWIND $names AS n MERGE (x:Namespace {name: n}) ON CREATE SET x.createdAt = $now",
               names=sorted(namespaces), now=received)
        self._write_jobs(tx, events)
        self._write_datasets(tx, events)
        inputs = {(d.id, e.job.id) for e in events if e.job for d in e.inputs}
        outputs = {(e.job.id, d.id) for e in events if e.job for d in e.outputs}
        unwind(tx, "UNWIND $rows AS r MATCH (a:Dataset {id: r[0]}), (b:Job {id: r[1]})"
                 " MERGE (a)-[:INPUT_TO]->(b)", [list(x) for x in inputs])
        unwind(tx, "UNWIND $rows AS r MATCH (a:Job {id: r[0]}), (b:Dataset {id: r[1]})"
                 " MERGE (a)-[:PRODUCES]->(b)", [list(x) for x in outputs])
        versions = self._write_schemas(tx, events)
        self._write_runs(tx, events, versions)
        self._write_column_edges(tx, events)
        facets = latest_per_key(
            ((node, name, e.event_time, body) for e in events
             for node, fmap in facet_owners(e) for name, body in fmap.items()), key=2, time=2)
        unwind(tx, "UNWIND $rows AS r MERGE (f:Facet {key: r.key})"
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
        unwind(
            tx, "UNWIND $rows AS r MERGE (j:Job {id: r.id})"
            " ON CREATE SET j.namespace = r.namespace, j.name = r.name, j.createdAt = r.created,"
            "  j.updatedAt = r.t"
            " SET " + ", ".join(newer("j", k) for k in keys)
            + " SET j.updatedAt = CASE WHEN r.t > j.updatedAt THEN r.t ELSE j.updatedAt END,"
            + union("j", "tags", "r.tags") + ", " + union("j", "owners", "r.owners"),
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
        unwind(
            tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
            " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.created,"
            "  d.updatedAt = r.t"
            " SET " + newer("d", "description") + ", " + newer("d", "lifecycleState")
            + " SET d.updatedAt = CASE WHEN r.t > d.updatedAt THEN r.t ELSE d.updatedAt END, "
            + ", ".join(union("d", k, f"r.{k}") for k in ("tags", "owners", "symlinks")),
            [{"id": r[0], "namespace": r[1], "name": r[2], "description": r[3],
                   "lifecycleState": r[4], "created": r[5], "t": r[6],
                   "tags": sorted(extra[r[0]][0]), "owners": sorted(extra[r[0]][1]),
                   "symlinks": sorted(extra[r[0]][2])} for r in rows])
        names = {r[0]: (r[1], r[2]) for r in rows}
        if classes:
            unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r.dataset})"
                     " MERGE (f:Field {id: r.id}) ON CREATE SET f.datasetId = r.dataset,"
                     "  f.name = r.field MERGE (d)-[:HAS_FIELD]->(f) SET "
                     + union("f", "tagClasses", "r.classes"),
                     [{"id": field_id(*names[ds], field), "dataset": ds, "field": field,
                            "classes": sorted(cs)} for (ds, field), cs in classes.items()])
        quality = [
            {"id": quality_result_id(d.id, q.field, q.assertion, run or e.event_id, q.source),
             "dataset": d.id, "field": q.field, "assertion": q.assertion, "success": q.success,
             "run": run, "t": e.event_time, "source": q.source,
             "value": orjson.dumps(q.value).decode()}
            for e in events for d in e.all_datasets() for q in d.quality
            for run in [q.run_id or (e.run.id if e.run else None)]
        ]
        unwind(tx, "UNWIND $rows AS r MERGE (q:Quality {id: r.id}) ON CREATE SET"
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
                version = schema_changes(latest.get(d.id), d.schema_fingerprint, e.event_time)
                if version is None:
                    continue
                latest[d.id] = (version, d.schema_fingerprint or "", e.event_time)
                rows.append({"dataset": d.id, "version": version, "fp": d.schema_fingerprint,
                             "t": e.event_time, "run": e.run.id if e.run else None,
                             "fields": orjson.dumps([[f.name, f.type, f.description]
                                                     for f in d.schema]).decode()})
        unwind(tx, "UNWIND $rows AS r CREATE (:SchemaVersion {datasetId: r.dataset,"
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
        unwind(
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
            "   ELSE run.updatedAt END, " + union("run", "tags", "r.tags")
            + " WITH run, r MATCH (j:Job {id: r.jobId}) MERGE (run)-[:RUN_OF]->(j)",
            rows, terminal=terminal)
        io = {(e.run.id, "READ" if d.role == "input" else "WROTE", d.id)
              for e in events if e.run for d in (*e.inputs, *e.outputs)}
        for rel in ("READ", "WROTE"):
            unwind(tx, f"UNWIND $rows AS r MATCH (run:Run {{id: r.run}}), (d:Dataset {{id: r.ds}})"
                     f" MERGE (run)-[x:{rel}]->(d)"
                     " SET x.schemaVersion = coalesce(r.version, x.schemaVersion)",
                     [{"run": run, "ds": ds, "version": versions.get(ds)}
                           for run, kind, ds in io if kind == rel])

    def _write_column_edges(self, tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        edges = {(c.source_id, c.target_id, c.type, c.subtype): (c, e)
                 for e in sorted(events, key=lambda e: e.event_time) for c in e.column_edges}
        if not edges:
            return
        unwind(tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
                 " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.t,"
                 "  d.updatedAt = r.t", [{"id": c.source_dataset, "namespace": c.source_namespace,
                        "name": c.source_name, "t": e.event_time} for c, e in edges.values()])
        fields = {(c.source_id, c.source_dataset, c.source_field) for c, _ in edges.values()}
        fields |= {(c.target_id, c.target_dataset, c.target_field) for c, _ in edges.values()}
        unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r[1]})"
                 " MERGE (f:Field {id: r[0]}) ON CREATE SET f.datasetId = r[1], f.name = r[2]"
                 " MERGE (d)-[:HAS_FIELD]->(f)", [list(f) for f in fields])
        unwind(tx, "UNWIND $rows AS r MATCH (s:Field {id: r.source}), (t:Field {id: r.target})"
                 " MERGE (s)-[e:DERIVES {type: r.type, subtype: r.subtype}]->(t)"
                 " SET e.description = coalesce(r.description, e.description),"
                 "  e.masking = r.masking, e.jobId = coalesce(r.job, e.jobId)",
                 [{"source": c.source_id, "target": c.target_id, "type": c.type,
                        "subtype": c.subtype, "description": c.description, "masking": c.masking,
                        "job": e.job.id if e.job else None} for c, e in edges.values()])

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        return self.add_dead_letters([DeadLetterWrite(payload, reason, errors)])[0]

    def add_dead_letters(self, letters: Sequence[DeadLetterWrite]) -> list[str]:
        if not letters:
            return []
        received = now()
        ids = dead_letter_ids(received, (d.payload for d in letters))
        rows = [{"id": i, "reason": d.reason, "errors": orjson.dumps(d.errors).decode(),
                 "payload": d.payload} for i, d in zip(ids, letters, strict=True)]
        self._write_tx(lambda tx: tx.run(
            "UNWIND $rows AS r MERGE (d:DeadLetter {id: r.id}) ON CREATE SET d.receivedAt = $now,"
            " d.reason = r.reason, d.errors = r.errors, d.payload = r.payload",
            rows=rows, now=received).consume())
        return ids
