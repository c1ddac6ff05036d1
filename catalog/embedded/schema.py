"""The SQLite layout, as the DDL each migration step runs (``migrations.py`` orders them).

The lineage graph is stored as edge tables (``edges``, ``column_edges``) indexed both ways,
which is what a traversal needs. Steps only ever add to this file: the DDL of a released step
never changes, since data directories made by that release were created from it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

# Headwater 0.1.0 (schema version 1). IF NOT EXISTS throughout: a 0.1.0 data directory has
# these tables but no version stamp, and running this over it changes nothing but the stamp.
LAYOUT_0_1_0 = """
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


def statements(script: str) -> Iterator[str]:
    """The statements of a DDL script, one at a time, so that a step runs them inside its
    transaction (``executescript`` would commit first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]}")

# Schema version 2: the newest dead letters through an index, instead of sorting them all on
# every read (a misconfigured producer can leave millions).
DEAD_LETTERS_BY_ARRIVAL = """
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters(received_at);
"""

# Schema version 3: tokens can expire, be revoked and be listed by a unique name. Tokens
# sharing a name (0.1.0 named every unnamed token "<role>-token") keep it for the oldest;
# the others get "-<n>" appended.
TOKEN_LIFECYCLE = """
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE tokens ADD COLUMN environment TEXT;
UPDATE tokens SET name = name || '-' || rowid
  WHERE rowid NOT IN (SELECT min(rowid) FROM tokens GROUP BY name);
CREATE UNIQUE INDEX IF NOT EXISTS tokens_name ON tokens(name);
"""

# Schema version 4: every schema a dataset was seen with (event time, fingerprint, run), so its
# history does not depend on arrival order (catalog/schema_history.py). Existing versions are
# their own first observations.
SCHEMA_OBSERVATIONS = """
CREATE TABLE IF NOT EXISTS schema_observations (
  dataset_id TEXT NOT NULL, event_time TEXT NOT NULL, fingerprint TEXT NOT NULL,
  run_id TEXT NOT NULL, PRIMARY KEY (dataset_id, event_time, fingerprint)) WITHOUT ROWID;
INSERT OR IGNORE INTO schema_observations(dataset_id, event_time, fingerprint, run_id)
  SELECT dataset_id, created_at, fingerprint, coalesce(run_id, '') FROM schema_versions;
"""

# Schema version 6: runs listed newest first through an index (per job, and over all jobs),
# children found by parent, and each run event's state transition kept so a run's attempts
# (retries under one runId) can be told apart. ``migrations.py`` replays the stored run events
# into ``run_transitions``.
RUN_HISTORY = """
CREATE TABLE IF NOT EXISTS run_transitions (
  run_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time TEXT NOT NULL, event_type TEXT,
  state TEXT, error_message TEXT, try_number INTEGER,
  PRIMARY KEY (run_id, event_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_job_newest ON runs(job_id, coalesce(started_at, created_at), id);
CREATE INDEX IF NOT EXISTS runs_newest ON runs(coalesce(started_at, created_at), id);
CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent_run_id);
"""

# Schema version 8: the decision log moves to a file of its own (catalog/embedded/decisions.py
# says why), with the table and indexes it had in the catalog's file (taken from the 0.1.0
# layout, so the two cannot drift). ``migrations.py`` copies the stored decisions over and
# drops the table from the catalog's file.
DECISION_LOG = "\n".join(s for s in statements(LAYOUT_0_1_0)
                         if s.startswith(("CREATE TABLE IF NOT EXISTS decisions (",
                                          "CREATE INDEX IF NOT EXISTS decisions_")))

# Schema version 11: the fields of given datasets through an index (impact analysis, the gate,
# erasure planning read them by dataset); without it every such read scanned all field nodes.
FIELD_NODES_BY_DATASET = """
CREATE INDEX IF NOT EXISTS field_nodes_dataset ON field_nodes(dataset_id, field);
"""

# Schema version 12: each job's and dataset's digest of the facts it was last written with in
# full, so an event that repeats them writes only what is new (catalog/facts.py). Existing
# nodes have none: their next event writes them in full, as before, and records one.
FACTS_DIGESTS = """
ALTER TABLE jobs ADD COLUMN facts_digest TEXT;
ALTER TABLE datasets ADD COLUMN facts_digest TEXT;
"""

# Schema version 13: a counter of changes to the lineage graph (column derivations, job
# edges, datasets), bumped by triggers whatever writes them, so an in-memory copy of the
# graph (catalog/embedded/adjacency.py) knows when it is stale. An upsert that changes
# nothing, as a run repeating its job's lineage does, fires no trigger.
GRAPH_VERSION = """
CREATE TABLE IF NOT EXISTS graph_version (
  id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO graph_version(id, n) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS column_edges_added AFTER INSERT ON column_edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS column_edges_changed
  AFTER UPDATE OF source_id, target_id, target_dataset, target_field, job_id ON column_edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS column_edges_removed AFTER DELETE ON column_edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS edges_added AFTER INSERT ON edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS edges_changed AFTER UPDATE ON edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS edges_removed AFTER DELETE ON edges
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS datasets_added AFTER INSERT ON datasets
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS datasets_changed AFTER UPDATE OF id ON datasets
  BEGIN UPDATE graph_version SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS datasets_removed AFTER DELETE ON datasets
  BEGIN UPDATE graph_version SET n = n + 1; END;
"""

# Schema version 15: column derivations indexed by their datasets, so the gate reads a job's
# flows and a dataset's upstream datasets without reading a row per column: (target dataset,
# source dataset) for the datasets upstream of one (the gate's inheritance walk starts from
# their classified fields), (job, source dataset, target dataset) for the pairs a job's flows
# join and their count. Each replaces an index it extends.
FLOW_DATASETS = """
DROP INDEX IF EXISTS column_edges_target_ds;
CREATE INDEX IF NOT EXISTS column_edges_datasets ON column_edges(target_dataset, source_dataset);
DROP INDEX IF EXISTS column_edges_job;
CREATE INDEX IF NOT EXISTS column_edges_job_datasets
  ON column_edges(job_id, source_dataset, target_dataset);
"""
