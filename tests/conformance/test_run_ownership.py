"""A run belongs to one job: an event naming another job's run id is refused by the store, in
the same transaction as the batch it came in, and the run stays as its own job left it."""

from __future__ import annotations

import uuid

from headwater.catalog import Store
from headwater.catalog.ids import job_id
from headwater.catalog.model import RunOfAnotherJob
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, schema, ts

A, B = ("etl", "load_orders"), ("etl", "other_job")
OUT = dataset("db", "stolen", s=schema("x"))


def test_an_event_reusing_another_jobs_run_id_is_refused(store: Store) -> None:
    run = str(uuid.uuid4())
    first = normalize(run_event("START", run_id=run, job=A, time=ts(1)))
    assert store.write_events([first]) == [True]

    intruder = normalize(run_event("FAIL", run_id=run, job=B, time=ts(5), outputs=[OUT],
                                   run_facets={"errorMessage": {
                                       "message": "boom", "programmingLanguage": "py"}}))
    own = normalize(run_event("COMPLETE", run_id=run, job=A, time=ts(3)))
    # The refused event does not take the rest of its batch down with it.
    assert store.write_events([intruder, own]) == [
        RunOfAnotherJob(run, job_id(*A), job_id(*B)), True]

    stored = store.run(run)
    assert stored is not None
    assert (stored.job_id, stored.state, stored.error_message) == (job_id(*A), "COMPLETED", None)
    assert stored.ended_at is not None and stored.ended_at.startswith("2026-03-01T10:00:03")
    assert store.runs(job_id(*B)) == []
    assert store.dataset("db", "stolen") is None
    assert store.event_count() == 2
    # Sent again, it is refused again: never taken for a duplicate of something stored.
    assert store.write_events([intruder]) == [RunOfAnotherJob(run, job_id(*A), job_id(*B))]


def test_inside_one_batch_the_first_job_to_name_a_run_keeps_it(store: Store) -> None:
    run = str(uuid.uuid4())
    a = normalize(run_event("START", run_id=run, job=A, time=ts(1)))
    b = normalize(run_event("COMPLETE", run_id=run, job=B, time=ts(2), outputs=[OUT]))
    other = normalize(run_event("START", job=B, time=ts(2)))
    assert store.write_events([a, b, b, other]) == [
        True, RunOfAnotherJob(run, job_id(*A), job_id(*B)),
        RunOfAnotherJob(run, job_id(*A), job_id(*B)), True]
    stored = store.run(run)
    assert stored is not None and (stored.job_id, stored.state) == (job_id(*A), "RUNNING")
    assert [r.id for r in store.runs(job_id(*B))] == [other.run.id]  # type: ignore[union-attr]
    assert store.dataset("db", "stolen") is None
