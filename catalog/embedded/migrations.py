"""The embedded store's schema versions: SQLite's ``PRAGMA user_version`` holds the version
(0: a file made before versioning, or a new one), ``STEPS`` the ordered steps to each next one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from headwater.catalog.attempts import from_payload
from headwater.catalog.embedded.aliases import build_aliases
from headwater.catalog.embedded.connection import Connections, private_file
from headwater.catalog.embedded.decisions import log_path
from headwater.catalog.embedded.rekey import rekey
from headwater.catalog.embedded.schema import (
    DEAD_LETTERS_BY_ARRIVAL,
    DECISION_LOG,
    FACTS_DIGESTS,
    FIELD_NODES_BY_DATASET,
    GRAPH_VERSION,
    LAYOUT_0_1_0,
    RUN_HISTORY,
    SCHEMA_OBSERVATIONS,
    TOKEN_LIFECYCLE,
    statements,
)
from headwater.catalog.embedded.search import build_index
from headwater.catalog.embedded.writes import settle_runs
from headwater.catalog.migrations import Step, describe, pending
from headwater.catalog.quality_names import splits


def _ddl(script: str) -> Callable[[sqlite3.Connection], None]:
    def apply(db: sqlite3.Connection) -> None:
        for statement in statements(script):
            db.execute(statement)
    return apply


def _run_history(db: sqlite3.Connection) -> None:
    _ddl(RUN_HISTORY)(db)
    # Replay the stored run events, a chunk at a time, so runs stored before keep their
    # attempts (and their state stays what the events said).
    cur = db.execute("SELECT id, event_time, payload FROM events WHERE kind = 'run'")
    while rows := cur.fetchmany(1_000):
        db.executemany(
            "INSERT OR IGNORE INTO run_transitions(run_id, event_id, event_time, event_type,"
            " state, error_message, try_number) VALUES (?,?,?,?,?,?,?)",
            [(run, event_id, t.event_time, t.event_type, t.state, t.error_message, t.try_number)
             for event_id, time, payload in rows
             for run, t in [from_payload(payload, time) or ("", None)] if t is not None])
    runs = [r[0] for r in db.execute("SELECT DISTINCT run_id FROM run_transitions")]
    settle_runs(db, runs)


def _decision_log_file(db: sqlite3.Connection) -> None:
    # The log's file is committed first, then the catalog drops its table in the step's
    # transaction: a crash in between leaves both, and the step runs again (INSERT OR IGNORE).
    path = log_path(Path(db.execute("PRAGMA database_list").fetchone()[2]))
    private_file(path)
    log = sqlite3.connect(path, isolation_level=None)
    try:
        log.execute("PRAGMA journal_mode=WAL")
        log.execute("BEGIN IMMEDIATE")
        _ddl(DECISION_LOG)(log)
        cur = db.execute("SELECT id, time, principal, job_id, run_id, decision, reasons, masks,"
                         " policy_revision, engine, input_digest FROM decisions")
        while rows := cur.fetchmany(1_000):
            log.executemany("INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        log.execute("COMMIT")
    finally:
        log.close()
    db.execute("DROP TABLE decisions")


def _named_checks(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE quality_results ADD COLUMN name TEXT")
    cur = db.execute("SELECT event_time, payload FROM events WHERE kind = 'run'"
                     " AND instr(payload, CAST('dataQualityAssertions' AS BLOB)) > 0")
    found = splits(cur)
    for split in found:
        if db.execute("DELETE FROM quality_results WHERE id = ? AND name IS NULL",
                      (split.old_id,)).rowcount:
            db.executemany(
                "INSERT OR IGNORE INTO quality_results(id, dataset_id, field, assertion, success,"
                " run_id, observed_at, source, value, details, name)"
                " VALUES (?,?,?,?,?,?,?,'openlineage','null','null',?)",
                [(r["id"], r["dataset"], r["field"], r["assertion"], int(r["success"]),
                  r["run"], r["t"], r["name"]) for r in split.rows()])


STEPS: list[Step[sqlite3.Connection]] = [
    Step(1, "the Headwater 0.1.0 layout (created, or stamped on a 0.1.0 data directory)",
         _ddl(LAYOUT_0_1_0)),
    Step(2, "index dead letters by arrival", _ddl(DEAD_LETTERS_BY_ARRIVAL)),
    Step(3, "tokens: expiry, revocation, last use, environment; unique names",
         _ddl(TOKEN_LIFECYCLE)),
    Step(4, "schema observations: a schema history independent of arrival order",
         _ddl(SCHEMA_OBSERVATIONS)),
    Step(5, "catalog search: a full-text index (FTS5) of datasets, fields and jobs, built from"
            " what is stored", build_index),
    Step(6, "runs: listed newest first by index, children by parent, attempts from the"
         " events' state transitions", _run_history),
    Step(7, "ids that cannot collide: nodes whose name or field holds ':' or '%' re-keyed",
         rekey),
    Step(8, "the gate's decision log in a file of its own (headwater.decisions.db), so a gate"
         " decision never waits behind an ingestion transaction", _decision_log_file),
    Step(9, "other names of a dataset: an index of the aliases its symlinks declare, built"
            " from the stored symlinks (a RENAME's old name is none)", build_aliases),
    Step(10, "quality results keyed on the check's own name (dbt tests): results of one kind"
             " on one column of one run split again from the stored events", _named_checks),
    Step(11, "index field nodes by dataset", _ddl(FIELD_NODES_BY_DATASET)),
    Step(12, "facts digests: an event that repeats a job's or dataset's facts writes only what"
             " is new", _ddl(FACTS_DIGESTS)),
    Step(13, "a counter of changes to the lineage graph, kept by triggers, so impact analysis"
             " can walk an in-memory copy of it while it is current", _ddl(GRAPH_VERSION)),
    # Every lookup of a job's runs is served by runs_job_newest (job_id first); the other
    # index only cost each new run one more page written.
    Step(14, "runs: drop an index that duplicates the newest-first one",
         _ddl("DROP INDEX IF EXISTS runs_job;")),
]


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


class SchemaVersions(Connections):
    def schema_version(self) -> int:
        return _version(self._db)

    def migrate(self) -> list[str]:
        where = f"the embedded store at {self.path}"
        with self._write_lock:
            todo = pending(STEPS, _version(self._writer), where)  # SchemaTooNew: nothing written
            # Persistent and a write to the file, hence only now that its version is known.
            self._writer.execute("PRAGMA journal_mode=WAL")
        done = []
        for step in todo:
            with self._transaction() as db:
                # Another process may have migrated since we looked: the version read under
                # BEGIN IMMEDIATE (which holds the file's write lock) is the truth.
                current = _version(db)
                pending(STEPS, current, where)
                if current >= step.version:
                    continue
                step.apply(db)
                db.execute(f"PRAGMA user_version = {step.version:d}")
            done.append(describe(step))
        return done
