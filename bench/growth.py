"""How cost grows with the catalog: the synthetic graph (bench/synthetic.py) at several sizes,
and at each size the ingestion rate, lineage and impact latency over HTTP GraphQL, the
server's memory and the store's size.

    .venv/bin/python -m bench.growth [--sizes 10000,100000] [--backends embedded] [--samples 50]

At each size (datasets; half as many jobs, each run once):
- ingestion: events/s through the store's write path (batches of 2,000, no HTTP), over the
  whole load, over its last tenth (the rate once the store is that big), and for that tenth's
  jobs running again with nothing changed (only the runs are new);
- lineage depth 10 downstream of the busiest source table whose whole graph fits the node
  limit (2,000), p50/p95;
- impact analysis of dropping the first column of the biggest hub (what a screen asks: totals
  and first pages), p50/p95, with its downstream edges (the report is cut at 20,000 fields);
- the server's RSS (with its worker processes) after those queries, and the store on disk.

1,000,000 datasets is a benchmark run of its own (`--sizes 1000000`): ~10x the 100k load time
and disk. Prints a table and writes bench/results/growth.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.lineage import IMPACT, LINEAGE, percentiles, timed
from bench.soak import children, rss_mb
from bench.stores import fresh_store, scratch_dir, server_env
from bench.synthetic import FIELDS, NS, events, name
from headwater.catalog import Store
from headwater.catalog.ids import dataset_id
from headwater.ingestion.normalize import normalize
from tests.e2e.conftest import Server, free_port

BATCH = 2000


def load(store: Store, datasets: int) -> dict[str, float]:
    """The whole synthetic graph through ``write_events``; events/s overall and over the last
    tenth of the events."""
    jobs = datasets // 2
    started = time.perf_counter()
    tenth_at, tenth_n = started, 0
    buf: list[Any] = []
    for n, event in enumerate(events(datasets, jobs), 1):
        buf.append(normalize(event))
        if len(buf) == BATCH or n == jobs:
            store.write_events(buf)
            buf = []
            print(f"\r  {n:,}/{jobs:,} events ({time.perf_counter() - started:.0f} s)",
                  end="", file=sys.stderr)
        if n == jobs - jobs // 10:
            tenth_at, tenth_n = time.perf_counter(), n
    took = time.perf_counter() - started
    print(file=sys.stderr)
    # The same jobs running again, nothing about them changed (most of what a scheduler
    # sends): only their runs are new.
    again = [normalize({**e, "run": {"runId": f"10000000-0000-4000-8000-{k:012d}"}})
             for k, e in enumerate(events(datasets, jobs)) if k >= tenth_n]
    repeated = time.perf_counter()
    for i in range(0, len(again), BATCH):
        store.write_events(again[i:i + BATCH])
    repeated = time.perf_counter() - repeated
    return {"events": jobs, "seconds": took, "events_per_s": jobs / took,
            "last_tenth_events_per_s": (jobs - tenth_n) / (started + took - tenth_at),
            "repeated_events_per_s": len(again) / repeated}


def pick_start(store: Store) -> tuple[str, int]:
    """The source table with the most nodes within depth 10, all of them within the limit."""
    best = ("", -1)
    for i in range(0, min(5000, 200 * 7), 7):
        start = dataset_id(NS, name(i))
        g = store.walk(start, "dataset", "DOWNSTREAM", 10, 2000)
        if not g.truncated and len(g.nodes) > best[1]:
            best = (start, len(g.nodes))
    return best


def run(backend: str, datasets: int, samples: int) -> dict[str, Any]:
    tmp = scratch_dir(f"bench-growth-{backend}-")
    env = server_env(backend, tmp)
    store = fresh_store(backend, tmp, env)
    print(f"{backend}, {datasets:,} datasets:", file=sys.stderr)
    result: dict[str, Any] = {"backend": backend, "datasets": datasets,
                              "ingestion": load(store, datasets)}
    start, reach = pick_start(store)
    hub = (NS, name(0), FIELDS[0])
    store.close()
    result["lineage_start_nodes"] = reach
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=120, headers={
                "Authorization": f"Bearer {server.token('viewer')}"}) as c:
            def gql(query: str, **variables: object) -> Any:
                r = c.post("/graphql", json={"query": query, "variables": variables})
                assert not r.json().get("errors"), r.text
                return r.json()["data"]

            result["lineage_depth10"] = percentiles(timed(
                lambda: gql(LINEAGE, id=start, depth=10), samples))
            report = gql(IMPACT, ns=hub[0], name=hub[1], field=hub[2])["impactAnalysis"]
            result["impact_hub_fields"] = report["totals"]["fields"]
            result["impact_hub"] = percentiles(timed(
                lambda: gql(IMPACT, ns=hub[0], name=hub[1], field=hub[2]),
                max(10, samples // 5)))
        assert server.proc is not None
        pid = server.proc.pid
        result["server_rss_mb"] = rss_mb(pid)
        result["workers_rss_mb"] = sum(map(rss_mb, children(pid)))
    finally:
        server.stop()
    if backend == "embedded":
        result["store_mb"] = sum(p.stat().st_size for p in tmp.glob("headwater*.db*")) / 2**20
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--backends", default="embedded")
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()
    out = Path(__file__).parent / "results" / "growth.json"
    out.parent.mkdir(exist_ok=True)
    results = []
    for backend in args.backends.split(","):
        for size in map(int, args.sizes.split(",")):
            results.append(run(backend, size, args.samples))
            out.write_text(json.dumps(results, indent=2))  # each size's numbers as they come
    print("\n| backend | datasets | ingestion events/s (whole / last tenth / repeated) |"
          " lineage d10 p50/p95 (nodes) | impact of the hub p50/p95 (fields) |"
          " server RSS + workers | store |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        i = r["ingestion"]
        store = f"{r['store_mb']:,.0f} MB" if "store_mb" in r else "-"
        print(f"| {r['backend']} | {r['datasets']:,} | {i['events_per_s']:,.0f} / "
              f"{i['last_tenth_events_per_s']:,.0f} / {i['repeated_events_per_s']:,.0f} | "
              f"{r['lineage_depth10']['p50_ms']:.1f} / "
              f"{r['lineage_depth10']['p95_ms']:.1f} ms ({r['lineage_start_nodes']:,}) | "
              f"{r['impact_hub']['p50_ms']:,.0f} / {r['impact_hub']['p95_ms']:,.0f} ms "
              f"({r['impact_hub_fields']:,}) | {r['server_rss_mb']:.0f} + "
              f"{r['workers_rss_mb']:.0f} MB | {store} |")


if __name__ == "__main__":
    main()
