"""Unchanged facts are not written again (catalog/facts.py), and nothing a user reads shows it:
one workload (the benchmark's warehouse: jobs run again and again with the same facts, some
runs changing them, some events late, steward edits between, plus what real producers sent)
replayed with the skip on and with it off gives the same catalog, on both stores."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.workload import Warehouse
from headwater.catalog import Store
from headwater.catalog.ids import field_id
from headwater.catalog.search import search
from headwater.ingestion.normalize import normalize
from tests.conformance.test_aliases import (
    DUCK,
    HIVE,
    LAKE,
    LOCATION,
    TABLE,
    declaring,
    location_only,
)
from tests.conftest import make_store
from tests.factories import dataset, run_event, schema, ts
from tests.harness.producers import NAMES, RECORDINGS

SEARCHES = ["table", "table_3", "col_2", "task", "dag", "gold", "pii", "email",
            "customers", "orders", "stewarded"]


def producers() -> list[dict[str, Any]]:
    return [orjson.loads(line) for name in NAMES
            for line in (RECORDINGS / name / "events.ndjson").read_text().splitlines()]


def workload() -> list[dict[str, Any]]:
    """Each of 10 jobs run ~12 times; some runs change what they say (a column, a description,
    a tag, an owner, a masking derivation, a dropped table), some carry per-run facets, some
    events arrive late; then what dbt-ol and Airflow sent."""
    wh = Warehouse(datasets=30, jobs=10, seed=3)
    events = list(wh.events(240))
    rng = random.Random(5)
    for i, e in enumerate(events):
        run = i // 2
        out = e["outputs"][0]
        facets = out["facets"]
        if run % 7 == 3:  # a schema change, kept by the later runs of the same job
            facets["schema"] = {**facets["schema"],
                                "fields": [*facets["schema"]["fields"], {"name": "added",
                                                                         "type": "varchar"}]}
        if run % 11 == 5:
            facets["documentation"] = {**facets["schema"], "description": f"gold table {run}"}
        if run % 13 == 4:
            facets["tags"] = {**facets["schema"], "tags": [
                {"key": "tier", "value": "gold"}, {"key": "classification", "value": "pii.email",
                                                   "field": "col_0"}]}
            e["job"]["facets"]["ownership"] = {**facets["schema"],
                                               "owners": [{"name": f"team-{run % 3}"}]}
        if run % 17 == 9 and "columnLineage" in facets:
            for entry in facets["columnLineage"]["fields"].values():
                for src in entry["inputFields"]:
                    src["transformations"] = [{"type": "DIRECT", "subtype": "TRANSFORMATION",
                                               "masking": True}]
        if run % 19 == 2:
            facets["lifecycleStateChange"] = {**facets["schema"],
                                              "lifecycleStateChange": "OVERWRITE"}
        if run % 5 == 1:  # per-run facets: statistics, a version, a check
            out["outputFacets"] = {"outputStatistics": {**facets["schema"], "rowCount": run}}
            facets["version"] = {**facets["schema"], "datasetVersion": str(run)}
            e["inputs"][0]["inputFacets"] = {"dataQualityAssertions": {
                **facets["schema"], "assertions": [{"assertion": "not_null", "column": "col_0",
                                                    "success": run % 2 == 0}]}}
    # Late events: a few stretches arrive reversed, a few single events much later.
    for start in (40, 120, 200):
        events[start:start + 12] = events[start:start + 12][::-1]
    late = [events.pop(rng.randrange(len(events))) for _ in range(8)]
    events[180:180] = late
    return orjson.loads(orjson.dumps(events)) + producers()


def reruns(events: list[dict[str, Any]], times: int = 3) -> list[dict[str, Any]]:
    """Each job's newest run, run again ``times`` times later: new runs, the same facts."""
    newest: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in sorted(events, key=lambda e: e["eventTime"]):
        if "run" in e and "job" in e:
            runs = newest.setdefault((e["job"]["namespace"], e["job"]["name"]), [])
            if runs and runs[-1]["run"]["runId"] != e["run"]["runId"]:
                runs.clear()
            runs.append(e)
    out = []
    for k in range(times):
        for i, run in enumerate(newest.values()):
            for e in run:
                e = orjson.loads(orjson.dumps(e))
                e["run"]["runId"] = f"00000000-0000-4000-8000-{k:04d}{i:08d}"
                e["eventTime"] = f"2027-01-0{k + 1}T{e['eventTime'][11:]}"
                out.append(e)
    return out


