"""The write path: a batch of OpenLineage events (and quality results) in one transaction, and
the dead letters kept for what could not be accepted."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import orjson

from headwater.catalog.aliases import Target
from headwater.catalog.attempts import Transition, attempts, try_number
from headwater.catalog.batching import admitted
from headwater.catalog.batching import latest_per_key as _latest
from headwater.catalog.batching import merged_per_id as _merged
from headwater.catalog.embedded.aliases import apply_aliases, merge
from headwater.catalog.embedded.connection import Connections, chunks
from headwater.catalog.embedded.schema_writes import write_schemas
from headwater.catalog.embedded.search import IndexedDigests, reindex, reindex_touched
from headwater.catalog.facts import Plan, plan
from headwater.catalog.model import DeadLetter, DeadLetterWrite, EventWrite, WriteResult
from headwater.catalog.rules import TERMINAL_STATES, dead_letter_ids, now, quality_result_id
from headwater.catalog.search import contributions


def _terminal(col: str) -> str:
    # Explicit ORs: an IN (...) list inside an upsert's SET is rebuilt for every row (~100x slower).
    return "(" + " OR ".join(f"{col} = '{s}'" for s in sorted(TERMINAL_STATES)) + ")"


# The SQL twin of rules.state_wins: terminal beats non-terminal, latest terminal wins, OTHER
# only fills a gap, a terminal state never goes back to RUNNING.
_STATE_WINS = f"""(excluded.state IS NOT NULL AND (
  runs.state IS NULL OR runs.state = 'NEW'
  OR ({_terminal('excluded.state')} AND (NOT {_terminal('runs.state')}
      OR excluded.state_time >= runs.state_time))
  OR (NOT {_terminal('excluded.state')} AND excluded.state <> 'OTHER'
      AND NOT {_terminal('runs.state')} AND excluded.state_time >= coalesce(runs.state_time, ''))))"""


def _newer(col: str, table: str) -> str:
    """Keep a non-null incoming value if it is at least as recent as what is stored."""
    return (
        f"{col} = CASE WHEN excluded.{col} IS NOT NULL AND ({table}.{col} IS NULL "
        f"OR excluded.updated_at >= {table}.updated_at) THEN excluded.{col} ELSE {table}.{col} END"
    )


def settle_runs(db: sqlite3.Connection, run_ids: Sequence[str]) -> None:
    """Set each run's state, end and error to its latest attempt's (``catalog.attempts``),
    from every transition stored for it: one read and one write per chunk of runs."""
    for chunk in chunks(run_ids):
        found: dict[str, list[Transition]] = {}
        for run, *t in db.execute(
                "SELECT run_id, event_time, event_type, state, error_message, try_number"
                f" FROM run_transitions WHERE run_id IN ({','.join('?' * len(chunk))})", chunk):
            found.setdefault(run, []).append(Transition(*t))
        rows = []
        for run, ts in found.items():
            last = attempts(ts)[-1]
            rows.append((last.state, last.state_time, last.ended_at, last.error_message, run))
        db.executemany("UPDATE runs SET state = ?, state_time = ?, ended_at = ?,"
                       " error_message = ? WHERE id = ?", rows)


class EventWrites(Connections):
    # False writes every job's and dataset's facts in full, changed or not (catalog.facts):
    # the conformance test compares both ways.
    skip_unchanged = True

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._indexed = IndexedDigests()

    def write_events(self, events: Sequence[EventWrite]) -> list[WriteResult]:
        with self._transaction() as db:
            known = self._indexed.known(db)
            stored_events, run_jobs = self._known(db, events)
            stored_runs = set(run_jobs)  # ``admitted`` adds the batch's new runs
            results = admitted(events, stored_events, run_jobs)
            written = [e for e, r in zip(events, results, strict=True) if r is True]
            written, merged = apply_aliases(db, written)
            merge(db, merged)  # clears the facts digests of what it rewrites
            if written:
                # Read after the merge and of the resolved datasets (catalog.facts).
                self._write(db, written, merged, plan(
                    written, self._stored_facts(db, written), self.skip_unchanged),
                    stored_runs)
            indexed = reindex_touched(db, contributions(written), known)
            if merged:  # the merged datasets' documents go, their targets' are rewritten
                reindex(db, sorted({*merged, *(t.id for t in merged.values())}))
            # Where this transaction leaves the file, read inside it: a write another thread
            # commits before `written` below is then seen as one.
            mark = self._indexed.state(db)
        if merged:  # rare: start again rather than track what the merge rewrote
            self._indexed.forget()
        else:
            self._indexed.written(indexed, mark)
        return results

    def _stored_facts(self, db: sqlite3.Connection, events: Sequence[EventWrite]
                      ) -> dict[str, tuple[str | None, str]]:
        """The digest and newest event time of each job and dataset of the batch that is
        stored (catalog.facts)."""
        jobs = list({e.job.id for e in events if e.job})
        datasets = list({d.id for e in events for d in e.all_datasets()})
        return {r[0]: (r[1], r[2]) for r in [
            *self._in_tx(db, "SELECT id, facts_digest, updated_at FROM jobs WHERE id IN ({ids})",
                         jobs),
            *self._in_tx(db, "SELECT id, facts_digest, updated_at FROM datasets"
                         " WHERE id IN ({ids})", datasets)]}

    @staticmethod
    def _known(db: sqlite3.Connection, events: Sequence[EventWrite]
               ) -> tuple[set[str], dict[str, str]]:
        """The batch's event ids already stored, and the job of each of its runs already
        stored: one query for both (per 450 ids of each)."""
        event_ids = list({e.event_id for e in events})
        run_ids = list({e.run.id for e in events if e.run})
        known: set[str] = set()
        run_jobs: dict[str, str] = {}
        step = 450  # two IN lists per query, under SQLite's 999 parameters
        for i in range(0, max(len(event_ids), len(run_ids)), step):
            evs, runs = event_ids[i : i + step], run_ids[i : i + step]
            q = (f"SELECT id, NULL FROM events WHERE id IN ({','.join('?' * len(evs))})"
                 f" UNION ALL SELECT id, job_id FROM runs WHERE id IN ({','.join('?' * len(runs))})")
            for id_, job in db.execute(q, evs + runs):
                if job is None:
                    known.add(id_)
                else:
                    run_jobs[id_] = job
        return known, run_jobs

    def _write(self, db: sqlite3.Connection, events: list[EventWrite],
               merged: dict[str, Target], facts: Plan, stored_runs: set[str]) -> None:
        received = now()
        db.executemany(
            "INSERT INTO events(id, kind, event_time, received_at, payload) VALUES (?,?,?,?,?)",
            [(e.event_id, e.kind, e.event_time, received, e.payload) for e in events],
        )
        # An unchanged node (catalog.facts) exists, and so does its namespace.
        namespaces = {(d.namespace,) for e in events for d in e.all_datasets()
                      if facts.dataset_written(d)}
        namespaces |= {(e.job.namespace,) for e in events if e.job and facts.job_written(e)}
        db.executemany(
            "INSERT OR IGNORE INTO namespaces(name, created_at) VALUES (?, ?)",
            [(ns, received) for (ns,) in namespaces],
        )
        self._write_jobs(db, [e for e in events if facts.job_written(e)], facts)
        self._write_datasets(db, events, facts)
        self._touch(db, events, facts)
        versions, observed = write_schemas(db, events, merged, stored_runs)
        self._write_runs(db, events, versions, observed)
        self._write_column_edges(db, [e for e in events if facts.edges_written(e)], facts)
        facets = [(node, name, e.event_time, body) for e in events
                  for node, name, body in facts.facets(e)]
        facets = [(n, k, t, orjson.dumps(b)) for n, k, t, b in _latest(facets, key=2, time=2)]
        db.executemany(
            "INSERT INTO facets(node_id, name, event_time, body) VALUES (?,?,?,?)"
            " ON CONFLICT DO UPDATE SET body = excluded.body, event_time = excluded.event_time"
            " WHERE excluded.event_time >= facets.event_time",
            facets,
        )

    @staticmethod
    def _touch(db: sqlite3.Connection, events: list[EventWrite], facts: Plan) -> None:
        """What a full write of an unchanged job or dataset would change: the newest event
        time, of the node and of each of its facets."""
        for table in ("jobs", "datasets"):
            db.executemany(f"UPDATE {table} SET updated_at = ? WHERE id = ? AND updated_at < ?",
                           [(t, node, t) for node, t in facts.touched.items()
                            if node.startswith(table[:-1] + ":")])
        db.executemany("UPDATE facets SET event_time = ? WHERE node_id = ? AND name = ?"
                       " AND event_time < ?",
                       [(t, node, name, t) for node, name, t in facts.facet_times(events)])

    def _write_column_edges(self, db: sqlite3.Connection, events: list[EventWrite],
                            facts: Plan) -> None:
        """The derivations of the events whose job is written in full (or that have none).
        A job whose derivation another job takes over no longer holds its facts' promise."""
        if not facts.edges:
            return
        keys = list(facts.edges)
        before: dict[tuple[str, str, str, str], str | None] = {}
        for chunk in chunks(keys, 200):
            # A join from the keys, so each is a primary-key search: a row-value IN list was
            # planned as a scan of every column edge per chunk (at 100k datasets, seconds a
            # batch).
            for *key, job in db.execute(
                    f"WITH k(s, t, ty, st) AS (VALUES {','.join(['(?,?,?,?)'] * len(chunk))})"
                    " SELECT c.source_id, c.target_id, c.type, c.subtype, c.job_id"
                    " FROM k JOIN column_edges c ON c.source_id = k.s AND c.target_id = k.t"
                    " AND c.type = k.ty AND c.subtype = k.st",
                    [x for k in chunk for x in k]):
                before[tuple(key)] = job  # type: ignore[index]
        db.executemany("UPDATE jobs SET facts_digest = NULL WHERE id = ?",
                       [(job,) for job in facts.owners(before)])
        db.executemany(
            "INSERT INTO column_edges(source_id, target_id, source_dataset, target_dataset,"
            " source_field, target_field, type, subtype, description, masking, job_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET"
            " description = coalesce(excluded.description, description),"
            " masking = excluded.masking, job_id = coalesce(excluded.job_id, job_id)"
            # Every run repeats its job's lineage: rewriting an unchanged row would still dirty
            # its pages, and the commit would write and fsync them all again.
            " WHERE masking IS NOT excluded.masking"
            " OR (excluded.description IS NOT NULL AND excluded.description IS NOT description)"
            " OR (excluded.job_id IS NOT NULL AND excluded.job_id IS NOT job_id)",
            {
                (c.source_id, c.target_id, c.type, c.subtype): (
                    c.source_id, c.target_id, c.source_dataset, c.target_dataset, c.source_field,
                    c.target_field, c.type, c.subtype, c.description, int(c.masking),
                    e.job.id if e.job else None)
                for e in sorted(events, key=lambda e: e.event_time) for c in e.column_edges
            }.values(),
        )
        db.executemany(
            "INSERT OR IGNORE INTO field_nodes(id, dataset_id, field) VALUES (?,?,?)",
            {(c.source_id, c.source_dataset, c.source_field) for e in events for c in e.column_edges}
            | {(c.target_id, c.target_dataset, c.target_field)
               for e in events for c in e.column_edges},
        )
        db.executemany(
            "INSERT OR IGNORE INTO datasets(id, namespace, name, created_at, updated_at)"
            " VALUES (?,?,?,?,?)",
            {(c.source_dataset, c.source_namespace, c.source_name, e.event_time, e.event_time)
             for e in events for c in e.column_edges},
        )

    @staticmethod
    def _in_tx(db: sqlite3.Connection, sql: str, ids: Sequence[str]) -> list[tuple]:  # type: ignore[type-arg]
        rows: list[tuple] = []  # type: ignore[type-arg]
        for chunk in chunks(list(ids)):
            rows += db.execute(sql.format(ids=",".join("?" * len(chunk))), chunk).fetchall()
        return rows

    def _write_jobs(self, db: sqlite3.Connection, events: list[EventWrite],
                    facts: Plan) -> None:
        jobs = [(e.job, e.event_time) for e in events if e.job]
        db.executemany(
            "INSERT INTO jobs(id, namespace, name, description, job_type, processing_type,"
            " integration, sql, created_at, updated_at, facts_digest)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            + ", ".join(
                _newer(c, "jobs")
                for c in ("description", "job_type", "processing_type", "integration", "sql")
            )
            + ", updated_at = max(jobs.updated_at, excluded.updated_at),"
            " facts_digest = excluded.facts_digest",
            [(*row, facts.record.get(row[0])) for row in _merged(
                [(j.id, j.namespace, j.name, j.description, j.job_type, j.processing_type,
                  j.integration, j.sql, t, t) for j, t in jobs], time=9)],
        )
        db.executemany(
            "INSERT OR IGNORE INTO tags(node_id, tag) VALUES (?, ?)",
            {(j.id, tag) for j, _ in jobs for tag in j.tags},
        )
        db.executemany(
            "INSERT INTO owners(node_id, owner, type) VALUES (?,?,?)"
            " ON CONFLICT DO UPDATE SET type = coalesce(excluded.type, type)",
            [(j.id, o, t) for j, _ in jobs for o, t in j.owners],
        )
        edges = {(d.id, e.job.id) for e in events if e.job for d in e.inputs}
        edges |= {(e.job.id, d.id) for e in events if e.job for d in e.outputs}
        db.executemany("INSERT OR IGNORE INTO edges(src, dst) VALUES (?, ?)", edges)

    def _write_datasets(self, db: sqlite3.Connection, events: list[EventWrite],
                        facts: Plan) -> None:
        rows = [(d, e.event_time) for e in events for d in e.all_datasets()
                if facts.dataset_written(d)]
        db.executemany(
            "INSERT INTO datasets(id, namespace, name, description, lifecycle_state, created_at,"
            " updated_at, facts_digest) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            + _newer("description", "datasets") + ", " + _newer("lifecycle_state", "datasets")
            + ", updated_at = max(datasets.updated_at, excluded.updated_at),"
            " facts_digest = excluded.facts_digest",
            [(*row, facts.record.get(row[0])) for row in _merged(
                [(d.id, d.namespace, d.name, d.description, d.lifecycle_state, t, t)
                 for d, t in rows], time=6)],
        )
        db.executemany(
            "INSERT OR IGNORE INTO tags(node_id, tag) VALUES (?, ?)",
            {(d.id, tag) for d, _ in rows for tag in d.tags},
        )
        db.executemany(
            "INSERT OR IGNORE INTO field_classifications(dataset_id, field, classification, source)"
            " VALUES (?, ?, ?, 'tag')",
            {(d.id, f, c) for d, _ in rows for f, c in d.field_classifications},
        )
        db.executemany(
            "INSERT INTO owners(node_id, owner, type) VALUES (?,?,?)"
            " ON CONFLICT DO UPDATE SET type = coalesce(excluded.type, type)",
            [(d.id, o, t) for d, _ in rows for o, t in d.owners],
        )
        db.executemany(
            "INSERT OR IGNORE INTO symlinks(dataset_id, namespace, name, type) VALUES (?,?,?,?)",
            {(d.id, ns, n, t) for d, _ in rows for ns, n, t in d.symlinks},
        )

    def _write_runs(
        self, db: sqlite3.Connection, events: list[EventWrite], versions: dict[str, int],
        observed: dict[tuple[str, str], int],
    ) -> None:
        runs = [(e, e.run) for e in events if e.run]
        db.executemany(
            "INSERT INTO runs(id, job_id, state, state_time, started_at, ended_at, nominal_start,"
            " nominal_end, error_message, parent_run_id, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
            f" ended_at = CASE WHEN {_STATE_WINS} THEN"
            f"   CASE WHEN {_terminal('excluded.state')} THEN excluded.state_time ELSE NULL END"
            "   ELSE runs.ended_at END,"
            f" state_time = CASE WHEN {_STATE_WINS} THEN excluded.state_time ELSE runs.state_time END,"
            f" state = CASE WHEN {_STATE_WINS} THEN excluded.state ELSE runs.state END,"
            " started_at = CASE WHEN runs.started_at IS NULL THEN excluded.started_at"
            "   WHEN excluded.started_at IS NULL THEN runs.started_at"
            "   ELSE min(runs.started_at, excluded.started_at) END,"
            " nominal_start = coalesce(excluded.nominal_start, runs.nominal_start),"
            " nominal_end = coalesce(excluded.nominal_end, runs.nominal_end),"
            " error_message = coalesce(excluded.error_message, runs.error_message),"
            " parent_run_id = coalesce(excluded.parent_run_id, runs.parent_run_id),"
            " created_at = min(runs.created_at, excluded.created_at),"
            " updated_at = max(runs.updated_at, excluded.updated_at)",
            [
                (r.id, r.job_id, r.state, e.event_time,
                 e.event_time if r.event_type == "START" else None,
                 e.event_time if r.state in TERMINAL_STATES else None,
                 r.nominal_start, r.nominal_end, r.error_message, r.parent_run_id,
                 e.event_time, e.event_time)
                for e, r in runs
            ],
        )
        db.executemany(
            "INSERT OR IGNORE INTO tags(node_id, tag) VALUES (?, ?)",
            [(r.id, tag) for _, r in runs for tag in r.tags],
        )
        db.executemany(
            "INSERT OR IGNORE INTO run_transitions(run_id, event_id, event_time, event_type,"
            " state, error_message, try_number) VALUES (?,?,?,?,?,?,?)",
            [(r.id, e.event_id, e.event_time, r.event_type, r.state, r.error_message,
              try_number(r.facets)) for e, r in runs],
        )
        settle_runs(db, list({r.id for _, r in runs}))
        db.executemany(
            "INSERT INTO run_io(run_id, direction, dataset_id, schema_version) VALUES (?,?,?,?)"
            " ON CONFLICT DO UPDATE SET schema_version = excluded.schema_version"
            " WHERE excluded.schema_version IS NOT NULL"
            " AND excluded.schema_version IS NOT schema_version",
            [
                (r.id, "in" if d.role == "input" else "out", d.id,
                 observed.get((r.id, d.id), versions.get(d.id)))
                for e, r in runs for d in (*e.inputs, *e.outputs)
            ],
        )
        quality = [
            (quality_result_id(d.id, q.field, q.assertion, run or e.event_id, q.source, q.name),
             d.id, q.field, q.assertion, int(q.success), run, e.event_time, q.source,
             orjson.dumps(q.value), orjson.dumps(q.details), q.name)
            for e in events for d in e.all_datasets() for q in d.quality
            for run in [q.run_id or (e.run.id if e.run else None)]
        ]
        # One result per (dataset, field, assertion, name, run): producers repeat it on a run's
        # START and COMPLETE (dbt-ol does), so the latest event time wins, a failure on a tie,
        # in whatever order the events arrive.
        db.executemany(
            "INSERT INTO quality_results(id, dataset_id, field, assertion, success,"
            " run_id, observed_at, source, value, details, name) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET success = excluded.success,"
            " observed_at = excluded.observed_at, value = excluded.value,"
            " details = excluded.details WHERE excluded.observed_at > observed_at"
            " OR (excluded.observed_at = observed_at AND excluded.success < success)",
            quality,
        )

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        return self.add_dead_letters([DeadLetterWrite(payload, reason, errors)])[0]

    def add_dead_letters(self, letters: Sequence[DeadLetterWrite]) -> list[str]:
        if not letters:
            return []
        received = now()
        ids = dead_letter_ids(received, (d.payload for d in letters))
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO dead_letters(id, received_at, reason, errors, payload)"
                " VALUES (?,?,?,?,?)",
                [(i, received, d.reason, orjson.dumps(d.errors), d.payload)
                 for i, d in zip(ids, letters, strict=True)])
        return ids

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._rows(
            "SELECT * FROM dead_letters ORDER BY received_at DESC LIMIT ?", (limit,)
        )
        return [
            DeadLetter(r["id"], r["received_at"], r["reason"], orjson.loads(r["errors"]),
                       r["payload"])
            for r in rows
        ]

