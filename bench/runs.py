"""Run lists: the first page of ``runs(jobNamespace, jobName)`` for a job with 10,000 runs
(among 20,000 runs of other jobs), and a page deep in the list by cursor, through HTTP
GraphQL on both backends.

    .venv/bin/python -m bench.runs [--backends embedded,neo4j] [--runs 10000] [--samples 200]

Prints a table and writes bench/results/runs.json. Target: first page p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.lineage import percentiles, timed  # noqa: E402
from bench.stores import fresh_store, scratch_dir, server_env  # noqa: E402
from headwater.catalog import Store  # noqa: E402
from headwater.ingestion.normalize import normalize  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402

JOB = ("airflow", "shop_dag.load_orders")
START = datetime(2024, 1, 1, tzinfo=UTC)
PAGE = """query($ns: String!, $name: String!, $after: String) {
  runs(jobNamespace: $ns, jobName: $name, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id state startedAt endedAt durationMs errorMessage
                   attempts { number state } } } } }"""


def event(event_type: str, run_id: str, job: tuple[str, str], second: int) -> dict[str, object]:
    t = (START + timedelta(seconds=second)).isoformat()
    return {"eventType": event_type, "eventTime": t, "producer": "https://bench",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id, "facets": {}},
            "job": {"namespace": job[0], "name": job[1], "facets": {}},
            "inputs": [], "outputs": []}


def load(store: Store, runs: int, others: int) -> None:
    """``runs`` runs of JOB, an hour apart (every 10th retried once), and ``others`` runs of
    20 other jobs; START and COMPLETE (or FAIL, START, COMPLETE) each."""
    batch: list[dict[str, object]] = []

    def flush() -> None:
        store.write_events([normalize(e) for e in batch])
        batch.clear()

    for i in range(runs + others):
        job = JOB if i < runs else ("airflow", f"other_{i % 20}")
        run_id, t = str(uuid.uuid4()), (i % runs if i < runs else i - runs) * 3600
        if i % 10 == 0:
            batch += [event("START", run_id, job, t), event("FAIL", run_id, job, t + 60),
                      event("START", run_id, job, t + 120)]
        else:
            batch.append(event("START", run_id, job, t))
        batch.append(event("COMPLETE", run_id, job, t + 600))
        if len(batch) >= 1000:
            flush()
    flush()


def run(backend: str, samples: int, runs: int) -> dict[str, object]:
    tmp = scratch_dir(f"bench-runs-{backend}-")
    env = server_env(backend, tmp)
    store = fresh_store(backend, tmp, env)
    print(f"{backend}: loading {runs:,} runs of one job and {2 * runs:,} of others",
          file=sys.stderr)
    load(store, runs, 2 * runs)
    store.close()
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    result: dict[str, object] = {"backend": backend, "job_runs": runs, "other_runs": 2 * runs}
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers={
                "Authorization": f"Bearer {server.token('viewer')}"}) as c:
            def page(after: str | None) -> dict[str, object]:
                r = c.post("/graphql", json={"query": PAGE, "variables": {
                    "ns": JOB[0], "name": JOB[1], "after": after}})
                body = r.json()
                assert not body.get("errors"), r.text
                return body["data"]["runs"]  # type: ignore[no-any-return]

            first = page(None)
            assert first["totalCount"] == runs, first["totalCount"]
            result["first_page"] = percentiles(timed(lambda: page(None), samples))
            cursor = None
            for _ in range(100):  # the 101st page: 5,000 runs in
                cursor = page(cursor)["pageInfo"]["endCursor"]  # type: ignore[index]
            result["page_101"] = percentiles(timed(lambda: page(cursor), samples))
    finally:
        server.stop()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="embedded,neo4j")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--runs", type=int, default=10_000)
    args = ap.parse_args()
    out = Path(__file__).parent / "results" / "runs.json"
    out.parent.mkdir(exist_ok=True)
    results = []
    for b in args.backends.split(","):
        results.append(run(b, args.samples, args.runs))
        out.write_text(json.dumps(results, indent=2))
    print("\n| backend | runs of the job (others) | first page p50/p95 | page 101 p50/p95 |")
    print("|---|---|---|---|")
    for r in results:
        f, d = r["first_page"], r["page_101"]
        print(f"| {r['backend']} | {r['job_runs']:,} ({r['other_runs']:,}) |"  # type: ignore[index]
              f" {f['p50_ms']:.1f} / {f['p95_ms']:.1f} ms |"  # type: ignore[index]
              f" {d['p50_ms']:.1f} / {d['p95_ms']:.1f} ms |")  # type: ignore[index]


if __name__ == "__main__":
    main()
