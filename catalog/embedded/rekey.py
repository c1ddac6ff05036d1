"""Schema version 4 of the embedded store: every row keyed by a 0.1.0 id whose name or field
holds ':' or '%' moves to the node's new id (``catalog.rekeying``)."""

from __future__ import annotations

import sqlite3

import orjson

from headwater.catalog.embedded.search import reindex
from headwater.catalog.rekeying import TMP, moved, rekey_erasure

# Every column that holds a dataset, job or field id.
ID_COLUMNS = (
    ("datasets", "id"), ("jobs", "id"), ("field_nodes", "id"), ("field_nodes", "dataset_id"),
    ("schema_versions", "dataset_id"), ("field_classifications", "dataset_id"),
    ("tags", "node_id"), ("owners", "node_id"), ("symlinks", "dataset_id"),
    ("facets", "node_id"), ("edges", "src"), ("edges", "dst"), ("runs", "job_id"),
    ("run_io", "dataset_id"), ("column_edges", "source_id"), ("column_edges", "target_id"),
    ("column_edges", "source_dataset"), ("column_edges", "target_dataset"),
    ("column_edges", "job_id"), ("quality_results", "dataset_id"),
    ("declassified_edges", "source_id"), ("declassified_edges", "target_id"),
    ("decisions", "job_id"), ("schema_observations", "dataset_id"),
)
_SPECIAL = "(instr({c}, ':') OR instr({c}, '%'))"


def rekey(db: sqlite3.Connection) -> None:
    # Finding the nodes reads every name once; the rest touches only the rows that move.
    datasets = moved("dataset", ((i, (ns, n)) for i, ns, n in db.execute(
        "SELECT id, namespace, name FROM datasets WHERE " + _SPECIAL.format(c="name"))))
    jobs = moved("job", ((i, (ns, n)) for i, ns, n in db.execute(
        "SELECT id, namespace, name FROM jobs WHERE " + _SPECIAL.format(c="name"))))
    fields = moved("field", ((i, (ns, n, f)) for i, ns, n, f in db.execute(
        "SELECT f.id, d.namespace, d.name, f.field FROM field_nodes f"
        " JOIN datasets d ON d.id = f.dataset_id WHERE " + _SPECIAL.format(c="f.field")
        + " OR " + _SPECIAL.format(c="d.name"))))
    mapping = {**datasets, **jobs, **fields}
    if not mapping:
        return
    db.execute("CREATE TEMP TABLE rekey (old TEXT PRIMARY KEY, tmp TEXT NOT NULL UNIQUE,"
               " new TEXT NOT NULL)")
    db.executemany("INSERT INTO rekey VALUES (?, ?, ?)",
                   [(old, TMP + new, new) for old, new in mapping.items()])
    for source, target in (("old", "tmp"), ("tmp", "new")):
        for table, col in ID_COLUMNS:
            db.execute(f"UPDATE {table} SET {col} = (SELECT {target} FROM rekey"
                       f" WHERE {source} = {table}.{col})"
                       f" WHERE {col} IN (SELECT {source} FROM rekey)")
    db.execute("DROP TABLE temp.rekey")
    # The search documents of moved datasets and jobs, written again from what is stored.
    nodes = {**datasets, **jobs}
    if nodes:
        for table in ("search_fts", "search_docs"):
            db.executemany(f"DELETE FROM {table} WHERE rowid IN"
                           " (SELECT rowid FROM search_docs WHERE node_id = ?)",
                           [(old,) for old in nodes])
        db.executemany("DELETE FROM search_seen WHERE node_id = ?", [(old,) for old in nodes])
        reindex(db, list(nodes.values()))
    if datasets:
        for id_, doc in db.execute("SELECT id, doc FROM erasures").fetchall():
            body = orjson.loads(doc)
            if rekey_erasure(body, datasets):
                db.execute("UPDATE erasures SET doc = ? WHERE id = ?", (orjson.dumps(body), id_))
