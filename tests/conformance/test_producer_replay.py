"""What real producers sent (tests/data/producers: dbt-ol on the shop project, Airflow's
OpenLineage provider on shop_export), replayed event by event on both stores in several
arrival orders: the catalog is the same whatever the order. Re-record with
`make record-producers`.

Schema-version history is left out of the comparison for now: which event a version is dated
and attributed to still depends on arrival order (issue 17, item 7)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from headwater.catalog import Store
from headwater.catalog.ids import dataset_id, field_id, job_id
from headwater.ingestion.normalize import normalize
from headwater.lineage.impact import SchemaChange, analyse
from tests.conftest import make_store
from tests.harness.producers import NAMES, RECORDINGS

PII_SOURCE = ("duckdb://shop.duckdb", "shop.main.raw_customers", "email")


def recorded() -> list[dict[str, Any]]:
    events = []
    for name in NAMES:
        lines = (RECORDINGS / name / "events.ndjson").read_text().splitlines()
        events += [orjson.loads(line) for line in lines]
    return events


def orders(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """As sent, reversed, and a few seeded shuffles (the seed names the order, to replay it)."""
    found = {"original": events, "reversed": events[::-1]}
    for seed in (1, 7, 2026):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        found[f"shuffle-{seed}"] = shuffled
    return found


def replay(store: Store, events: list[dict[str, Any]]) -> None:
    for event in events:  # one write per event: each arrives on its own, as over HTTP
        store.write_events([normalize(event)])


def catalog(store: Store, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user reads: datasets with their fields and quality results, jobs with their
    inputs, outputs and runs (final state and error), column lineage, inherited PII."""
    dataset_ids, total = store.datasets_page(None, None, None, 1000, None)
    assert total == len(dataset_ids)
    fields = store.fields(dataset_ids)
    datasets, field_ids = {}, []
    for record in store.datasets_by_id(dataset_ids):
        assert record is not None
        field_ids += [field_id(record.namespace, record.name, f.name)
                      for f in fields.get(record.id, [])]
        datasets[record.id] = {
            "fields": [(f.name, f.type, f.description, sorted(f.classifications))
                       for f in fields.get(record.id, [])],
            "meta": (record.description, sorted(record.tags), sorted(record.owners),
                     record.lifecycle_state, record.updated_at, record.facets),
            "quality": sorted((q.assertion, q.field or "", q.success, q.run_id or "",
                               q.observed_at, q.source)
                              for q in store.quality_results(record.id, first=100)),
        }
    job_ids = sorted({job_id(e["job"]["namespace"], e["job"]["name"]) for e in events})
    flows = store.job_datasets(job_ids)
    job_facets = {j.id: (j.description, j.job_type, j.sql, j.updated_at, j.facets)
                  for j in store.jobs_by_id(job_ids) if j is not None}
    jobs = {j: {"meta": job_facets[j], "inputs": sorted(flows.get(j, ([], []))[0]),
                "outputs": sorted(flows.get(j, ([], []))[1]),
                "runs": sorted((r.id, r.state, r.error_message or "", r.parent_run_id or "",
                                r.started_at or "", r.ended_at or "", r.nominal_start or "",
                                orjson.dumps(r.facets, option=orjson.OPT_SORT_KEYS))
                               for r in store.runs(j, first=100))}
            for j in job_ids}
    column_edges = set()
    for f in field_ids:
        graph = store.walk(f, "column", "UPSTREAM", 1, 1000)
        column_edges |= {(e.source, e.target, e.transformation or "") for e in graph.edges}
    return {"datasets": datasets, "jobs": jobs, "column_edges": sorted(column_edges),
            "inherited": store.inherited_classifications(field_ids),
            "schema_history": {d: [(v.version, v.created_at, v.run_id,
                                    [f.name for f in v.fields]) for v in
                                   store.schema_versions(d, first=100)] for d in dataset_ids}}


# Compared in every order, schema history included: each version is dated and attributed to the
# earliest event (by event time) that showed its schema, whatever arrived first.
COMPARED = ("datasets", "jobs", "column_edges", "inherited", "schema_history")


