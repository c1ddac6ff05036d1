"""Runs on both backends: attempts (retries under one runId), pages newest first with filters,
what a run read and wrote, jobs pages, bulk gate decisions."""

from __future__ import annotations

import itertools
import uuid

from headwater.catalog import DecisionRecord, Store
from headwater.catalog.ids import dataset_id, job_id
from headwater.catalog.reading import CatalogReading
from headwater.ingestion.normalize import normalize
from tests.factories import dataset, run_event, schema, ts

PG = "postgres://db.internal:5432"


def write(store: Store, *events: dict) -> None:
    store.write_events([normalize(e) for e in events])


def error(message: str) -> dict:
    return {"errorMessage": {"message": message, "programmingLanguage": "python"}}


def airflow(try_number: int) -> dict:
    return {"airflow": {"taskInstance": {"try_number": try_number}}}


def test_retry_under_one_run_id_in_any_arrival_order(store: Store) -> None:
    """Try 1 fails, try 2 succeeds: the run is COMPLETED without try 1's error, whatever
    order the events arrive in, and lists both attempts."""
    for n, order in enumerate(itertools.permutations(range(4))):
        run_id = str(uuid.uuid4())
        events = [run_event("START", run_id=run_id, time=ts(1)),
                  run_event("FAIL", run_id=run_id, time=ts(2), run_facets=error("boom")),
                  run_event("START", run_id=run_id, time=ts(3)),
                  run_event("COMPLETE", run_id=run_id, time=ts(4))]
        for i in order:  # one event per batch: as separate requests would
            write(store, events[i])
        run = store.run(run_id)
        assert run is not None, order
        assert (run.state, run.error_message) == ("COMPLETED", None), order
        assert run.started_at == "2026-03-01T10:00:01.000000+00:00"
        assert run.ended_at == "2026-03-01T10:00:04.000000+00:00"
        attempts = CatalogReading(store).attempts([run_id])[run_id]
        assert [(a.number, a.state, a.error_message) for a in attempts] == [
            (1, "FAILED", "boom"), (2, "COMPLETED", None)], order
        assert attempts[1].started_at == "2026-03-01T10:00:03.000000+00:00"
        if n > 5:
            break


def test_a_retry_that_is_running_makes_the_run_running(store: Store) -> None:
    run_id = str(uuid.uuid4())
    write(store, run_event("START", run_id=run_id, time=ts(1)),
          run_event("FAIL", run_id=run_id, time=ts(2), run_facets=error("boom")),
          run_event("START", run_id=run_id, time=ts(3)))
    run = store.run(run_id)
    assert run is not None and (run.state, run.error_message, run.ended_at) == (
        "RUNNING", None, None)


def test_airflow_try_number_decides_the_attempt(store: Store) -> None:
    """Airflow says which try an event is: a RUNNING of try 2 that arrives before its START
    still belongs to try 2, and the try numbers are Airflow's."""
    run_id = str(uuid.uuid4())
    write(store, run_event("FAIL", run_id=run_id, time=ts(5),
                           run_facets={**airflow(2), **error("again")}))
    write(store, run_event("START", run_id=run_id, time=ts(1), run_facets=airflow(2)),
          run_event("START", run_id=run_id, time=ts(0), run_facets=airflow(1)),
          run_event("FAIL", run_id=run_id, time=ts(0), run_facets={**airflow(1),
                                                                     **error("first")}))
    attempts = CatalogReading(store).attempts([run_id])[run_id]
    assert [(a.number, a.state, a.error_message) for a in attempts] == [
        (1, "FAILED", "first"), (2, "FAILED", "again")]
    run = store.run(run_id)
    assert run is not None and (run.state, run.error_message) == ("FAILED", "again")


def _runs(store: Store, job: tuple[str, str], n: int, start: int = 0,
          state: str = "COMPLETE", parent: str | None = None) -> list[str]:
    ids = []
    facets = ({"parent": {"run": {"runId": parent},
                          "job": {"namespace": "airflow", "name": "dag"}}} if parent else {})
    for i in range(start, start + n):
        run_id = str(uuid.uuid4())
        ids.append(run_id)
        write(store, run_event("START", run_id=run_id, job=job, time=ts(i), run_facets=facets),
              run_event(state, run_id=run_id, job=job, time=ts(i), run_facets=facets))
    return ids


