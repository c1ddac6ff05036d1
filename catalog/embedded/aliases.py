"""The embedded store's alias index and merges (``catalog.aliases``): the lookup a batch makes
before it is written, and the move of a dataset stored under a name that is now declared an
alias onto the dataset that declared it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

import orjson

from headwater.catalog.aliases import Target, declared, named, renamed_from, resolve
from headwater.catalog.embedded.connection import chunks
from headwater.catalog.embedded.schema import statements
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.model import EventWrite
from headwater.catalog.rekeying import rekey_erasure
from headwater.catalog.rules import quality_result_id

# Schema version 9.
ALIAS_INDEX = """
CREATE TABLE IF NOT EXISTS dataset_aliases (
  alias_id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, namespace TEXT NOT NULL,
  name TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dataset_aliases_dataset ON dataset_aliases(dataset_id);
"""


def _in(db: sqlite3.Connection, sql: str, ids: Sequence[str]) -> list[tuple]:  # type: ignore[type-arg]
    rows: list[tuple] = []  # type: ignore[type-arg]
    for chunk in chunks(list(ids)):
        rows += db.execute(sql.format(ids=",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def apply_aliases(db: sqlite3.Connection, events: Sequence[EventWrite]
                  ) -> tuple[list[EventWrite], dict[str, Target]]:
    """The batch with its aliases resolved, the new ones recorded; and the stored datasets
    that are now aliases (alias id -> target), to ``merge`` before writing. One lookup of
    every name the batch holds (a query per 900 names), one of the newly declared names among
    stored datasets."""
    if not events:
        return [], {}
    claims = {a for e in events for d in e.all_datasets() for a in d.aliases}
    stored = {a: Target(i, ns, n) for a, i, ns, n in _in(
        db, "SELECT alias_id, dataset_id, namespace, name FROM dataset_aliases"
        " WHERE alias_id IN ({ids})", list(named(events) | claims))}
    new = declared(events, stored) if claims else {}
    targets = {**new, **stored}
    resolved = resolve(events, targets)
    if not claims:
        return resolved, {}
    db.executemany("INSERT OR IGNORE INTO dataset_aliases(alias_id, dataset_id, namespace, name)"
                   " VALUES (?,?,?,?)", [(a, t.id, t.namespace, t.name) for a, t in new.items()])
    # A declared name stored as a dataset of its own: new, or declared before but stored
    # since (before an upgrade, or by a concurrent writer) is merged too.
    found = _in(db, "SELECT id FROM datasets WHERE id IN ({ids})", list(claims))
    return resolved, {a: targets[a] for (a,) in found if a in targets}


def merge(db: sqlite3.Connection, moves: dict[str, Target]) -> None:
    """Move everything stored about each dataset ``old`` onto its target, then remove it: as
    if its events had named the target. Sets are united, the newer value wins (facets,
    description, lifecycle), quality results keep their rule. The schema history is merged by
    the caller (``schema_writes.write_schemas``: ``old``'s observations join the target's).
    Rare (once per alias ever), so a few statements per moved dataset."""
    for old, t in moves.items():
        _merge_one(db, old, t)


def _merge_one(db: sqlite3.Connection, old: str, t: Target) -> None:
    new = t.id
    ns, name = db.execute("SELECT namespace, name FROM datasets WHERE id = ?", (old,)).fetchone()
    old_prefix, new_prefix = field_id(ns, name, ""), field_id(t.namespace, t.name, "")

    def fid(f: str) -> str:
        return new_prefix + f[len(old_prefix):]

    # The merge rewrites the target and every job reading or writing ``old`` (their edges and
    # derivations move): none of them holds what its facts digest promised (catalog.facts).
    db.execute("UPDATE datasets SET facts_digest = NULL WHERE id IN (?, ?)", (old, new))
    db.execute("UPDATE jobs SET facts_digest = NULL WHERE id IN (SELECT dst FROM edges"
               " WHERE src = ? UNION SELECT src FROM edges WHERE dst = ? UNION SELECT job_id"
               " FROM column_edges WHERE source_id >= ? AND source_id < ?"
               " UNION SELECT job_id FROM column_edges WHERE target_dataset = ?)",
               (old, old, old_prefix, old_prefix[:-1] + ";", old))

    db.execute(
        "INSERT INTO datasets(id, namespace, name, description, retention_days, lifecycle_state,"
        " created_at, updated_at) SELECT ?, ?, ?, description, retention_days, lifecycle_state,"
        " created_at, updated_at FROM datasets WHERE id = ? ON CONFLICT(id) DO UPDATE SET"
        " description = CASE WHEN excluded.description IS NOT NULL AND (datasets.description"
        "  IS NULL OR excluded.updated_at > datasets.updated_at) THEN excluded.description"
        "  ELSE datasets.description END,"
        " lifecycle_state = CASE WHEN excluded.lifecycle_state IS NOT NULL AND"
        "  (datasets.lifecycle_state IS NULL OR excluded.updated_at > datasets.updated_at)"
        "  THEN excluded.lifecycle_state ELSE datasets.lifecycle_state END,"
        " retention_days = coalesce(datasets.retention_days, excluded.retention_days),"
        " created_at = min(datasets.created_at, excluded.created_at),"
        " updated_at = max(datasets.updated_at, excluded.updated_at)", (new, t.namespace, t.name,
                                                                        old))
    for table, col, rest in (("tags", "node_id", "tag"), ("owners", "node_id", "owner, type"),
                             ("field_classifications", "dataset_id",
                              "field, classification, source")):
        db.execute(f"INSERT OR IGNORE INTO {table}({col}, {rest}) SELECT ?, {rest} FROM {table}"
                   f" WHERE {col} = ?", (new, old))
        db.execute(f"DELETE FROM {table} WHERE {col} = ?", (old,))
    db.execute("INSERT OR IGNORE INTO symlinks(dataset_id, namespace, name, type)"
               " SELECT ?, namespace, name, type FROM symlinks WHERE dataset_id = ?"
               " AND NOT (namespace = ? AND name = ?)", (new, old, t.namespace, t.name))
    db.execute("DELETE FROM symlinks WHERE dataset_id = ?", (old,))
    db.execute("UPDATE dataset_aliases SET dataset_id = ?, namespace = ?, name = ?"
               " WHERE dataset_id = ?", (new, t.namespace, t.name, old))
    # Lineage: the jobs reading and writing it, and the runs of those jobs that did.
    db.execute("INSERT OR IGNORE INTO edges(src, dst) SELECT ?, dst FROM edges WHERE src = ?",
               (new, old))
    db.execute("INSERT OR IGNORE INTO edges(src, dst) SELECT src, ? FROM edges WHERE dst = ?",
               (new, old))
    db.execute("DELETE FROM edges WHERE src = ? OR dst = ?", (old, old))
    io = db.execute(
        "SELECT io.run_id, io.direction, io.schema_version FROM runs r JOIN run_io io"
        " ON io.run_id = r.id AND io.dataset_id = ? WHERE r.job_id IN"
        " (SELECT dst FROM edges WHERE src = ? UNION SELECT src FROM edges WHERE dst = ?)",
        (old, new, new)).fetchall()
    db.executemany("INSERT OR IGNORE INTO run_io(run_id, direction, dataset_id, schema_version)"
                   " VALUES (?,?,?,?)", [(r, d, new, v) for r, d, v in io])
    db.executemany("DELETE FROM run_io WHERE run_id = ? AND direction = ? AND dataset_id = ?",
                   [(r, d, old) for r, d, _ in io])
    # Facets: the dataset's own, and those runs reported for it (keyed run|role|dataset).
    keys = [(old, new)] + [(f"{r}|{role}|{old}", f"{r}|{role}|{new}") for r, d, _ in io
                           for role in (("input",) if d == "in" else ("output", "dataset"))]
    for o, n in keys:
        db.execute("INSERT INTO facets(node_id, name, event_time, body)"
                   " SELECT ?, name, event_time, body FROM facets WHERE node_id = ? AND true"
                   " ON CONFLICT DO UPDATE SET body = excluded.body,"
                   " event_time = excluded.event_time WHERE excluded.event_time > facets.event_time",
                   (n, o))
        db.execute("DELETE FROM facets WHERE node_id = ?", (o,))
    _move_fields(db, old, new, old_prefix, fid)
    quality = db.execute("SELECT id, field, assertion, success, run_id, observed_at, source,"
                         " value, details, name FROM quality_results WHERE dataset_id = ?",
                         (old,)).fetchall()
    # Results of a run are keyed by their dataset (so a START and a COMPLETE meet); those of a
    # run-less event by the event, which keeps them apart whatever their dataset.
    db.executemany(
        "INSERT INTO quality_results(id, dataset_id, field, assertion, success, run_id,"
        " observed_at, source, value, details, name) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET success = excluded.success,"
        " observed_at = excluded.observed_at, value = excluded.value,"
        " details = excluded.details WHERE excluded.observed_at > observed_at"
        " OR (excluded.observed_at = observed_at AND excluded.success < success)",
        [(quality_result_id(new, f, a, run, src, n) if run else i, new, f, a, s, run, at, src, v,
          dt, n) for i, f, a, s, run, at, src, v, dt, n in quality])
    db.executemany("DELETE FROM quality_results WHERE id = ? AND dataset_id = ?",
                   [(q[0], old) for q in quality])
    for erasure, doc in db.execute("SELECT id, doc FROM erasures").fetchall():
        body = orjson.loads(doc)
        if rekey_erasure(body, {old: new}):
            db.execute("UPDATE erasures SET doc = ? WHERE id = ?", (orjson.dumps(body), erasure))
    db.execute("DELETE FROM datasets WHERE id = ?", (old,))


def _move_fields(db: sqlite3.Connection, old: str, new: str, prefix: str,
                 move: Callable[[str], str]) -> None:
    # Field ids of a dataset share its prefix: a range of the primary key (the prefix ends in
    # ':', so every id under it sorts before the prefix with ';' in its place). The dataset
    # column tells apart another dataset's ids that happen to start alike.
    upper = prefix[:-1] + ";"
    fields = db.execute("SELECT id, field FROM field_nodes WHERE id >= ? AND id < ?"
                        " AND dataset_id = ?", (prefix, upper, old)).fetchall()
    db.executemany("INSERT OR IGNORE INTO field_nodes(id, dataset_id, field) VALUES (?,?,?)",
                   [(move(i), new, f) for i, f in fields])
    db.executemany("DELETE FROM field_nodes WHERE id = ?", [(i,) for i, _ in fields])
    edges = db.execute(
        "SELECT source_id, target_id, source_dataset, target_dataset, source_field,"
        " target_field, type, subtype, description, masking, job_id FROM column_edges"
        " WHERE source_id >= ? AND source_id < ? AND source_dataset = ?"
        " UNION SELECT source_id, target_id, source_dataset, target_dataset, source_field,"
        " target_field, type, subtype, description, masking, job_id FROM column_edges"
        " WHERE target_dataset = ?", (prefix, upper, old, old)).fetchall()
    moved = []
    for s, tg, sd, td, *rest in edges:
        if sd == old:
            s, sd = move(s), new
        if td == old:
            tg, td = move(tg), new
        moved.append((s, tg, sd, td, *rest))
    db.executemany("DELETE FROM column_edges WHERE source_id = ? AND target_id = ? AND type = ?"
                   " AND subtype = ?", [(s, tg, ty, st) for s, tg, _, _, _, _, ty, st, *_ in edges])
    db.executemany(
        "INSERT INTO column_edges(source_id, target_id, source_dataset, target_dataset,"
        " source_field, target_field, type, subtype, description, masking, job_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET"
        " description = coalesce(description, excluded.description),"
        " job_id = coalesce(job_id, excluded.job_id)", moved)
    # A steward's declassified derivations follow their fields.
    ids = sorted({i for i, _ in fields} | {e[0] for e in edges if e[2] == old}
                 | {e[1] for e in edges if e[3] == old})
    declassified = sorted({*_in(db, "SELECT source_id, target_id FROM declassified_edges"
                                " WHERE source_id IN ({ids})", ids),
                           *_in(db, "SELECT source_id, target_id FROM declassified_edges"
                                " WHERE target_id IN ({ids})", ids)})
    mine = set(ids)
    db.executemany("INSERT OR IGNORE INTO declassified_edges(source_id, target_id) VALUES (?,?)",
                   [(move(s) if s in mine else s, move(tg) if tg in mine else tg)
                    for s, tg in declassified])
    db.executemany("DELETE FROM declassified_edges WHERE source_id = ? AND target_id = ?",
                   declassified)


def build_aliases(db: sqlite3.Connection) -> None:
    """Migration: the alias index from the stored symlinks, but a RENAME's old name (kept
    among the new one's symlinks, and left a dataset of its own): those are found in the
    stored events that carry a ``previousIdentifier``, a scan of the events done once."""
    for statement in statements(ALIAS_INDEX):
        db.execute(statement)
    renamed: set[tuple[str, str]] = set()
    cur = db.execute("SELECT payload FROM events"
                     " WHERE instr(payload, CAST('previousIdentifier' AS BLOB)) > 0")
    while rows := cur.fetchmany(1_000):
        for (payload,) in rows:
            renamed |= renamed_from(orjson.loads(payload))
    rows = db.execute("SELECT s.dataset_id, s.namespace, s.name, d.namespace, d.name"
                      " FROM symlinks s JOIN datasets d ON d.id = s.dataset_id"
                      " ORDER BY d.created_at, d.id").fetchall()
    db.executemany(
        "INSERT OR IGNORE INTO dataset_aliases(alias_id, dataset_id, namespace, name)"
        " VALUES (?,?,?,?)",
        [(dataset_id(ans, an), ds, ns, n) for ds, ans, an, ns, n in rows
         if (ans, an) not in renamed and dataset_id(ans, an) != ds])