def test_the_catalog_does_not_depend_on_arrival_order(backend: str, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    events = recorded()
    assert len(events) >= 20 and {e["eventType"] for e in events} >= {"START", "COMPLETE", "FAIL"}
    seen: dict[str, dict[str, Any]] = {}
    for label, ordered in orders(events).items():
        store = make_store(backend, tmp_path / label, request)
        try:
            replay(store, ordered)
            store.classify_field(dataset_id(*PII_SOURCE[:2]), PII_SOURCE[2], ["pii.email"])
            seen[label] = catalog(store, events)
        finally:
            store.close()
    first = seen["original"]
    # The recordings hold what the tests assert elsewhere: sanity, so an empty catalog cannot
    # pass as "the same in every order".
    assert len(first["datasets"]) == 7 and len(first["jobs"]) >= 10
    assert first["column_edges"] and first["inherited"]
    for label, other in seen.items():
        for part in COMPARED:
            assert other[part] == first[part], f"{part} differ between original and {label}"


def test_a_check_repeated_in_a_run_keeps_its_latest_result(backend: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """dbt-ol sends each test's assertions on the test run's START and again on its end: the
    later one is the result, whichever arrives first."""
    (start,) = [e for e in recorded() if e["eventType"] == "START"
                and e["job"]["name"].endswith("stg_customers.test")]
    (end,) = [e for e in recorded() if e["eventType"] == "FAIL"
              and e["job"]["name"].endswith("stg_customers.test")]
    start = orjson.loads(orjson.dumps(start))
    for assertion in start["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]:
        assertion["success"] = True  # not yet failed when the run started
    stg = dataset_id("duckdb://shop.duckdb", "shop.main.stg_customers")
    for label, ordered in {"in order": [start, end], "end first": [end, start]}.items():
        store = make_store(backend, tmp_path / label.replace(" ", "-"), request)
        try:
            replay(store, ordered)
            email = [q for q in store.quality_results(stg) if q.field == "email"]
            assert [(q.success, q.observed_at[:19]) for q in email] == [
                (False, end["eventTime"][:19])], label
        finally:
            store.close()


def two_tests_of_one_kind() -> dict[str, Any]:
    """The recorded stg_customers test run, with a second ``not_null`` test on ``email`` (a
    ``where`` config makes it another test; dbt-ol names each one)."""
    (end,) = [e for e in recorded() if e["eventType"] == "FAIL"
              and e["job"]["name"].endswith("stg_customers.test")]
    end = orjson.loads(orjson.dumps(end))
    for assertions in assertion_lists(end):
        assertions.append({"assertion": "not_null", "column": "email", "success": True,
                           "name": "not_null_stg_customers_email__active", "params": {}})
    return end


def assertion_lists(event: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """dbt-ol sends the assertions twice: as a dataset facet and as an input facet."""
    d = event["inputs"][0]
    return [d[kind]["dataQualityAssertions"]["assertions"] for kind in ("facets", "inputFacets")
            if "dataQualityAssertions" in d.get(kind, {})]


def test_every_dbt_test_is_its_own_result(store: Store) -> None:
    """Two tests of one kind on one column are two results, each under its own name, in the
    results and in the latest status; a check without a name keeps one result per kind."""
    end = two_tests_of_one_kind()
    store.write_events([normalize(end)])
    stg = dataset_id("duckdb://shop.duckdb", "shop.main.stg_customers")
    email = sorted((q.name, q.success) for q in store.quality_results(stg) if q.field == "email")
    assert email == [("not_null_stg_customers_email", False),
                     ("not_null_stg_customers_email__active", True)]
    latest = sorted((q.name, q.success) for q in store.latest_quality([stg])[stg]
                    if q.field == "email")
    assert latest == email
    # Both are checks a change to the column breaks.
    report = analyse(store, SchemaChange("duckdb://shop.duckdb", "shop.main.stg_customers",
                                         drop_fields=["email"]))
    assert sorted((c.check_name, c.last_success) for c in report.affected_checks
                  if c.field == "email") == email
    # Without names (another producer), the same two assertions are one result, as always.
    for a in (a for found in assertion_lists(end) for a in found):
        del a["name"]
    end["run"]["runId"] = "00000000-0000-4000-8000-000000000077"
    store.write_events([normalize(end)])
    unnamed = [q for q in store.quality_results(stg, run_id=end["run"]["runId"])
               if q.field == "email"]
    assert [(q.name, q.assertion) for q in unnamed] == [(None, "not_null")]
