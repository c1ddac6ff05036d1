"""Erasure discovery and planning in the 100,000-dataset synthetic graph.

    .venv/bin/python -m bench.erasure_plan [--backends embedded,neo4j] [--runs 5]

The subject's identifier (``pii.email``) is classified in a few source tables; the planner
finds every field holding it (directly or through column lineage), every dataset derived from
them, asks the policy for all of them at once and orders the tasks. Prints the time per phase
and the plan's size; writes bench/results/erasure_plan.json. Target: ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import scratch_dir  # noqa: E402
from bench.synthetic import NS, load, name  # noqa: E402
from headwater.catalog import Store, open_store  # noqa: E402
from headwater.catalog.ids import dataset_id  # noqa: E402
from headwater.policies.engine import EmbeddedEngine  # noqa: E402
from headwater.policies.erasure import planner  # noqa: E402
from headwater.policies.erasure.connectors import Connectors  # noqa: E402

# Source tables (layer 0) where the subject's e-mail is classified: mid-sized fan-out, not the
# few mega-hubs (table_0 … table_50 feed a large share of the whole graph).
HOLDERS = [812, 1907, 2650, 3388, 4721]


def open_backend(backend: str, tmp: Path) -> Store:
    if backend == "embedded":
        return open_store("embedded", path=tmp / "headwater.db")
    from tests.conftest import _wipe_neo4j
    from tests.harness.services import ensure_neo4j

    env = ensure_neo4j().env
    _wipe_neo4j(env)
    return open_store("neo4j", uri=env["HEADWATER_NEO4J_URI"],
                      user=env.get("HEADWATER_NEO4J_USER"),
                      password=env.get("HEADWATER_NEO4J_PASSWORD"))


def run(backend: str, runs: int, datasets: int, jobs: int) -> dict[str, float]:
    tmp = scratch_dir("bench-erasure-")
    store = open_backend(backend, tmp)
    print(f"{backend}: generating {datasets:,} datasets / {jobs:,} jobs", file=sys.stderr)
    load(store, datasets, jobs)
    for i in HOLDERS:
        store.classify_field(dataset_id(NS, name(i)), "email", ["pii.email"])
    engine, connectors = EmbeddedEngine(), Connectors.load(None)
    timings: dict[str, list[float]] = {"holders": [], "derived": [], "plan": []}
    tasks = []
    for _ in range(runs):
        t0 = time.perf_counter()
        holders = store.classification_holders(["pii.email"])
        t1 = time.perf_counter()
        store.downstream_dataset_edges(sorted({h[0] for h in holders}))
        t2 = time.perf_counter()
        tasks = planner.plan(store, engine, connectors, ["email"])
        t3 = time.perf_counter()
        timings["holders"].append(t1 - t0)
        timings["derived"].append(t2 - t1)
        timings["plan"].append(t3 - t2)
    store.close()
    return {"holder_fields": len(holders), "tasks": len(tasks),
            "review_tasks": sum(t.status == "review" for t in tasks),
            **{f"{k}_p50_ms": statistics.median(v) * 1000 for k, v in timings.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="embedded,neo4j")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--datasets", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=50_000)
    args = ap.parse_args()
    results = {b: run(b, args.runs, args.datasets, args.jobs) for b in args.backends.split(",")}
    out = Path(__file__).parent / "results" / "erasure_plan.json"
    out.write_text(json.dumps(results, indent=2))
    print("\n| backend | fields holding the subject | tasks (review) | holders query | derived "
          "query | whole plan |")
    print("|---|---|---|---|---|---|")
    for b, r in results.items():
        print(f"| {b} | {r['holder_fields']:,} | {r['tasks']:,} ({r['review_tasks']:,}) | "
              f"{r['holders_p50_ms']:.0f} ms | {r['derived_p50_ms']:.0f} ms | "
              f"{r['plan_p50_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