def replay(store: Store, events: list[dict[str, Any]]) -> None:
    """One at a time and in batches of every size, with steward edits in between."""
    writes = [normalize(e) for e in events]
    sizes = [1, 1, 3, 25, 1, 7, 60]
    i = k = 0
    while i < len(writes):
        n = sizes[k % len(sizes)]
        store.write_events(writes[i:i + n])
        i, k = i + n, k + 1
        if k == 12:  # a steward removes a tag events say, classifies a field, tags a table
            tagged = next(d for e in writes[:i] for d in e.outputs if d.tags)
            store.tag_dataset(tagged.id, tagged.tags, add=False)
            store.classify_field(tagged.id, "col_1", ["pii.name"])
            store.tag_dataset(tagged.id, ["stewarded"])


def catalog(store: Store) -> dict[str, Any]:
    """Everything a user reads of the catalog."""
    ids, total = store.datasets_page(None, None, None, 1000, None)
    assert total == len(ids)
    fields = store.fields(ids)
    datasets, field_ids = {}, []
    for d in store.datasets_by_id(ids):
        assert d is not None
        field_ids += [field_id(d.namespace, d.name, f.name) for f in fields.get(d.id, [])]
        datasets[d.id] = {
            "record": (d.namespace, d.name, d.description, sorted(d.tags), sorted(d.owners),
                       d.retention_days, d.lifecycle_state, d.lifecycle_at, d.updated_at,
                       d.facets),
            "fields": [(f.name, f.type, f.description, sorted(f.classifications),
                        f.learned_from) for f in fields.get(d.id, [])],
            "history": [(v.version, v.created_at, v.run_id,
                         [(f.name, f.type, f.description) for f in v.fields])
                        for v in store.schema_versions(d.id, first=1000)],
            "quality": sorted((q.assertion, q.field or "", q.success, q.run_id or "",
                               q.observed_at, q.source, orjson.dumps(q.value))
                              for q in store.quality_results(d.id, first=1000)),
            "jobs": store.dataset_jobs([d.id]).get(d.id),
            "lineage": _graph(store, d.id, "dataset"),
        }
    job_ids, jobs_total = store.jobs_page(None, None, 1000, None)
    assert jobs_total == len(job_ids)
    jobs = {}
    for j in store.jobs_by_id(job_ids):
        assert j is not None
        runs = store.runs(j.id, first=1000)
        jobs[j.id] = {
            "record": (j.namespace, j.name, j.description, j.job_type, j.sql, j.updated_at,
                       j.facets),
            "io": store.job_datasets([j.id]).get(j.id),
            "flows": sorted((f.source_dataset, f.source_field, f.target_dataset,
                             f.target_field, f.transformation, f.masking)
                            for f in store.job_flows(j.id)),
            "runs": [(r.id, r.state, r.started_at, r.ended_at, r.error_message,
                      r.parent_run_id, r.nominal_start, r.nominal_end, r.facets,
                      sorted(r.tags), r.created_at) for r in runs],
            "run_datasets": {run: [sorted((x.dataset_id, x.version or 0, orjson.dumps(
                x.facets, option=orjson.OPT_SORT_KEYS)) for x in side) for side in found]
                for run, found in store.run_datasets([r.id for r in runs]).items()},
        }
    return {
        "datasets": datasets, "jobs": jobs, "namespaces": sorted(store.namespaces()),
        "column_lineage": {f: _graph(store, f, "column") for f in field_ids},
        "inherited": store.inherited_classifications(field_ids),
        # Hits with their tier; within a tier Neo4j's full-text index orders ties as its
        # segments fall, which two databases built alike need not share.
        "search": {q: (page.total, sorted((h.score, h.type, h.id, h.field or "", h.matched,
                                           h.highlight) for h in page.hits))
                   for q in SEARCHES for page in [search(store, q, first=100)]},
        "events": store.event_count(),
    }


def _graph(store: Store, start: str, level: str) -> Any:
    out = []
    for direction in ("UPSTREAM", "DOWNSTREAM"):
        g = store.walk(start, level, direction, 3, 1000)
        out.append((sorted((n.id, n.depth) for n in g.nodes),
                    sorted((e.source, e.target, e.transformation or "") for e in g.edges)))
    return out


def count_statements(store: Store) -> list[int] | None:
    """Statements the embedded store's writer runs from now on (each row of a batched one
    counts), as SQLite traces them."""
    writer = getattr(store, "_writer", None)
    if writer is None:
        return None
    counted = [0]

    def count(_: str) -> None:
        counted[0] += 1

    writer.set_trace_callback(count)
    return counted


