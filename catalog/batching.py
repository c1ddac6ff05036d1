"""Folding a batch of writes before it reaches a backend: a batch often describes the same
dataset, job or run many times, and the database needs to see each once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.catalog.model import EventWrite, RunOfAnotherJob, RunWrite, WriteResult
from headwater.catalog.rules import TERMINAL_STATES, state_wins


def admitted(events: Iterable[EventWrite], stored_events: set[str],
             run_jobs: dict[str, str]) -> list[WriteResult]:
    """Per event, in batch order: ``True`` to write it, ``False`` for a duplicate (its id is
    stored or earlier in the batch), ``RunOfAnotherJob`` when its run id belongs to another
    job (``run_jobs``: the stored runs' job ids, filled in as the batch claims new runs). Both
    sets are updated in place. A refused event is not remembered, so a copy of it is refused
    too, never called a duplicate."""
    out: list[WriteResult] = []
    for e in events:
        if e.event_id in stored_events:
            out.append(False)
            continue
        if e.run is not None:
            owner = run_jobs.setdefault(e.run.id, e.run.job_id)
            if owner != e.run.job_id:
                out.append(RunOfAnotherJob(e.run.id, owner, e.run.job_id))
                continue
        stored_events.add(e.event_id)
        out.append(True)
    return out


def latest_per_key(rows: Iterable[tuple[Any, ...]], key: int, time: int) -> list[tuple[Any, ...]]:
    """One row per key: the one with the newest time (ties: the later row). A batch often
    describes the same dataset many times; the database needs to see it once."""
    best: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        k = row[:key]
        if k not in best or row[time] >= best[k][time]:
            best[k] = row
    return list(best.values())


def merged_per_id(rows: Iterable[tuple[Any, ...]], time: int) -> list[tuple[Any, ...]]:
    """One row per id (column 0), folding the batch the way the upsert folds it into the
    table: the newest non-null value of each column, the oldest creation, the newest update."""
    out: dict[Any, list[Any]] = {}
    for row in sorted(rows, key=lambda r: r[time]):
        cur = out.get(row[0])
        if cur is None:
            out[row[0]] = list(row)
        else:
            for i, v in enumerate(row):
                if v is not None and i != time - 1:  # keep the first created_at
                    cur[i] = v
    return [tuple(r) for r in out.values()]


def facet_owners(e: EventWrite) -> Iterable[tuple[str, dict[str, Any]]]:
    """(node id, facets) pairs of an event; a run's input/output facets belong to the pair."""
    if e.job and e.job.facets:
        yield e.job.id, e.job.facets
    if e.run and e.run.facets:
        yield e.run.id, e.run.facets
    for d in e.all_datasets():
        if d.facets:
            yield d.id, d.facets
        if d.io_facets and e.run:
            yield f"{e.run.id}|{d.role}|{d.id}", d.io_facets
        # The newest column metrics measured on a dataset (by event time) show on the dataset.
        if "dataQualityMetrics" in d.io_facets:
            yield d.id, {"dataQualityMetrics": d.io_facets["dataQualityMetrics"]}


def folded_runs(events: Iterable[EventWrite]) -> list[dict[str, Any]]:
    """One row per run, folding the batch's events with the same rule the store applies
    against what it holds (``state_wins``): the row says the winning state and its time, the
    earliest START, the latest non-null facts."""
    runs: dict[str, dict[str, Any]] = {}
    for e in sorted((e for e in events if e.run), key=lambda e: e.event_time):
        r: RunWrite = e.run  # type: ignore[assignment]
        t = e.event_time
        cur = runs.get(r.id)
        if cur is None:
            cur = runs[r.id] = {"id": r.id, "jobId": r.job_id, "state": None, "stateTime": None,
                                "startedAt": None, "endedAt": None, "nominalStart": None,
                                "nominalEnd": None, "errorMessage": None, "parentRunId": None,
                                "createdAt": t, "updatedAt": t, "tags": []}
        if state_wins(r.state, t, cur["state"], cur["stateTime"]):
            cur["state"], cur["stateTime"] = r.state, t
            cur["endedAt"] = t if r.state in TERMINAL_STATES else None
        if r.event_type == "START" and (cur["startedAt"] is None or t < cur["startedAt"]):
            cur["startedAt"] = t
        for key, value in (("nominalStart", r.nominal_start), ("nominalEnd", r.nominal_end),
                           ("errorMessage", r.error_message), ("parentRunId", r.parent_run_id)):
            if value is not None:
                cur[key] = value
        cur["updatedAt"] = t
        cur["tags"] = sorted(set(cur["tags"]) | set(r.tags))
    return list(runs.values())