def test_runs_page_newest_first_stable_under_inserts(store: Store) -> None:
    job = ("etl", "daily")
    ids = _runs(store, job, 5)  # started at seconds 0..4
    _runs(store, ("etl", "other"), 2)
    page, total = store.runs_page(job_id(*job), None, None, None, None, 2, None)
    assert total == 5
    assert [r.id for r in page] == [ids[4], ids[3]]
    # A newer run arrives between two pages: the next page goes on where the last one ended.
    _runs(store, job, 1, start=9)
    after = (page[-1].sort_time, page[-1].id)
    page2, total2 = store.runs_page(job_id(*job), None, None, None, None, 10, after)
    assert [r.id for r in page2] == [ids[2], ids[1], ids[0]]
    assert total2 == 6
    everything, all_total = store.runs_page(None, None, None, None, None, 100, None)
    assert all_total == 8
    assert [r.sort_time for r in everything] == sorted((r.sort_time for r in everything),
                                                       reverse=True)


def test_runs_page_filters(store: Store) -> None:
    job = ("etl", "filters")
    ok = _runs(store, job, 3)
    failed = _runs(store, job, 2, start=10, state="FAIL")
    parent = ok[0]
    children = _runs(store, ("etl", "child"), 2, start=20, parent=parent)
    j = job_id(*job)
    page, total = store.runs_page(j, "FAILED", None, None, None, 10, None)
    assert (sorted(r.id for r in page), total) == (sorted(failed), 2)
    page, total = store.runs_page(j, None, "2026-03-01T10:00:01.000000+00:00",
                                  "2026-03-01T10:00:11.000000+00:00", None, 10, None)
    assert [r.id for r in page] == [failed[0], ok[2], ok[1]] and total == 3
    page, total = store.runs_page(None, None, None, None, parent, 10, None)
    assert [r.id for r in page] == children[::-1] and total == 2
    assert store.runs_by_id([children[0], "nope"])[1] is None


def test_a_jobs_run_count_counts_each_of_its_runs_once(store: Store) -> None:
    """A job's total (on Neo4j a count of the job's links to its runs, not of the runs) counts
    each run once whatever its events: spread over batches, retried, sent twice in a batch, and
    not the run of another job whose id an event reuses."""
    a, b = ("etl", "counted"), ("etl", "counted_too")
    once, retried, twice = (str(uuid.uuid4()) for _ in range(3))
    write(store, run_event("START", run_id=once, job=a, time=ts(1)))
    write(store, run_event("COMPLETE", run_id=once, job=a, time=ts(2)))
    write(store, *(run_event(t, run_id=retried, job=a, time=ts(3 + i))
                   for i, t in enumerate(("START", "FAIL", "START", "COMPLETE"))))
    start = run_event("START", run_id=twice, job=a, time=ts(8))
    write(store, start, start, run_event("COMPLETE", run_id=twice, job=a, time=ts(9)))
    write(store, run_event("FAIL", run_id=once, job=b, time=ts(10)),  # refused: a's run
          run_event("START", job=b, time=ts(11)))
    for first in (1, 10):
        page, total = store.runs_page(job_id(*a), None, None, None, None, first, None)
        assert total == 3 and len(page) == min(first, 3)
    after = (page[0].sort_time, page[0].id)
    assert store.runs_page(job_id(*a), None, None, None, None, 10, after)[1] == 3
    assert store.runs_page(job_id(*a), "COMPLETED", None, None, None, 10, None)[1] == 3
    assert store.runs_page(job_id(*b), None, None, None, None, 10, None)[1] == 1
    assert store.runs_page(job_id("etl", "no_such_job"), None, None, None, None, 10,
                           None) == ([], 0)


def test_runs_page_reads_attempts_and_skips_facets_when_asked(store: Store) -> None:
    """A page with its runs' transitions (what ``attempts`` needs) in the same read, and
    without the facets when the caller shows none; the default page is unchanged."""
    job = ("etl", "with_detail")
    retried, plain = str(uuid.uuid4()), str(uuid.uuid4())
    tags = {"tags": {"tags": [{"key": "team", "value": "crm"}]}}
    write(store, run_event("START", run_id=retried, job=job, time=ts(1), run_facets=tags),
          run_event("FAIL", run_id=retried, job=job, time=ts(2), run_facets=error("boom")),
          run_event("START", run_id=retried, job=job, time=ts(3)),
          run_event("COMPLETE", run_id=retried, job=job, time=ts(4)),
          run_event("COMPLETE", run_id=plain, job=job, time=ts(0)))
    j = job_id(*job)
    default, _ = store.runs_page(j, None, None, None, None, 10, None)
    assert [r.id for r in default] == [retried, plain]
    assert default[0].transitions is None and "tags" in default[0].facets
    detailed, total = store.runs_page(j, None, None, None, None, 10, None, transitions=True)
    assert total == 2 and [r.facets for r in detailed] == [r.facets for r in default]
    stored = store.run_transitions([retried, plain])
    for r in detailed:
        assert sorted(r.transitions or [], key=repr) == sorted(stored.get(r.id, []), key=repr)
    attempts = CatalogReading.page_attempts(detailed)
    assert [(a.number, a.state, a.error_message) for a in attempts[retried]] == [
        (1, "FAILED", "boom"), (2, "COMPLETED", None)]
    assert attempts == CatalogReading(store).attempts([retried, plain])
    bare, _ = store.runs_page(j, None, None, None, None, 10, None, facets=False)
    assert [(r.id, r.facets, r.state) for r in bare] == [
        (r.id, {}, r.state) for r in default]
    # A run list showing attempts and no facets (the UI's): both at once.
    listed, _ = store.runs_page(j, None, None, None, None, 10, None, facets=False,
                                transitions=True)
    assert [r.facets for r in listed] == [{}, {}]
    assert CatalogReading.page_attempts(listed) == attempts