def test_skipping_unchanged_facts_leaves_the_catalog_as_writing_them_does(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    events = workload()
    again = reruns(events)
    seen, changes = {}, {}
    for label, skip in (("skip", True), ("write-all", False)):
        store = make_store(backend, tmp_path / label, request)
        try:
            store.skip_unchanged = skip  # type: ignore[attr-defined]
            replay(store, events)
            counted = count_statements(store)
            replay(store, again)
            changes[label] = counted[0] if counted else None
            seen[label] = catalog(store)
        finally:
            store.close()
    fast, slow = seen["skip"], seen["write-all"]
    # Sanity: a catalog worth comparing (history, changes, lineage, checks, hits).
    assert len(fast["datasets"]) >= 20 and len(fast["jobs"]) >= 20
    assert any(len(d["history"]) > 1 for d in fast["datasets"].values())
    assert any(d["quality"] for d in fast["datasets"].values())
    assert fast["column_lineage"] and fast["inherited"] and fast["search"]["table"][0]
    assert all(total <= 100 for total, _ in fast["search"].values())  # every hit compared
    for part in fast:
        assert fast[part] == slow[part], f"{part} differ with and without the skip"
    if changes["skip"] is not None:
        # What the skip is for: what runs repeat is not written again.
        assert changes["skip"] < 0.8 * changes["write-all"], changes



def test_an_event_repeated_after_an_alias_merge_writes_as_without_the_skip(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A merge (catalog/aliases.py) rewrites the table it merges a location into and the jobs
    whose edges move: events repeated afterwards, naming the table or the location, give the
    same catalog with the skip on as off."""
    def table(second: int, run: int) -> dict[str, Any]:
        """A job that writes the table under its own name (its digest kept), and reads it
        into the export with the column lineage the location's reader states too."""
        return run_event("COMPLETE", job=("hive", "direct"), time=ts(second),
                         run_id=f"00000000-0000-4000-8000-{run:012d}",
                         inputs=[dataset(HIVE, TABLE)],
                         outputs=[dataset(HIVE, TABLE, s=schema("id", "email"),
                                          d={"documentation": {"description": "the table"}}),
                                  dataset(DUCK, "export", s=schema("email", "phone"), c={
                                      "columnLineage": {"fields": {"email": {"inputFields": [
                                          {"namespace": HIVE, "name": TABLE, "field": "email",
                                           "transformations": []}]}}}})])

    def located(second: int, run: int) -> list[dict[str, Any]]:
        out = location_only()
        out[1]["outputs"][0]["facets"]["documentation"] = {"description": "the location"}
        for k, e in enumerate(out):
            e["eventTime"] = ts(second + k)
            e["run"]["runId"] = f"00000000-0000-4000-8001-{run + k:012d}"
        return out

    def declares(second: int, run: int) -> dict[str, Any]:
        e = declaring()
        e["eventTime"], e["run"]["runId"] = ts(second), f"00000000-0000-4000-8002-{run:012d}"
        return e

    seen = {}
    for label, skip in (("skip", True), ("write-all", False)):
        store = make_store(backend, tmp_path / label, request)
        try:
            store.skip_unchanged = skip  # type: ignore[attr-defined]
            for batch in ([table(1, 1)], [declares(1, 1)]):  # the table keeps its digest
                store.write_events([normalize(e) for e in batch])
            # The location written as a dataset of its own after its declaration (a second
            # Neo4j writer racing the declaring batch did not see the alias yet) ...
            if backend == "embedded":
                store._edit(("DELETE FROM dataset_aliases", ()))  # type: ignore[attr-defined]
            else:
                store._edit("MATCH (a:DatasetAlias) DELETE a")  # type: ignore[attr-defined]
            store.write_events([normalize(e) for e in located(2, 1)])
            assert store.dataset(LAKE, LOCATION) is not None
            # ... merged by the next declaration, the same facts again; then repeats.
            store.write_events([normalize(declares(4, 2))])
            assert store.dataset(LAKE, LOCATION) is None
            merged = catalog(store)
            for batch in ([table(5, 2)], located(6, 3), [table(8, 3), *located(9, 5)]):
                store.write_events([normalize(e) for e in batch])
            seen[label] = {"merged": merged, "repeated": catalog(store)}
        finally:
            store.close()
    for when, fast in seen["skip"].items():
        for part in fast:
            assert fast[part] == seen["write-all"][when][part], f"{part} differ {when}"
