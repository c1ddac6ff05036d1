"""The embedded store: SQLite in WAL mode, in one file under the data directory.

Why SQLite: it ships with Python (no server, nothing to install), it is a real transactional
database with durable commits (``synchronous=FULL``), WAL lets readers run beside the one writer,
and recursive CTEs give single-query graph traversal. The lineage graph is stored as edge tables
(``edges``, ``column_edges``) indexed both ways, which is what a traversal needs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from headwater.catalog.batching import facet_owners
from headwater.catalog.batching import latest_per_key as _latest
from headwater.catalog.batching import merged_per_id as _merged
from headwater.catalog.errors import StoreError
from headwater.catalog.ids import digest
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, event_time TEXT NOT NULL, received_at TEXT NOT NULL,
  payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
  retention_days INTEGER, lifecycle_state TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS datasets_ns_name ON datasets(namespace, name);
CREATE TABLE IF NOT EXISTS schema_versions (
  dataset_id TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL, run_id TEXT, fields BLOB NOT NULL, PRIMARY KEY (dataset_id, version));
CREATE TABLE IF NOT EXISTS field_classifications (
  dataset_id TEXT NOT NULL, field TEXT NOT NULL, classification TEXT NOT NULL, source TEXT NOT NULL,
  PRIMARY KEY (dataset_id, field, classification, source));
-- Who holds a classification (erasure discovery): an index range, not a scan of them all.
CREATE INDEX IF NOT EXISTS field_classifications_class ON field_classifications(classification);
CREATE TABLE IF NOT EXISTS tags (node_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (node_id, tag));
CREATE TABLE IF NOT EXISTS owners (
  node_id TEXT NOT NULL, owner TEXT NOT NULL, type TEXT, PRIMARY KEY (node_id, owner));
CREATE TABLE IF NOT EXISTS symlinks (
  dataset_id TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, type TEXT,
  PRIMARY KEY (dataset_id, namespace, name));
CREATE TABLE IF NOT EXISTS facets (
  node_id TEXT NOT NULL, name TEXT NOT NULL, event_time TEXT NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (node_id, name));
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
  job_type TEXT, processing_type TEXT, integration TEXT, sql TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_ns_name ON jobs(namespace, name);
-- Dataset lineage: dataset -> job (INPUT_TO) and job -> dataset (PRODUCES), one table so a
-- traversal is one recursive join, indexed both ways.
CREATE TABLE IF NOT EXISTS edges (
  src TEXT NOT NULL, dst TEXT NOT NULL, PRIMARY KEY (src, dst)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst, src);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, state TEXT, state_time TEXT, started_at TEXT,
  ended_at TEXT, nominal_start TEXT, nominal_end TEXT, error_message TEXT, parent_run_id TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_job ON runs(job_id, created_at);
CREATE TABLE IF NOT EXISTS run_io (
  run_id TEXT NOT NULL, direction TEXT NOT NULL, dataset_id TEXT NOT NULL, schema_version INTEGER,
  PRIMARY KEY (run_id, direction, dataset_id));
CREATE TABLE IF NOT EXISTS column_edges (
  source_id TEXT NOT NULL, target_id TEXT NOT NULL, source_dataset TEXT NOT NULL,
  target_dataset TEXT NOT NULL, source_field TEXT NOT NULL, target_field TEXT NOT NULL,
  type TEXT NOT NULL, subtype TEXT NOT NULL, description TEXT, masking INTEGER NOT NULL,
  job_id TEXT, PRIMARY KEY (source_id, target_id, type, subtype));
CREATE INDEX IF NOT EXISTS column_edges_target ON column_edges(target_id, source_id);
CREATE INDEX IF NOT EXISTS column_edges_target_ds ON column_edges(target_dataset);
CREATE TABLE IF NOT EXISTS field_nodes (
  id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, field TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quality_results (
  id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, field TEXT, assertion TEXT NOT NULL,
  success INTEGER NOT NULL, run_id TEXT, observed_at TEXT NOT NULL, source TEXT NOT NULL,
  value BLOB, details BLOB);
CREATE INDEX IF NOT EXISTS quality_dataset ON quality_results(dataset_id, observed_at);
CREATE TABLE IF NOT EXISTS erasures (
  id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, received_at TEXT NOT NULL,
  doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS erasures_status ON erasures(status, received_at);
CREATE INDEX IF NOT EXISTS erasures_received ON erasures(received_at, id);
CREATE TABLE IF NOT EXISTS erasure_audit (
  request_id TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL,
  PRIMARY KEY (request_id, seq)) WITHOUT ROWID;
-- The audit trail is evidence: nothing may rewrite or remove it.
CREATE TRIGGER IF NOT EXISTS erasure_audit_no_update BEFORE UPDATE ON erasure_audit
  BEGIN SELECT RAISE(ABORT, 'the erasure audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS erasure_audit_no_delete BEFORE DELETE ON erasure_audit
  BEGIN SELECT RAISE(ABORT, 'the erasure audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS declassified_edges (
  source_id TEXT NOT NULL, target_id TEXT NOT NULL, PRIMARY KEY (source_id, target_id));
CREATE INDEX IF NOT EXISTS column_edges_job ON column_edges(job_id);
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, time TEXT NOT NULL, principal TEXT NOT NULL, job_id TEXT, run_id TEXT,
  decision TEXT NOT NULL, reasons BLOB NOT NULL, masks BLOB NOT NULL,
  policy_revision TEXT NOT NULL, engine TEXT NOT NULL, input_digest TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(time);
CREATE INDEX IF NOT EXISTS decisions_run ON decisions(run_id, time);
CREATE TABLE IF NOT EXISTS dead_letters (
  id TEXT PRIMARY KEY, received_at TEXT NOT NULL, reason TEXT NOT NULL, errors BLOB NOT NULL,
  payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL);
"""

