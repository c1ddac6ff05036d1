"""Schema history on the embedded store: a batch's schema observations recorded, and the
histories they touch brought up to date (``catalog.schema_history`` derives them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from headwater.catalog.aliases import Target
from headwater.catalog.embedded.connection import chunks
from headwater.catalog.model import EventWrite
from headwater.catalog.schema_history import (
    Version,
    appends,
    history,
    in_order,
    observations,
    renames,
    restart,
    version_at,
)


def _newest_observations(db: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The newest schema observation's event time of each of these datasets that has one: an
    index seek each (``max`` over a ``GROUP BY`` reads every observation of the dataset, a
    cost growing with its history: 5x at 30 observations a dataset)."""
    out: dict[str, str] = {}
    for chunk in chunks(ids):
        out.update(r for r in db.execute(
            f"WITH ids(id) AS (VALUES {','.join(['(?)'] * len(chunk))})"
            " SELECT id, (SELECT max(event_time) FROM schema_observations WHERE dataset_id = id)"
            " FROM ids", chunk) if r[1] is not None)
    return out


def write_schemas(db: sqlite3.Connection, events: list[EventWrite],
                   merged: dict[str, Target], stored_runs: set[str]
                   ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Record the batch's schema observations and bring the affected histories up to date
    (``catalog.schema_history``). Returns each touched dataset's current version, and the
    version each (run, dataset) observed. A RENAME's old name and a merged alias (``merged``)
    lend their observations to the dataset, whose history is derived again; a merged
    alias's own history goes."""
    batch, bodies = observations(events)
    ids = list({d.id for e in events for d in e.all_datasets()})
    latest: dict[str, Version] = {}
    for chunk in chunks(ids):
        q = (
            "SELECT dataset_id, version, fingerprint, created_at, run_id FROM schema_versions"
            f" WHERE (dataset_id, version) IN (SELECT dataset_id, max(version)"
            f" FROM schema_versions WHERE dataset_id IN ({','.join('?' * len(chunk))})"
            " GROUP BY dataset_id)"
        )
        for ds, version, fp, created, run in db.execute(q, chunk):
            latest[ds] = Version(version, created, fp, run or "")
    renamed = renames(events)
    lent = [*((old, new) for new, old in renamed.items()),
            *((old, t.id) for old, t in merged.items())]
    for old, new in lent:
        db.execute("INSERT OR IGNORE INTO schema_observations(dataset_id, event_time,"
                   " fingerprint, run_id) SELECT ?, event_time, fingerprint, run_id"
                   " FROM schema_observations WHERE dataset_id = ?", (new, old))
        for fp, body in db.execute("SELECT fingerprint, fields FROM schema_versions"
                                   " WHERE dataset_id = ?", (old,)):
            bodies.setdefault((new, fp), body)
        batch.setdefault(new, [])
    for old in merged:
        db.execute("DELETE FROM schema_observations WHERE dataset_id = ?", (old,))
        db.execute("DELETE FROM schema_versions WHERE dataset_id = ?", (old,))
    rederive = {*renamed, *(t.id for t in merged.values())}
    seen = _newest_observations(db, list(batch))
    db.executemany(
        "INSERT INTO schema_observations(dataset_id, event_time, fingerprint, run_id)"
        " VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET run_id = excluded.run_id"
        " WHERE excluded.run_id < run_id",
        [(ds, t, fp, run) for ds, obs in batch.items() for t, fp, run in obs])
    observed: dict[tuple[str, str], int] = {}
    inserts: list[tuple[str, Version]] = []
    for ds, obs in batch.items():
        if ds not in rederive and in_order(seen.get(ds), obs):
            added = appends(latest.get(ds), obs)
            current = [*([latest[ds]] if ds in latest else []), *added]
            inserts += [(ds, v) for v in added]
            affected = obs
        else:
            # A late event: re-derive the history from the last version before it.
            stored = [Version(*r) for r in db.execute(
                "SELECT version, created_at, fingerprint, coalesce(run_id, '')"
                " FROM schema_versions WHERE dataset_id = ? ORDER BY version", (ds,))]
            start = None if ds in rederive else restart(stored, obs[0][0])
            affected = [tuple(r) for r in db.execute(  # type: ignore[misc]
                "SELECT event_time, fingerprint, run_id FROM schema_observations"
                " WHERE dataset_id = ? AND (event_time, fingerprint) >= (?, ?)",
                (ds, start.created_at if start else "", start.fingerprint if start else ""))]
            first = start.version if start else 1
            current = [v for v in stored if v.version < first] + history(affected, first)
            for fp, body in db.execute(
                    "SELECT fingerprint, fields FROM schema_versions WHERE dataset_id = ?"
                    " AND version >= ?", (ds, first)):
                bodies.setdefault((ds, fp), body)
            db.execute("DELETE FROM schema_versions WHERE dataset_id = ? AND version >= ?",
                       (ds, first))
            inserts += [(ds, v) for v in current if v.version >= first]
        if current:
            latest[ds] = current[-1]
        for t, fp, run in affected:
            version = version_at(current, t, fp)
            if run and version is not None:
                observed[run, ds] = version
    db.executemany(
        "INSERT INTO schema_versions(dataset_id, version, fingerprint, created_at, run_id,"
        " fields) VALUES (?,?,?,?,?,?)",
        [(ds, v.version, v.fingerprint, v.created_at, v.run_id or None,
          bodies[ds, v.fingerprint]) for ds, v in inserts])
    # Runs of a renumbered stretch of history point at their version again. Only a run
    # stored before this batch has inputs and outputs to update: ``_write_runs`` writes
    # the batch's new ones, with their version, after this.
    db.executemany(
        "UPDATE run_io SET schema_version = ? WHERE run_id = ? AND dataset_id = ?"
        " AND schema_version IS NOT ?",
        [(v, run, ds, v) for (run, ds), v in observed.items() if run in stored_runs])
    return {ds: v.version for ds, v in latest.items()}, observed
