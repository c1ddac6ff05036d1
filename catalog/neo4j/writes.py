"""The write path: a batch of events in one transaction, and dead letters.

A batch is written in one transaction of one ``UNWIND`` statement per kind of write. The batch
is folded in Python first (``catalog.batching``) so each node appears once per statement and
the merge rules (newest facet wins, run states never regress) are plain CASE expressions.
"""

from __future__ import annotations

from collections.abc import Sequence

import neo4j
import orjson

from headwater.catalog.aliases import Target, named
from headwater.catalog.attempts import Transition, attempts, try_number
from headwater.catalog.batching import admitted, folded_runs, latest_per_key, merged_per_id
from headwater.catalog.facts import Plan, plan
from headwater.catalog.ids import field_id
from headwater.catalog.model import DeadLetterWrite, EventWrite, WriteResult
from headwater.catalog.neo4j.aliases import LOOKUP, apply_aliases, merge
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import bump_graph, created, newer, union, unwind
from headwater.catalog.neo4j.search import reindex, reindex_touched
from headwater.catalog.rules import TERMINAL_STATES, dead_letter_ids, now, quality_result_id
from headwater.catalog.schema_history import (
    Observation,
    Version,
    appends,
    history,
    in_order,
    observations,
    renames,
    restart,
    version_at,
)
from headwater.catalog.search import contributions


def settle_runs(tx: neo4j.ManagedTransaction, run_ids: list[str]) -> None:
    """Set each run's state, end and error to its latest attempt's (``catalog.attempts``),
    from every transition stored on it: one read and one write."""
    found = tx.run("UNWIND $ids AS id MATCH (run:Run {id: id})"
                   " RETURN collect([id, run.transitions]) AS all", ids=run_ids).single(strict=True)
    rows = []
    for run, stored in found["all"]:
        if not stored:
            continue
        last = attempts(Transition(*orjson.loads(t)) for t in stored)[-1]
        rows.append({"id": run, "state": last.state, "t": last.state_time,
                     "ended": last.ended_at, "error": last.error_message})
    unwind(tx, "UNWIND $rows AS r MATCH (run:Run {id: r.id}) SET run.state = r.state,"
           " run.stateTime = r.t, run.endedAt = r.ended, run.errorMessage = r.error", rows)


# Each stored job's and dataset's facts digest and newest event time (catalog.facts), a
# dataset's through its alias (the batch is written with the dataset an alias names), each
# node locked by the SET so the digest holds until the transaction commits.
FACTS = (" CALL () { UNWIND $jobs AS id MATCH (n:Job {id: id})"
         "  SET n.factsDigest = n.factsDigest"
         "  RETURN collect([id, n.factsDigest, n.updatedAt]) AS jobs }"
         " CALL () { UNWIND $datasets AS name OPTIONAL MATCH (a:DatasetAlias {id: name})"
         "  WITH DISTINCT coalesce(a.datasetId, name) AS id MATCH (n:Dataset {id: id})"
         "  SET n.factsDigest = n.factsDigest"
         "  RETURN collect([id, n.factsDigest, n.updatedAt]) AS datasets }")