def _terminal(col: str) -> str:
    # Explicit ORs: an IN (...) list inside an upsert's SET is rebuilt for every row (~100x slower).
    return "(" + " OR ".join(f"{col} = '{s}'" for s in sorted(TERMINAL_STATES)) + ")"


# The SQL twin of model.state_wins: terminal beats non-terminal, latest terminal wins, OTHER
# only fills a gap, a terminal state never goes back to RUNNING.
_STATE_WINS = f"""(excluded.state IS NOT NULL AND (
  runs.state IS NULL OR runs.state = 'NEW'
  OR ({_terminal('excluded.state')} AND (NOT {_terminal('runs.state')}
      OR excluded.state_time >= runs.state_time))
  OR (NOT {_terminal('excluded.state')} AND excluded.state <> 'OTHER'
      AND NOT {_terminal('runs.state')} AND excluded.state_time >= coalesce(runs.state_time, ''))))"""

_CHUNK = 900
INHERIT_DEPTH = 20  # classifications travel at most this many derivations
INHERIT_BUDGET = 200_000  # visits, so a pathological graph cannot stall a read


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _newer(col: str, table: str) -> str:
    """Keep a non-null incoming value if it is at least as recent as what is stored."""
    return (
        f"{col} = CASE WHEN excluded.{col} IS NOT NULL AND ({table}.{col} IS NULL "
        f"OR excluded.updated_at >= {table}.updated_at) THEN excluded.{col} ELSE {table}.{col} END"
    )


class EmbeddedStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.executescript(SCHEMA)

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA wal_autocheckpoint=20000")
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        """A read connection per thread: WAL readers never block the writer."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
        return conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cur = self._db.execute(sql, params)
        cur.row_factory = sqlite3.Row
        return cur.fetchall()

    def _in(self, sql: str, ids: Sequence[str]) -> list[sqlite3.Row]:
        """Run ``sql`` (with one ``{ids}`` placeholder) over ids in chunks."""
        rows: list[sqlite3.Row] = []
        for chunk in _chunks(list(ids)):
            rows += self._rows(sql.format(ids=",".join("?" * len(chunk))), chunk)
        return rows

    def schema_version(self) -> int:
        return 0  # versioning arrives with the first migration step

    def migrate(self) -> list[str]:
        return []

    def ping(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"embedded store at {self.path} is unusable: {exc}") from exc

    def close(self) -> None:
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    # -- writes -----------------------------------------------------------------------------

    def write_events(self, events: Sequence[EventWrite]) -> list[bool]:
        with self._write_lock:
            db = self._writer
            try:
                db.execute("BEGIN IMMEDIATE")
                fresh = self._fresh(db, events)
                self._write(db, [e for e, new in zip(events, fresh, strict=True) if new])
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"embedded store write failed: {exc}") from exc
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return fresh

    @staticmethod
    def _fresh(db: sqlite3.Connection, events: Sequence[EventWrite]) -> list[bool]:
        ids = list({e.event_id for e in events})
        known: set[str] = set()
        for chunk in _chunks(ids):
            q = f"SELECT id FROM events WHERE id IN ({','.join('?' * len(chunk))})"
            known.update(r[0] for r in db.execute(q, chunk))
        fresh = []
        for e in events:
            fresh.append(e.event_id not in known)
            known.add(e.event_id)
        return fresh

    def _write(self, db: sqlite3.Connection, events: list[EventWrite]) -> None:
        if not events:
            return
        now = _now()
        db.executemany(
            "INSERT INTO events(id, kind, event_time, received_at, payload) VALUES (?,?,?,?,?)",
            [(e.event_id, e.kind, e.event_time, now, e.payload) for e in events],
        )
        namespaces = {(d.namespace,) for e in events for d in e.all_datasets()}
        namespaces |= {(e.job.namespace,) for e in events if e.job}
        db.executemany(
            "INSERT OR IGNORE INTO namespaces(name, created_at) VALUES (?, ?)",
            [(ns, now) for (ns,) in namespaces],
        )
        self._write_jobs(db, events)
        self._write_datasets(db, events)
        versions = self._write_schemas(db, events)
        self._write_runs(db, events, versions)
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
        facets = [
            (node, name, e.event_time, body)
            for e in events
            for node, facet_map in facet_owners(e)
            for name, body in facet_map.items()
        ]
        facets = [(n, k, t, orjson.dumps(b)) for n, k, t, b in _latest(facets, key=2, time=2)]
        db.executemany(
            "INSERT INTO facets(node_id, name, event_time, body) VALUES (?,?,?,?)"
            " ON CONFLICT DO UPDATE SET body = excluded.body, event_time = excluded.event_time"
            " WHERE excluded.event_time >= facets.event_time",
            facets,
        )

    def _write_jobs(self, db: sqlite3.Connection, events: list[EventWrite]) -> None:
        jobs = [(e.job, e.event_time) for e in events if e.job]
        db.executemany(
            "INSERT INTO jobs(id, namespace, name, description, job_type, processing_type,"
            " integration, sql, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET "
            + ", ".join(
                _newer(c, "jobs")
                for c in ("description", "job_type", "processing_type", "integration", "sql")
            )
            + ", updated_at = max(jobs.updated_at, excluded.updated_at)",
            _merged([(j.id, j.namespace, j.name, j.description, j.job_type, j.processing_type,
                      j.integration, j.sql, t, t) for j, t in jobs], time=9),
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

    def _write_datasets(self, db: sqlite3.Connection, events: list[EventWrite]) -> None:
        rows = [(d, e.event_time) for e in events for d in e.all_datasets()]
        db.executemany(
            "INSERT INTO datasets(id, namespace, name, description, lifecycle_state, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            + _newer("description", "datasets") + ", " + _newer("lifecycle_state", "datasets")
            + ", updated_at = max(datasets.updated_at, excluded.updated_at)",
            _merged([(d.id, d.namespace, d.name, d.description, d.lifecycle_state, t, t)
                     for d, t in rows], time=6),
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

    def _write_schemas(self, db: sqlite3.Connection, events: list[EventWrite]) -> dict[str, int]:
        """New schema versions; returns each touched dataset's current version number.

        A version is added only when the fields or types differ from the latest version and the
        event is not older than it (a late, stale schema does not rewrite history)."""
        todo = [(d, e) for e in events for d in e.all_datasets() if d.schema is not None]
        ids = list({d.id for e in events for d in e.all_datasets()})
        latest: dict[str, tuple[int, str, str]] = {}
        for chunk in _chunks(ids):
            q = (
                "SELECT dataset_id, version, fingerprint, created_at FROM schema_versions"
                f" WHERE (dataset_id, version) IN (SELECT dataset_id, max(version)"
                f" FROM schema_versions WHERE dataset_id IN ({','.join('?' * len(chunk))})"
                " GROUP BY dataset_id)"
            )
            for ds, version, fp, created in db.execute(q, chunk):
                latest[ds] = (version, fp, created)
        inserts = []
        for d, e in todo:
            cur = latest.get(d.id)
            if cur and (cur[1] == d.schema_fingerprint or e.event_time < cur[2]):
                continue
            version = cur[0] + 1 if cur else 1
            latest[d.id] = (version, d.schema_fingerprint or "", e.event_time)
            body = orjson.dumps([[f.name, f.type, f.description] for f in d.schema or ()])
            inserts.append((d.id, version, d.schema_fingerprint, e.event_time,
                            e.run.id if e.run else None, body))
        db.executemany(
            "INSERT INTO schema_versions(dataset_id, version, fingerprint, created_at, run_id,"
            " fields) VALUES (?,?,?,?,?,?)",
            inserts,
        )
        return {ds: v[0] for ds, v in latest.items()}

    def _write_runs(
        self, db: sqlite3.Connection, events: list[EventWrite], versions: dict[str, int]
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
            "INSERT INTO run_io(run_id, direction, dataset_id, schema_version) VALUES (?,?,?,?)"
            " ON CONFLICT DO UPDATE SET schema_version = excluded.schema_version"
            " WHERE excluded.schema_version IS NOT NULL"
            " AND excluded.schema_version IS NOT schema_version",
            [
                (r.id, "in" if d.role == "input" else "out", d.id, versions.get(d.id))
                for e, r in runs for d in (*e.inputs, *e.outputs)
            ],
        )
        quality = [
            (digest(d.id, q.field or "", q.assertion, run or e.event_id, q.source),
             d.id, q.field, q.assertion, int(q.success), run, e.event_time, q.source,
             orjson.dumps(q.value), orjson.dumps(q.details))
            for e in events for d in e.all_datasets() for q in d.quality
            for run in [q.run_id or (e.run.id if e.run else None)]
        ]
        db.executemany(
            "INSERT OR IGNORE INTO quality_results(id, dataset_id, field, assertion, success,"
            " run_id, observed_at, source, value, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
            quality,
        )

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        now = _now()
        dl_id = digest(now, payload)
        with self._write_lock:
            self._writer.execute(
                "INSERT OR IGNORE INTO dead_letters(id, received_at, reason, errors, payload)"
                " VALUES (?,?,?,?,?)",
                (dl_id, now, reason, orjson.dumps(errors), payload),
            )
        return dl_id

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._rows(
            "SELECT * FROM dead_letters ORDER BY received_at DESC LIMIT ?", (limit,)
        )
        return [
            DeadLetter(r["id"], r["received_at"], r["reason"], orjson.loads(r["errors"]),
                       r["payload"])
            for r in rows
        ]

    # -- reads ------------------------------------------------------------------------------

    def _facets(self, node_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for r in self._in("SELECT node_id, name, body FROM facets WHERE node_id IN ({ids})", node_ids):
            out.setdefault(r["node_id"], {})[r["name"]] = orjson.loads(r["body"])
        return out

    def _tags_owners(self, ids: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        tags: dict[str, list[str]] = {}
        owners: dict[str, list[str]] = {}
        for r in self._in("SELECT node_id, tag FROM tags WHERE node_id IN ({ids}) ORDER BY tag", ids):
            tags.setdefault(r["node_id"], []).append(r["tag"])
        for r in self._in(
            "SELECT node_id, owner FROM owners WHERE node_id IN ({ids}) ORDER BY owner", ids
        ):
            owners.setdefault(r["node_id"], []).append(r["owner"])
        return tags, owners

    def dataset(self, namespace: str, name: str) -> DatasetRecord | None:
        # By (namespace, name), never by parsing an id: namespaces contain colons.
        rows = self._rows("SELECT id FROM datasets WHERE namespace = ? AND name = ?",
                          (namespace, name))
        return self.datasets_by_id([rows[0][0]])[0] if rows else None

    def datasets_by_id(self, ids: Sequence[str], facets: bool = True
                       ) -> list[DatasetRecord | None]:
        rows = {r["id"]: r for r in self._in("SELECT * FROM datasets WHERE id IN ({ids})", ids)}
        found = list(rows)
        tags, owners = self._tags_owners(found)
        facet_map = self._facets(found) if facets else {}
        out: list[DatasetRecord | None] = []
        for i in ids:
            r = rows.get(i)
            out.append(
                None if r is None else DatasetRecord(
                    id=i, namespace=r["namespace"], name=r["name"], description=r["description"],
                    tags=tags.get(i, []), owners=owners.get(i, []),
                    retention_days=retention_days(r["retention_days"], tags.get(i, [])),
                    lifecycle_state=r["lifecycle_state"],
                    updated_at=r["updated_at"], facets=facet_map.get(i, {}),
                )
            )
        return out

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        out: dict[str, list[FieldRecord]] = {i: [] for i in dataset_ids}
        for r in self._in(
            "SELECT dataset_id, fields FROM schema_versions s WHERE dataset_id IN ({ids})"
            " AND version = (SELECT max(version) FROM schema_versions WHERE dataset_id = s.dataset_id)",
            dataset_ids,
        ):
            out[r["dataset_id"]] = [FieldRecord(n, t, d) for n, t, d in orjson.loads(r["fields"])]
        classes: dict[tuple[str, str], set[str]] = {}
        for r in self._in(
            "SELECT dataset_id, field, classification FROM field_classifications"
            " WHERE dataset_id IN ({ids})",
            dataset_ids,
        ):
            classes.setdefault((r["dataset_id"], r["field"]), set()).add(r["classification"])
        for ds, fields in out.items():
            for f in fields:
                f.classifications = sorted(classes.get((ds, f.name), ()))
        return out

    def schema_versions(self, dataset_id: str, first: int = 20) -> list[SchemaVersionRecord]:
        rows = self._rows(
            "SELECT version, created_at, run_id, fields FROM schema_versions WHERE dataset_id = ?"
            " ORDER BY version DESC LIMIT ?",
            (dataset_id, first),
        )
        return [
            SchemaVersionRecord(
                r["version"], r["created_at"], r["run_id"],
                [FieldRecord(n, t, d) for n, t, d in orjson.loads(r["fields"])],
            )
            for r in rows
        ]

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        rows = self._rows(
            "SELECT * FROM quality_results WHERE dataset_id = :ds"
            " AND (:run IS NULL OR run_id = :run) AND (:field IS NULL OR field = :field)"
            " AND (:failed = 0 OR success = 0)"
            " ORDER BY observed_at DESC, assertion, field LIMIT :first",
            {"ds": dataset_id, "run": run_id, "field": field, "failed": int(failures_only),
             "first": first},  # type: ignore[arg-type]
        )
        return [
            QualityRecord(r["assertion"], bool(r["success"]), r["field"], r["run_id"],
                          r["observed_at"], r["source"],
                          orjson.loads(r["value"]) if r["value"] else None)
            for r in rows
        ]

    def latest_quality(self, dataset_ids: Sequence[str]) -> dict[str, list[QualityRecord]]:
        out: dict[str, list[QualityRecord]] = {i: [] for i in dataset_ids}
        for r in self._in(
            "SELECT * FROM (SELECT q.*, row_number() OVER (PARTITION BY dataset_id, assertion,"
            " coalesce(field, '') ORDER BY observed_at DESC) AS n FROM quality_results q"
            " WHERE dataset_id IN ({ids})) WHERE n = 1 ORDER BY assertion, field", dataset_ids,
        ):
            out[r["dataset_id"]].append(QualityRecord(
                r["assertion"], bool(r["success"]), r["field"], r["run_id"], r["observed_at"],
                r["source"], orjson.loads(r["value"]) if r["value"] else None))
        return out

    def job(self, namespace: str, name: str) -> JobRecord | None:
        rows = self._rows("SELECT id FROM jobs WHERE namespace = ? AND name = ?", (namespace, name))
        return self.jobs_by_id([rows[0][0]])[0] if rows else None

    def jobs_by_id(self, ids: Sequence[str], facets: bool = True) -> list[JobRecord | None]:
        # Plain tuples: impact analysis asks for thousands at once.
        rows = {r[0]: r for r in self._db.execute(
            "SELECT j.id, j.namespace, j.name, j.description, j.job_type, j.sql, j.updated_at"
            " FROM json_each(?) s JOIN jobs j ON j.id = s.value",
            (orjson.dumps(list(ids)).decode(),))}
        facet_map = self._facets(list(rows)) if facets else {}
        return [
            None if (r := rows.get(i)) is None
            else JobRecord(i, r[1], r[2], r[3], r[4], r[5], r[6], facet_map.get(i, {}))
            for i in ids
        ]

    def _neighbours(self, ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per node: (upstream neighbours, downstream neighbours), sorted."""
        out: dict[str, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
        for r in self._in("SELECT src, dst FROM edges WHERE dst IN ({ids}) ORDER BY src", ids):
            out[r["dst"]][0].append(r["src"])
        for r in self._in("SELECT src, dst FROM edges WHERE src IN ({ids}) ORDER BY dst", ids):
            out[r["src"]][1].append(r["dst"])
        return out

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(job_ids)

    def dataset_jobs(self, dataset_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self._neighbours(dataset_ids)

    # -- lineage ----------------------------------------------------------------------------

    _WALK = {
        ("dataset", "DOWNSTREAM"): "SELECT e.dst, w.depth + 1 FROM walk w"
                                   " JOIN edges e ON e.src = w.node WHERE w.depth < ?",
        ("dataset", "UPSTREAM"): "SELECT e.src, w.depth + 1 FROM walk w"
                                 " JOIN edges e ON e.dst = w.node WHERE w.depth < ?",
        ("column", "DOWNSTREAM"): "SELECT e.target_id, w.depth + 1 FROM walk w"
                                  " JOIN column_edges e ON e.source_id = w.node WHERE w.depth < ?",
        ("column", "UPSTREAM"): "SELECT e.source_id, w.depth + 1 FROM walk w"
                                " JOIN column_edges e ON e.target_id = w.node WHERE w.depth < ?",
    }
    # Edges among a node set: iterate the set, probe the index by source, test the target
    # against the set (the unary + keeps SQLite from probing every source x target pair).
    _EDGES = {
        "dataset": "SELECT e.src, e.dst, NULL, NULL FROM json_each(?1) s"
                   " CROSS JOIN edges e ON e.src = s.value"
                   " WHERE +e.dst IN (SELECT value FROM json_each(?1)) ORDER BY 1, 2",
        "column": "SELECT e.source_id, e.target_id, e.type, e.subtype FROM json_each(?1) s"
                  " CROSS JOIN column_edges e ON e.source_id = s.value"
                  " WHERE +e.target_id IN (SELECT value FROM json_each(?1)) ORDER BY 1, 2, 3, 4",
    }

    def walk(self, start: str, level: str, direction: str, depth: int, limit: int) -> Graph:
        # Breadth first (the queue is ordered by depth), one level further than asked so that
        # anything found there says the depth cut the graph, and at most `budget` visits: in a
        # graph with many paths the same node is met at several depths, and a hub would
        # otherwise make the walk visit most of the graph to answer for `limit` nodes.
        budget = max(3 * limit, 3_000)
        rows = self._db.execute(
            "WITH RECURSIVE walk(node, depth) AS (SELECT ?, 0 UNION "
            + self._WALK[level, direction]
            + " ORDER BY 2 LIMIT ?) SELECT node, min(depth) AS d, sum(count(*)) OVER ()"
            " FROM walk GROUP BY node ORDER BY d, node LIMIT ?",
            (start, depth + 1, budget, limit + 1),
        ).fetchall()
        within = [(n, d) for n, d, _ in rows if d <= depth]
        truncated = (len(within) < len(rows) or len(within) > limit
                     or bool(rows and rows[0][2] >= budget))
        within = within[:limit]
        ids = orjson.dumps([n for n, _ in within]).decode()
        depth_of = dict(within)
        if level == "column":
            nodes = self._field_nodes(ids, depth_of)
        else:
            nodes = [
                GraphNode(i, "DATASET" if i.startswith("dataset:") else "JOB", ns, name, None,
                          depth_of[i])
                for i, ns, name in self._db.execute(
                    "SELECT id, namespace, name FROM datasets"
                    " WHERE id IN (SELECT value FROM json_each(?1)) UNION ALL"
                    " SELECT id, namespace, name FROM jobs"
                    " WHERE id IN (SELECT value FROM json_each(?1))", (ids,))
            ]
        edges = [GraphEdge(src, dst, None if t is None else f"{t}/{st}" if st else t)
                 for src, dst, t, st in self._db.execute(self._EDGES[level], (ids,))]
        if not any(n.id == start for n in nodes):
            return Graph([], [], False)  # unknown start node
        nodes.sort(key=lambda n: (n.depth, n.id))
        return Graph(nodes, edges, truncated)

    def _field_nodes(self, ids: str, depth_of: dict[str, int]) -> list[GraphNode]:
        return [
            GraphNode(fid, "FIELD", ns, name, field, depth_of[fid])
            for fid, ns, name, field in self._db.execute(
                "SELECT f.id, d.namespace, d.name, f.field FROM json_each(?1) s"
                " CROSS JOIN field_nodes f ON f.id = s.value JOIN datasets d ON d.id = f.dataset_id",
                (ids,))
        ]

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        rows = self._db.execute(
            "WITH RECURSIVE up(origin, node, depth) AS ("
            " SELECT value, value, 0 FROM json_each(?1) UNION"
            " SELECT up.origin, e.source_id, up.depth + 1 FROM up"
            " JOIN column_edges e ON e.target_id = up.node"
            " WHERE up.depth < ?2 AND e.masking = 0 AND NOT EXISTS (SELECT 1 FROM"
            "  declassified_edges x WHERE x.source_id = e.source_id AND x.target_id = e.target_id)"
            " LIMIT ?3)"
            " SELECT DISTINCT up.origin, c.classification FROM up"
            " JOIN field_nodes f ON f.id = up.node"
            " JOIN field_classifications c ON c.dataset_id = f.dataset_id AND c.field = f.field"
            " WHERE up.depth > 0",
            (orjson.dumps(list(field_ids)).decode(), INHERIT_DEPTH, INHERIT_BUDGET),
        )
        for origin, classification in rows:
            out.setdefault(origin, set()).add(classification)
        return {k: sorted(v) for k, v in out.items()}

    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
        budget = max(3 * limit, 3_000)  # visits, as in walk()
        # 1. Column lineage from every changed field at once, breadth first, one level deeper
        # than asked (so that the depth cut shows). Every edge out of a reached field is
        # followed once, so the jobs of those edges are every job that derives an affected
        # field. The walk carries only the edge's rowid (the cheapest probe SQLite has) to read
        # the target's dataset and field and the job once at the end; the nearest row per
        # field is kept in Python, cheaper than GROUP BY plus joins on text ids.
        rows = self._db.execute(
            "WITH RECURSIVE walk(origin, node, depth, parent, edge) AS ("
            " SELECT value, value, 0, NULL, NULL FROM json_each(?1) UNION"
            " SELECT w.origin, e.target_id, w.depth + 1, w.node, e.rowid FROM walk w"
            " JOIN column_edges e ON e.source_id = w.node WHERE w.depth <= ?2 ORDER BY 3 LIMIT ?3)"
            " SELECT w.origin, w.node, w.depth, w.parent, e.job_id, e.target_dataset, e.target_field"
            " FROM walk w JOIN column_edges e ON e.rowid = w.edge",
            (orjson.dumps(list(field_ids)).decode(), depth, budget),
        ).fetchall()
        truncated = len(rows) + len(field_ids) >= budget
        nearest: dict[tuple[str, str], tuple[int, str, str, str]] = {}
        for origin, node, d, parent, _, ds, name in rows:
            seen = nearest.get((origin, node))
            if seen is None or (d, parent) < seen[:2]:  # the smallest parent: a stable path
                nearest[(origin, node)] = (d, parent, ds, name)
        reached = sorted((d, node, origin) for (origin, node), (d, *_) in nearest.items())
        within = [r for r in reached if r[0] <= depth]
        truncated |= len(within) < len(reached) or len(within) > limit
        kept = {(origin, node) for _, node, origin in within[:limit]}
        jobs = {r[4] for r in rows if r[4] and (r[0], r[1]) in kept}
        names = self._names({nearest[k][2] for k in kept})
        fields = []
        for d, node, origin in within[:limit]:
            _, parent, ds, name = nearest[(origin, node)]
            if ds in names:
                fields.append(ReachedField(origin, node, ds, *names[ds], name, d, parent))
        datasets: dict[str, tuple[str, str, int]] = {}
        for f in fields:
            if f.dataset_id not in datasets or f.depth < datasets[f.dataset_id][2]:
                datasets[f.dataset_id] = (f.namespace, f.name, f.depth)
        # 2. Dataset level: from the changed dataset and those fields' datasets, through jobs,
        # into datasets that have no column lineage (theirs would say what they read). Usually
        # every dataset one job away has column lineage, and one plain hop shows it; only
        # otherwise is the search run.
        seeds = {dataset_id: 0} | {i: d for i, (_, _, d) in datasets.items()}
        if self._blind_beyond(seeds):
            truncated |= self._blind_downstream(seeds, depth, budget, limit, datasets, jobs)
        # 3. Jobs that read the changed dataset and write nothing (checks, exports), and the
        # owners of every affected dataset.
        jobs.update(r[0] for r in self._db.execute(
            "SELECT i.dst FROM edges i WHERE i.src = ? AND i.dst LIKE 'job:%'"
            " AND NOT EXISTS (SELECT 1 FROM edges o WHERE o.src = i.dst)", (dataset_id,)))
        owners: dict[str, list[str]] = {}
        for i, owner in self._db.execute(
                "SELECT o.node_id, o.owner FROM json_each(?1) s"
                " JOIN owners o ON o.node_id = s.value ORDER BY 2",
                (orjson.dumps(list(datasets)).decode(),)):
            owners.setdefault(i, []).append(owner)
        return Downstream(fields, datasets, sorted(jobs), owners, truncated)

    def _names(self, dataset_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Namespace and name of each dataset id that exists."""
        return {i: (ns, name) for i, ns, name in self._db.execute(
            "SELECT d.id, d.namespace, d.name FROM json_each(?1) s JOIN datasets d ON d.id = s.value",
            (orjson.dumps(sorted(dataset_ids)).decode(),))}

    def _blind_beyond(self, seeds: dict[str, int]) -> bool:
        """Whether a job reading one of ``seeds`` writes a dataset outside them that has no
        column lineage into it."""
        outputs = {o for (o,) in self._db.execute(
            "SELECT o.dst FROM json_each(?1) s JOIN edges i ON i.src = s.value"
            " JOIN edges o ON o.src = i.dst", (orjson.dumps(sorted(seeds)).decode(),))} - seeds.keys()
        if not outputs:
            return False
        sighted = {t for (t,) in self._db.execute(
            "SELECT DISTINCT c.target_dataset FROM json_each(?1) s"
            " JOIN column_edges c ON c.target_dataset = s.value", (orjson.dumps(sorted(outputs)).decode(),))}
        return bool(outputs - sighted)

    def _blind_downstream(self, seeds: dict[str, int], depth: int, budget: int, limit: int,
                          datasets: dict[str, tuple[str, str, int]], jobs: set[str]) -> bool:
        """Adds the datasets reached from ``seeds`` through jobs, across datasets without column
        lineage, and the jobs that write them; True when the search was cut short."""
        truncated = False
        for i, ns, name, d, via, visits in self._db.execute(
            "WITH RECURSIVE reach(ds, depth, job) AS ("
            " SELECT key, value, NULL FROM json_each(?1) UNION"
            " SELECT o.dst, r.depth + 1, i.dst FROM reach r JOIN edges i ON i.src = r.ds"
            " JOIN edges o ON o.src = i.dst WHERE r.depth <= ?2 AND NOT EXISTS"
            "  (SELECT 1 FROM column_edges c WHERE c.target_dataset = o.dst)"
            " ORDER BY 2 LIMIT ?3)"
            " SELECT r.ds, d.namespace, d.name, min(r.depth), json_group_array(DISTINCT r.job),"
            " sum(count(*)) OVER () FROM reach r JOIN datasets d ON d.id = r.ds"
            " WHERE r.job IS NOT NULL AND NOT r.ds IN (SELECT key FROM json_each(?1))"
            " GROUP BY r.ds ORDER BY 4, 1",
                (orjson.dumps(seeds).decode(), depth, budget)):
            truncated |= visits >= budget
            if d > depth or len(datasets) >= limit:
                truncated = True
            else:
                datasets[i] = (ns, name, d)
                jobs.update(orjson.loads(via))
        return truncated

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        where: list[str] = ["1"]
        params: dict[str, Any] = {}
        if namespace is not None:
            where.append("namespace = :ns")
            params["ns"] = namespace
        if search:
            where.append("instr(lower(name), lower(:search)) > 0")
            params["search"] = search
        if classification:
            # Datasets holding it directly, or inheriting it along column lineage (the same
            # rule as inherited_classifications, walked forward from the classified fields).
            where.append(
                "id IN (WITH RECURSIVE classified(dataset_id, field) AS ("
                "  SELECT dataset_id, field FROM field_classifications"
                "  WHERE classification = :class OR classification LIKE :sub ESCAPE '\\'),"
                " down(node, depth) AS ("
                "  SELECT f.id, 0 FROM classified c JOIN field_nodes f"
                "   ON f.dataset_id = c.dataset_id AND f.field = c.field UNION"
                "  SELECT e.target_id, d.depth + 1 FROM down d"
                "   JOIN column_edges e ON e.source_id = d.node"
                "  WHERE d.depth < :depth AND e.masking = 0 AND NOT EXISTS (SELECT 1 FROM"
                "   declassified_edges x WHERE x.source_id = e.source_id"
                "   AND x.target_id = e.target_id) LIMIT :budget)"
                " SELECT dataset_id FROM classified UNION"
                " SELECT f.dataset_id FROM down JOIN field_nodes f ON f.id = down.node)")
            params |= {"class": classification, "depth": INHERIT_DEPTH, "budget": INHERIT_BUDGET,
                       "sub": classification.replace("%", "\\%").replace("_", "\\_") + ".%"}
        cond = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM datasets WHERE {cond}", params).fetchone()
        page = self._db.execute(
            f"SELECT id FROM datasets WHERE {cond} AND id > :after ORDER BY id LIMIT :first",
            {**params, "after": after or "", "first": first},
        ).fetchall()
        return [r[0] for r in page], int(total[0])

    def _run_record(self, r: sqlite3.Row, facets: dict[str, dict[str, Any]]) -> RunRecord:
        return RunRecord(
            id=r["id"], job_id=r["job_id"], state=r["state"] or "NEW", started_at=r["started_at"],
            ended_at=r["ended_at"], error_message=r["error_message"],
            parent_run_id=r["parent_run_id"], nominal_start=r["nominal_start"],
            nominal_end=r["nominal_end"], facets=facets.get(r["id"], {}),
        )

    def run(self, run_id: str) -> RunRecord | None:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))
        return self._run_record(rows[0], self._facets([run_id])) if rows else None

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        rows = self._rows(
            "SELECT * FROM runs WHERE job_id = ? ORDER BY coalesce(started_at, created_at) DESC,"
            " id LIMIT ?",
            (job_id, first),
        )
        facets = self._facets([r["id"] for r in rows])
        return [self._run_record(r, facets) for r in rows]

    def namespaces(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM namespaces ORDER BY name")]

    def event_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM events")[0][0])

    def job_flows(self, job_id: str) -> list[Flow]:
        return [
            Flow(sd, sf, td, tf, f"{t}/{st}" if st else t, bool(m))
            for sd, sf, td, tf, t, st, m in self._db.execute(
                "SELECT source_dataset, source_field, target_dataset, target_field, type, subtype,"
                " masking FROM column_edges WHERE job_id = ? ORDER BY 1, 2, 3, 4", (job_id,))
        ]

    def log_decision(self, d: DecisionRecord) -> None:
        self._edit(("INSERT INTO decisions(id, time, principal, job_id, run_id, decision, reasons,"
                    " masks, policy_revision, engine, input_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (d.id, d.time, d.principal, d.job_id, d.run_id, d.decision,
                     orjson.dumps(d.reasons), orjson.dumps(d.masks), d.policy_revision, d.engine,
                     d.input_digest)), fsync=False)  # see README, "Decision log"

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None) -> list[DecisionRecord]:
        rows = self._rows(
            "SELECT * FROM decisions WHERE (:run IS NULL OR run_id = :run)"
            " AND (:job IS NULL OR job_id = :job) ORDER BY time DESC, id LIMIT :first",
            {"run": run_id, "job": job_id, "first": first})  # type: ignore[arg-type]
        return [DecisionRecord(r["id"], r["time"], r["principal"], r["job_id"], r["run_id"],
                               r["decision"], orjson.loads(r["reasons"]), orjson.loads(r["masks"]),
                               r["policy_revision"], r["engine"], r["input_digest"]) for r in rows]

    # -- erasure workflow -------------------------------------------------------------------
    def classification_holders(self, classifications: Sequence[str]
                               ) -> list[tuple[str, str, str, bool]]:
        rows = self._db.execute(
            "WITH RECURSIVE wanted(c) AS (SELECT value FROM json_each(?1)),"
            # The classification, or one under it: "c." <= x < "c/" ('/' follows '.'), so both
            # halves are index ranges on field_classifications_class.
            " classified(dataset_id, field, classification) AS ("
            "  SELECT fc.dataset_id, fc.field, fc.classification FROM wanted w"
            "   JOIN field_classifications fc ON fc.classification = w.c UNION"
            "  SELECT fc.dataset_id, fc.field, fc.classification FROM wanted w"
            "   JOIN field_classifications fc"
            "   ON fc.classification >= w.c || '.' AND fc.classification < w.c || '/'),"
            # (field, classification) pairs: UNION drops repeats, so cycles end. The seed is the
            # field's id (catalog.ids.field_id) built from its dataset: a primary-key lookup,
            # where matching field_nodes on (dataset, field) would scan them all.
            " down(node, classification) AS ("
            "  SELECT 'datasetField:' || d.namespace || ':' || d.name || ':' || c.field,"
            "   c.classification FROM classified c JOIN datasets d ON d.id = c.dataset_id UNION"
            "  SELECT e.target_id, down.classification FROM down"
            "   JOIN column_edges e ON e.source_id = down.node"
            "  WHERE e.masking = 0 AND NOT EXISTS (SELECT 1 FROM declassified_edges x"
            "   WHERE x.source_id = e.source_id AND x.target_id = e.target_id))"
            " SELECT dataset_id, field, classification, 1 FROM classified UNION"
            " SELECT f.dataset_id, f.field, down.classification, 0 FROM down"
            "  JOIN field_nodes f ON f.id = down.node WHERE NOT EXISTS (SELECT 1 FROM classified c"
            "   WHERE c.dataset_id = f.dataset_id AND c.field = f.field"
            "   AND c.classification = down.classification)"
            " ORDER BY 1, 2, 3",
            (orjson.dumps(list(classifications)).decode(),)).fetchall()
        return [(d, f, c, bool(direct)) for d, f, c, direct in rows]

    def downstream_dataset_edges(self, dataset_ids: Sequence[str]
                                 ) -> list[tuple[str, str, str]]:
        rows = self._db.execute(
            "WITH RECURSIVE down(ds) AS (SELECT value FROM json_each(?1) UNION"
            "  SELECT o.dst FROM down JOIN edges i ON i.src = down.ds JOIN edges o ON o.src = i.dst)"
            " SELECT DISTINCT down.ds, i.dst, o.dst FROM down JOIN edges i ON i.src = down.ds"
            " JOIN edges o ON o.src = i.dst ORDER BY 1, 2, 3",
            (orjson.dumps(list(dataset_ids)).decode(),)).fetchall()
        return [(a, j, b) for a, j, b in rows]

    def _audit_rows(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]
                    ) -> list[tuple[str, Sequence[Any]]]:
        return [("INSERT INTO erasure_audit(request_id, seq, entry) VALUES (?,?,?)",
                 (doc["id"], e["seq"], orjson.dumps(e))) for e in audit]

    def create_erasure(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]) -> None:
        self._edit(("INSERT INTO erasures(id, version, status, received_at, doc) VALUES (?,?,?,?,?)",
                    (doc["id"], doc["version"], doc["status"], doc["receivedAt"],
                     orjson.dumps(doc))), *self._audit_rows(doc, audit))

    def update_erasure(self, doc: dict[str, Any], expected_version: int,
                       audit: Sequence[dict[str, Any]]) -> bool:
        with self._write_lock:
            db = self._writer
            try:
                db.execute("BEGIN IMMEDIATE")
                changed = db.execute(
                    "UPDATE erasures SET version = ?, status = ?, doc = ? WHERE id = ?"
                    " AND version = ?", (doc["version"], doc["status"], orjson.dumps(doc),
                                         doc["id"], expected_version)).rowcount
                if changed:
                    for sql, params in self._audit_rows(doc, audit):
                        db.execute(sql, params)
                db.execute("COMMIT" if changed else "ROLLBACK")
                return bool(changed)
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"embedded store write failed: {exc}") from exc

    def erasure(self, request_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT doc FROM erasures WHERE id = ?", (request_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def erasures(self, statuses: Sequence[str] | None = None, first: int = 100
                 ) -> list[dict[str, Any]]:
        if statuses is None:
            rows = self._db.execute("SELECT doc FROM erasures ORDER BY received_at, id LIMIT ?",
                                    (first,)).fetchall()
        else:
            rows = self._db.execute(
                "SELECT doc FROM erasures WHERE status IN (SELECT value FROM json_each(?))"
                " ORDER BY received_at, id LIMIT ?",
                (orjson.dumps(list(statuses)).decode(), first)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def erasure_audit(self, request_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self._db.execute(
            "SELECT entry FROM erasure_audit WHERE request_id = ? ORDER BY seq", (request_id,))]

    # -- steward edits ----------------------------------------------------------------------

    def _edit(self, *statements: tuple[str, Sequence[Any]], fsync: bool = True) -> None:
        """One transaction. ``fsync=False`` skips the WAL flush (synchronous=NORMAL): the
        commit survives a crash of the process but not a power loss, until the next durable
        commit (any event) or checkpoint flushes the log it was appended to."""
        with self._write_lock:
            db = self._writer
            try:
                if not fsync:
                    db.execute("PRAGMA synchronous=NORMAL")
                db.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    db.execute(sql, params)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"embedded store write failed: {exc}") from exc
            finally:
                if not fsync:
                    db.execute("PRAGMA synchronous=FULL")

    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        self._edit(
            ("DELETE FROM field_classifications WHERE dataset_id = ? AND field = ?"
             " AND source = 'steward'", (dataset_id, field)),
            *[("INSERT OR IGNORE INTO field_classifications(dataset_id, field, classification,"
               " source) VALUES (?, ?, ?, 'steward')", (dataset_id, field, c))
              for c in classifications],
        )

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None:
        sql = ("INSERT OR IGNORE INTO tags(node_id, tag) VALUES (?, ?)" if add
               else "DELETE FROM tags WHERE node_id = ? AND tag = ?")
        self._edit(*[(sql, (dataset_id, t)) for t in tags])

    def set_retention(self, dataset_id: str, days: int | None) -> None:
        self._edit(("UPDATE datasets SET retention_days = ? WHERE id = ?", (days, dataset_id)))

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        sql = ("INSERT OR IGNORE INTO declassified_edges(source_id, target_id) VALUES (?, ?)" if on
               else "DELETE FROM declassified_edges WHERE source_id = ? AND target_id = ?")
        self._edit((sql, (source_field_id, target_field_id)))

    # -- auth -------------------------------------------------------------------------------

    def add_token(self, token_hash: str, name: str, role: str) -> None:
        with self._write_lock:
            self._writer.execute(
                "INSERT INTO tokens(hash, name, role, created_at) VALUES (?,?,?,?)",
                (token_hash, name, role, _now()),
            )

    def token_role(self, token_hash: str) -> str | None:
        rows = self._rows("SELECT role FROM tokens WHERE hash = ?", (token_hash,))
        return rows[0][0] if rows else None