def test_run_datasets_versions_and_output_statistics(store: Store) -> None:
    run_id = str(uuid.uuid4())
    src = dataset(PG, "shop.raw", s=schema("id", "email"))
    src["inputFacets"] = {"dataQualityMetrics": {"rowCount": 10, "columnMetrics": {
        "email": {"nullCount": 2, "distinctCount": 7}}}}
    out = dataset(PG, "shop.clean", s=schema("id"))
    out["outputFacets"] = {"outputStatistics": {"rowCount": 8, "size": 1024}}
    write(store, run_event("COMPLETE", run_id=run_id, inputs=[src], outputs=[out],
                           run_facets={"tags": {"tags": [{"key": "team", "value": "crm"}]}}))
    read, wrote = store.run_datasets([run_id])[run_id]
    assert [(d.dataset_id, d.version) for d in read] == [(dataset_id(PG, "shop.raw"), 1)]
    assert wrote[0].facets["outputStatistics"]["rowCount"] == 8
    assert read[0].facets["dataQualityMetrics"]["columnMetrics"]["email"]["nullCount"] == 2
    # The newest column metrics show on the dataset itself.
    ds = store.dataset(PG, "shop.raw")
    assert ds is not None
    assert ds.facets["dataQualityMetrics"]["columnMetrics"]["email"]["distinctCount"] == 7
    run = store.run(run_id)
    assert run is not None and run.tags


def test_jobs_page_and_owners(store: Store) -> None:
    owners = {"ownership": {"owners": [{"name": "team:payments", "type": "MAINTAINER"}]}}
    for name in ("billing_daily", "billing_hourly", "crm_sync"):
        write(store, run_event("START", job=("etl", name), job_facets=owners))
    write(store, run_event("START", job=("other", "billing_x")))
    ids, total = store.jobs_page(None, "BILLING", 2, None)
    assert total == 3 and ids == [job_id("etl", "billing_daily"), job_id("etl", "billing_hourly")]
    ids, _ = store.jobs_page(None, "billing", 2, ids[-1])
    assert ids == [job_id("other", "billing_x")]
    ids, total = store.jobs_page("etl", None, 10, None)
    assert total == 3
    found = store.tags_owners([job_id("etl", "crm_sync"), "job:none:x"])
    assert found[job_id("etl", "crm_sync")][1] == ["team:payments"]
    assert found["job:none:x"] == ([], [])


def test_latest_decisions_for_many_runs(store: Store) -> None:
    def decision(i: int, run: str, verdict: str) -> DecisionRecord:
        return DecisionRecord(f"d{i}", ts(i).replace("Z", "+00:00"), "ci", None, run, verdict,
                              [], [], "rev", "embedded", "x")

    store.log_decision(decision(1, "r1", "deny"))
    store.log_decision(decision(2, "r1", "allow"))
    store.log_decision(decision(3, "r2", "mask"))
    found = store.latest_decisions(["r1", "r2", "r3"])
    assert {k: v.decision for k, v in found.items()} == {"r1": "allow", "r2": "mask"}


def test_the_decision_log_filters_by_verdict_and_principal_in_the_store(store: Store) -> None:
    # A denial older than a page of allows is still found when asking for denials: the
    # filter is the query's, not applied to a page already read.
    def decision(i: int, verdict: str, principal: str) -> DecisionRecord:
        return DecisionRecord(f"f{i:03}", ts(i).replace("Z", "+00:00"), principal, None,
                              f"run-{i}", verdict, [], [], "rev", "embedded", "x")

    store.log_decision(decision(0, "deny", "airflow"))
    for i in range(1, 31):
        store.log_decision(decision(i, "allow", "dbt" if i % 2 else "airflow"))
    assert [d.id for d in store.decisions(10, decision="deny")] == ["f000"]
    assert [d.id for d in store.decisions(3, principal="airflow")] == ["f030", "f028", "f026"]
    assert [d.id for d in store.decisions(5, decision="deny", principal="dbt")] == []
    assert len(store.decisions(50)) == 31