class EventWrites(Connection):
    # False writes every job's and dataset's facts in full, changed or not (catalog.facts):
    # the conformance test compares both ways.
    skip_unchanged = True

    def write_events(self, events: Sequence[EventWrite]) -> list[WriteResult]:
        results: list[WriteResult] = []
        # Names the batch declares other names of a dataset (catalog.aliases).
        claims = {a for e in events for d in e.all_datasets() for a in d.aliases}

        def work(tx: neo4j.ManagedTransaction) -> None:
            # One round trip for all: the batch's events already stored, the job of each of
            # its runs already stored, the aliases among its names (catalog.aliases), and each
            # stored job's and dataset's facts digest and newest event time (catalog.facts),
            # a dataset's read through its alias. Those are read under the node's write lock
            # (a SET that reads the property takes it first), so another server's write to
            # the node cannot slip in between this read and this transaction's commit.
            record = tx.run(
                "CALL () { UNWIND $ids AS id MATCH (e:Event {id: id}) RETURN collect(id) AS known }"
                " CALL () { UNWIND $runs AS id MATCH (r:Run {id: id})"
                "  RETURN collect([id, r.jobId]) AS runJobs }"
                + LOOKUP + FACTS + " RETURN known, runJobs, aliases, claimed, jobs, datasets",
                ids=list({e.event_id for e in events}),
                runs=list({e.run.id for e in events if e.run}),
                names=list(named(events) | claims), claims=list(claims),
                jobs=sorted({e.job.id for e in events if e.job}),
                datasets=sorted({d.id for e in events for d in e.all_datasets()}),
            ).single(strict=True)
            results[:] = admitted(events, set(record["known"]), dict(record["runJobs"]))
            written = [e for e, r in zip(events, results, strict=True) if r is True]
            written, merged = apply_aliases(tx, written, record["aliases"], record["claimed"])
            merge(tx, merged)  # clears the facts digests of what it rewrites
            graph = bool(merged)  # whether the lineage graph changed (impact's copy)
            if written:
                stored = {n: (d, t) for n, d, t in [*record["jobs"], *record["datasets"]]}
                read = {d.id for e in events for d in e.all_datasets()}
                read |= {target for _, target, *_ in record["aliases"]}
                if merged or not {d.id for e in written for d in e.all_datasets()} <= read:
                    stored = self._stored_facts(tx, written)  # rare: read them again
                graph |= self._write(tx, written, merged,
                                     plan(written, stored, self.skip_unchanged))
            reindex_touched(tx, contributions(written))
            if merged:  # the merged datasets' documents go, their targets' are rewritten
                reindex(tx, sorted({*merged, *(t.id for t in merged.values())}))
            if graph:  # last: the counter's lock is held only until the commit
                bump_graph(tx)

        self._write_tx(work)
        return results

    @staticmethod
    def _stored_facts(tx: neo4j.ManagedTransaction, events: Sequence[EventWrite]
                      ) -> dict[str, tuple[str | None, str]]:
        """``FACTS`` again, of the batch as written: after a merge, or where a name the batch
        declares an alias in this batch was resolved to another dataset."""
        record = tx.run(FACTS + " RETURN jobs, datasets",
                        jobs=sorted({e.job.id for e in events if e.job}),
                        datasets=sorted({d.id for e in events for d in e.all_datasets()}),
                        ).single(strict=True)
        return {n: (d, t) for n, d, t in [*record["jobs"], *record["datasets"]]}

    def _write(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
               merged: dict[str, Target], facts: Plan) -> bool:
        """Writes the events; True when the lineage graph changed: a dataset, a job edge or a
        column derivation added, or a derivation's job changed."""
        received = now()
        unwind(tx, "UNWIND $rows AS r CREATE (:Event {id: r.id, kind: r.kind, eventTime: r.t,"
                 " receivedAt: $now, payload: r.payload})",
                 [{"id": e.event_id, "kind": e.kind, "t": e.event_time, "payload": e.payload}
                       for e in events], now=received)
        # An unchanged node (catalog.facts) exists, and so does its namespace.
        namespaces = {d.namespace for e in events for d in e.all_datasets()
                      if facts.dataset_written(d)}
        namespaces |= {e.job.namespace for e in events if e.job and facts.job_written(e)}
        unwind(tx, "UNWIND $rows AS n MERGE (x:Namespace {name: n})"
               " ON CREATE SET x.createdAt = $now", sorted(namespaces), now=received)
        jobs = [e for e in events if facts.job_written(e)]
        self._write_jobs(tx, jobs, facts)
        graph = self._write_datasets(tx, events, facts)
        self._touch(tx, events, facts)
        inputs = {(d.id, e.job.id) for e in jobs if e.job for d in e.inputs}
        outputs = {(e.job.id, d.id) for e in jobs if e.job for d in e.outputs}
        graph |= created(unwind(tx, "UNWIND $rows AS r MATCH (a:Dataset {id: r[0]}),"
                                " (b:Job {id: r[1]}) MERGE (a)-[:INPUT_TO]->(b)",
                                [list(x) for x in inputs]))
        graph |= created(unwind(tx, "UNWIND $rows AS r MATCH (a:Job {id: r[0]}),"
                                " (b:Dataset {id: r[1]}) MERGE (a)-[:PRODUCES]->(b)",
                                [list(x) for x in outputs]))
        versions, observed = self._write_schemas(tx, events, merged)
        self._write_runs(tx, events, versions, observed)
        graph |= self._write_column_edges(tx, [e for e in events if facts.edges_written(e)],
                                          facts)
        facets = latest_per_key(
            ((node, name, e.event_time, body) for e in events
             for node, name, body in facts.facets(e)), key=2, time=2)
        unwind(tx, "UNWIND $rows AS r MERGE (f:Facet {key: r.key})"
                 " ON CREATE SET f.owner = r.owner, f.name = r.name, f.eventTime = r.t,"
                 "  f.body = r.body"
                 " WITH f, r, r.t >= f.eventTime AS newer"
                 " SET f.body = CASE WHEN newer THEN r.body ELSE f.body END,"
                 "  f.eventTime = CASE WHEN newer THEN r.t ELSE f.eventTime END",
                 [{"key": f"{n}|{k}", "owner": n, "name": k, "t": t,
                        "body": orjson.dumps(b).decode()} for n, k, t, b in facets])
        return graph

    @staticmethod
    def _touch(tx: neo4j.ManagedTransaction, events: list[EventWrite], facts: Plan) -> None:
        """What a full write of an unchanged job or dataset would change: the newest event
        time, of the node and of each of its facets."""
        for label in ("Job", "Dataset"):
            unwind(tx, f"UNWIND $rows AS r MATCH (n:{label} {{id: r[0]}})"
                   " SET n.updatedAt = CASE WHEN r[1] > n.updatedAt THEN r[1] ELSE n.updatedAt END",
                   [[node, t] for node, t in facts.touched.items()
                    if node.startswith(label.lower() + ":")])
        unwind(tx, "UNWIND $rows AS r MATCH (f:Facet {key: r[0]})"
               " SET f.eventTime = CASE WHEN r[1] > f.eventTime THEN r[1] ELSE f.eventTime END",
               [[f"{node}|{name}", t] for node, name, t in facts.facet_times(events)])

    def _write_jobs(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                    facts: Plan) -> None:
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
            + union("j", "tags", "r.tags") + ", " + union("j", "owners", "r.owners")
            + ", j.factsDigest = r.facts",
            [{"id": r[0], "namespace": r[1], "name": r[2], "description": r[3],
                   "jobType": r[4], "processingType": r[5], "integration": r[6], "sql": r[7],
                   "created": r[8], "t": r[9], "tags": sorted(extra[r[0]][0]),
                   "owners": sorted(extra[r[0]][1]), "facts": facts.record.get(r[0])}
             for r in rows])

    def _write_datasets(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                        facts: Plan) -> bool:
        """Writes the datasets; True when one was added."""
        self._write_quality(tx, events)
        items = [(d, e.event_time) for e in events for d in e.all_datasets()
                 if facts.dataset_written(d)]
        if not items:
            return False
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
        added = created(unwind(
            tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
            " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.created,"
            "  d.updatedAt = r.t"
            " SET " + newer("d", "description") + ", " + newer("d", "lifecycleState")
            + " SET d.updatedAt = CASE WHEN r.t > d.updatedAt THEN r.t ELSE d.updatedAt END, "
            + ", ".join(union("d", k, f"r.{k}") for k in ("tags", "owners", "symlinks"))
            + ", d.factsDigest = r.facts",
            [{"id": r[0], "namespace": r[1], "name": r[2], "description": r[3],
                   "lifecycleState": r[4], "created": r[5], "t": r[6],
                   "tags": sorted(extra[r[0]][0]), "owners": sorted(extra[r[0]][1]),
                   "symlinks": sorted(extra[r[0]][2]), "facts": facts.record.get(r[0])}
             for r in rows]))
        names = {r[0]: (r[1], r[2]) for r in rows}
        if classes:
            unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r.dataset})"
                     " MERGE (f:Field {id: r.id}) ON CREATE SET f.datasetId = r.dataset,"
                     "  f.name = r.field MERGE (d)-[:HAS_FIELD]->(f) SET "
                     + union("f", "tagClasses", "r.classes"),
                     [{"id": field_id(*names[ds], field), "dataset": ds, "field": field,
                            "classes": sorted(cs)} for (ds, field), cs in classes.items()])
        return added

    @staticmethod
    def _write_quality(tx: neo4j.ManagedTransaction, events: list[EventWrite]) -> None:
        quality = [
            {"id": quality_result_id(d.id, q.field, q.assertion, run or e.event_id, q.source,
                                     q.name),
             "name": q.name,
             "dataset": d.id, "field": q.field, "assertion": q.assertion, "success": q.success,
             "run": run, "t": e.event_time, "source": q.source,
             "value": orjson.dumps(q.value).decode()}
            for e in events for d in e.all_datasets() for q in d.quality
            for run in [q.run_id or (e.run.id if e.run else None)]
        ]
        # The embedded store's rule: the latest event time wins, a failure on a tie.
        unwind(tx, "UNWIND $rows AS r MERGE (q:Quality {id: r.id}) ON CREATE SET"
                 " q.datasetId = r.dataset, q.field = r.field, q.assertion = r.assertion,"
                 " q.success = r.success, q.runId = r.run, q.observedAt = r.t, q.source = r.source,"
                 " q.value = r.value, q.name = r.name"
                 " WITH q, r WHERE r.t > q.observedAt"
                 " OR (r.t = q.observedAt AND q.success AND NOT r.success)"
                 " SET q.success = r.success, q.observedAt = r.t, q.value = r.value", quality)

    def _write_schemas(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                       merged: dict[str, Target]
                       ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Same rule as the embedded store (``catalog.schema_history``): record the batch's
        observations; in-order ones only append versions, a late one re-derives the history
        from the last version before it. A RENAME's old name and a merged alias lend their
        observations, and the dataset's history is derived again; a merged alias's goes."""
        batch, bodies = observations(events)
        ids = sorted({d.id for e in events for d in e.all_datasets()})
        # The current version is kept on the dataset node: one index lookup per dataset.
        latest: dict[str, Version] = {}
        seen: dict[str, str] = {}
        for r in tx.run(
                "UNWIND $ids AS id MATCH (d:Dataset {id: id}) WHERE d.schemaVersion IS NOT NULL"
                " RETURN id, d.schemaVersion AS version, d.schemaFingerprint AS fingerprint,"
                " d.schemaCreatedAt AS created, coalesce(d.schemaRunId, '') AS run,"
                " d.schemaSeenAt AS seen", ids=ids):
            latest[r["id"]] = Version(r["version"], r["created"], r["fingerprint"], r["run"])
            if r["seen"] is not None:
                seen[r["id"]] = r["seen"]
        renamed = renames(events)
        lent = [*([new, old] for new, old in renamed.items()),
                *([t.id, old] for old, t in merged.items())]
        unwind(tx, "UNWIND $rows AS r MATCH (o:SchemaObservation {datasetId: r[1]})"
                 " MERGE (n:SchemaObservation {datasetId: r[0], t: o.t,"
                 " fingerprint: o.fingerprint}) ON CREATE SET n.runId = o.runId", lent)
        for r in tx.run("UNWIND $rows AS r MATCH (s:SchemaVersion {datasetId: r[1]})"
                        " RETURN r[0] AS ds, s.fingerprint AS fp, s.fields AS fields",
                        rows=lent):
            bodies.setdefault((r["ds"], r["fp"]), r["fields"].encode())
        for new_id, _ in lent:
            batch.setdefault(new_id, [])
        for label in ("SchemaObservation", "SchemaVersion"):
            unwind(tx, f"UNWIND $rows AS id MATCH (s:{label} {{datasetId: id}}) DELETE s",
                   list(merged))
        rederive = {*renamed, *(t.id for t in merged.values())}
        unwind(tx, "UNWIND $rows AS r MERGE (o:SchemaObservation {datasetId: r[0], t: r[1],"
                 " fingerprint: r[2]}) ON CREATE SET o.runId = r[3]"
                 " ON MATCH SET o.runId = CASE WHEN r[3] < o.runId THEN r[3] ELSE o.runId END",
                 [[ds, t, fp, run] for ds, obs in batch.items() for t, fp, run in obs])
        observed: dict[tuple[str, str], int] = {}
        seen_now: dict[str, list[Observation]] = {}
        inserts: list[dict[str, object]] = []
        redo: list[dict[str, object]] = []
        for ds, obs in batch.items():
            if ds not in rederive and in_order(seen.get(ds), obs):
                added = appends(latest.get(ds), obs)
                current = [*([latest[ds]] if ds in latest else []), *added]
                new, affected = added, obs
            else:
                # A late event: re-derive the history from the last version before it.
                stored = [Version(r["v"], r["t"], r["fp"], r["run"]) for r in tx.run(
                    "MATCH (s:SchemaVersion {datasetId: $ds}) RETURN s.version AS v,"
                    " s.createdAt AS t, s.fingerprint AS fp, coalesce(s.runId, '') AS run,"
                    " s.fields AS fields ORDER BY v", ds=ds)]
                start = None if ds in rederive else restart(stored, obs[0][0])
                first = start.version if start else 1
                affected = [(r["t"], r["fp"], r["run"]) for r in tx.run(
                    "MATCH (o:SchemaObservation {datasetId: $ds})"
                    " WHERE o.t > $t OR (o.t = $t AND o.fingerprint >= $fp)"
                    " RETURN o.t AS t, o.fingerprint AS fp, o.runId AS run", ds=ds,
                    t=start.created_at if start else "", fp=start.fingerprint if start else "")]
                for r in tx.run("MATCH (s:SchemaVersion {datasetId: $ds}) WHERE s.version >= $v"
                                " RETURN s.fingerprint AS fp, s.fields AS fields", ds=ds, v=first):
                    bodies.setdefault((ds, r["fp"]), r["fields"].encode())
                redo.append({"ds": ds, "v": first})
                current = [v for v in stored if v.version < first] + history(affected, first)
                new = [v for v in current if v.version >= first]
            if current:
                latest[ds] = current[-1]
            if affected:
                seen_now[ds] = affected
            inserts += [{"dataset": ds, "version": v.version, "fp": v.fingerprint,
                         "t": v.created_at, "run": v.run_id or None,
                         "fields": bodies[ds, v.fingerprint].decode()} for v in new]
            for t, fp, run in affected:
                version = version_at(current, t, fp)
                if run and version is not None:
                    observed[run, ds] = version
        unwind(tx, "UNWIND $rows AS r MATCH (s:SchemaVersion {datasetId: r.ds})"
                 " WHERE s.version >= r.v DETACH DELETE s", redo)
        unwind(tx, "UNWIND $rows AS r CREATE (:SchemaVersion {datasetId: r.dataset,"
               " version: r.version, fingerprint: r.fp, createdAt: r.t, runId: r.run,"
               " fields: r.fields})", inserts)
        unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r.ds}) SET d.schemaVersion = r.v,"
               " d.schemaFingerprint = r.fp, d.schemaCreatedAt = r.t, d.schemaRunId = r.run,"
               " d.schemaSeenAt = CASE WHEN d.schemaSeenAt > r.seen THEN d.schemaSeenAt"
               "  ELSE r.seen END",
               [{"ds": ds, "v": latest[ds].version, "fp": latest[ds].fingerprint,
                 "t": latest[ds].created_at, "run": latest[ds].run_id,
                 "seen": max(t for t, _, _ in obs)} for ds, obs in seen_now.items()
                if ds in latest])
        # Runs of a renumbered stretch of history point at their version again.
        unwind(tx, "UNWIND $rows AS r MATCH (:Run {id: r.run})-[x:READ|WROTE]->"
               "(:Dataset {id: r.ds}) SET x.schemaVersion = r.v",
               [{"run": run, "ds": ds, "v": v} for (run, ds), v in observed.items()])
        return {ds: v.version for ds, v in latest.items()}, observed

    def _write_runs(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                    versions: dict[str, int], observed: dict[tuple[str, str], int]) -> None:
        rows = folded_runs(events)
        if not rows:
            return
        # Each event's state transition, kept on the run (as JSON text: a list property holds
        # scalars only) so its attempts can be told apart (catalog.attempts).
        transitions: dict[str, list[str]] = {}
        for e in events:
            if e.run is not None:
                r = e.run
                transitions.setdefault(r.id, []).append(orjson.dumps(
                    [e.event_time, r.event_type, r.state, r.error_message,
                     try_number(r.facets)]).decode())
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
            + ", run.transitions = coalesce(run.transitions, []) + r.transitions"
            " SET run.sortTime = coalesce(run.startedAt, run.createdAt)"
            # One RUN_OF per run, to its own job: the run lists count a job's runs by them.
            " WITH run MATCH (j:Job {id: run.jobId}) MERGE (run)-[:RUN_OF]->(j)",
            [{**row, "transitions": transitions.get(row["id"], [])} for row in rows],
            terminal=terminal)
        settle_runs(tx, [row["id"] for row in rows])
        io = {(e.run.id, "READ" if d.role == "input" else "WROTE", d.id)
              for e in events if e.run for d in (*e.inputs, *e.outputs)}
        for rel in ("READ", "WROTE"):
            unwind(tx, f"UNWIND $rows AS r MATCH (run:Run {{id: r.run}}), (d:Dataset {{id: r.ds}})"
                     f" MERGE (run)-[x:{rel}]->(d)"
                     " SET x.schemaVersion = coalesce(r.version, x.schemaVersion)",
                     [{"run": run, "ds": ds,
                       "version": observed.get((run, ds), versions.get(ds))}
                           for run, kind, ds in io if kind == rel])

    def _write_column_edges(self, tx: neo4j.ManagedTransaction, events: list[EventWrite],
                            facts: Plan) -> bool:
        """Writes the derivations; True when a dataset or a derivation was added or a
        derivation's job changed."""
        edges = {(c.source_id, c.target_id, c.type, c.subtype): (c, e)
                 for e in sorted(events, key=lambda e: e.event_time) for c in e.column_edges}
        if not edges:
            return False
        graph = created(unwind(tx, "UNWIND $rows AS r MERGE (d:Dataset {id: r.id})"
                 " ON CREATE SET d.namespace = r.namespace, d.name = r.name, d.createdAt = r.t,"
                 "  d.updatedAt = r.t", [{"id": c.source_dataset, "namespace": c.source_namespace,
                        "name": c.source_name, "t": e.event_time} for c, e in edges.values()]))
        fields = {(c.source_id, c.source_dataset, c.source_field) for c, _ in edges.values()}
        fields |= {(c.target_id, c.target_dataset, c.target_field) for c, _ in edges.values()}
        unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r[1]})"
                 " MERGE (f:Field {id: r[0]}) ON CREATE SET f.datasetId = r[1], f.name = r[2]"
                 " MERGE (d)-[:HAS_FIELD]->(f)", [list(f) for f in fields])
        # The job a derivation had is read under the derivation's write lock (taken by the
        # first SET, which reads the property); a job that loses one to another job (or to
        # an event without one) no longer holds its facts' promise (catalog.facts).
        # A derivation whose job changes (one that had none included) changes the graph.
        result = tx.run(
            "UNWIND $rows AS r MATCH (s:Field {id: r.source}), (t:Field {id: r.target})"
            " MERGE (s)-[e:DERIVES {type: r.type, subtype: r.subtype}]->(t)"
            " SET e.description = coalesce(r.description, e.description)"
            " WITH e, r, e.jobId AS before"
            " SET e.masking = r.masking, e.jobId = coalesce(r.job, e.jobId)"
            " WITH DISTINCT before, r.job AS job"
            " CALL (before, job) { MATCH (j:Job {id: before})"
            "  WHERE job IS NULL OR job <> before SET j.factsDigest = null }"
            " RETURN count(CASE WHEN job <> coalesce(before, '') THEN 1 END) AS moved",
            rows=[{"source": c.source_id, "target": c.target_id, "type": c.type,
                   "subtype": c.subtype, "description": c.description, "masking": c.masking,
                   "job": e.job.id if e.job else None} for c, e in edges.values()])
        moved = result.single(strict=True)["moved"]
        return graph or moved > 0 or created(result.consume().counters)

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
