"""Lineage query latency on a 100,000-dataset synthetic graph, through HTTP GraphQL, on both
backends, next to the same traversal written by hand straight on the database.

    .venv/bin/python bench/lineage.py [--backends embedded,neo4j] [--samples 200] [--reuse]

Loading the graph into Neo4j takes ~10 minutes: with ``HEADWATER_NEO4J_URI`` naming a Neo4j
kept running (``python -m tests.harness.services up`` writes its settings), ``--reuse`` loads
it once and later runs measure the graph already there.

Prints a table and writes bench/results/lineage.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import fresh_store, scratch_dir, server_env  # noqa: E402
from bench.synthetic import FIELDS, NS, load, name  # noqa: E402
from headwater.catalog import Store  # noqa: E402
from headwater.catalog.ids import dataset_id, field_id  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402

LINEAGE = """query($id: ID!, $depth: Int!) { lineage(nodeId: $id, direction: DOWNSTREAM,
  depth: $depth) { nodes { id depth } edges { source target } truncated } }"""
# What a screen or the CLI asks for: the totals and the first page (100) of each list.
IMPACT = """query($ns: String!, $name: String!, $field: String!) { impactAnalysis(change: {
  namespace: $ns, name: $name, dropFields: [$field]}) { breaking findings
  totals { fields datasets jobs checks } affectedFields { field depth path }
  affectedDatasets { name depth owners } affectedJobs { id }
  affectedChecks { name field assertion lastSuccess } } }"""
COLUMN = """query($ns: String!, $name: String!, $field: String!) { columnLineage(namespace: $ns,
  name: $name, field: $field, direction: DOWNSTREAM, depth: 10) {
  nodes { id depth } edges { source target transformation } truncated } }"""


def percentiles(samples: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples, n=100)
    return {"p50_ms": qs[49] * 1000, "p95_ms": qs[94] * 1000}


def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def raw_query(store: Store, backend: str) -> Callable[[str, int], int]:
    """The traversal as one hand-written query, for the overhead ratio."""
    if backend == "embedded":
        db = store._db  # type: ignore[attr-defined]

        def sqlite(start: str, depth: int) -> int:
            return len(db.execute(
                "WITH RECURSIVE walk(node, depth) AS (SELECT ?, 0 UNION SELECT e.dst, w.depth + 1"
                " FROM walk w JOIN edges e ON e.src = w.node WHERE w.depth < ?)"
                " SELECT node, min(depth) FROM walk GROUP BY node", (start, depth)).fetchall())
        return sqlite

    driver = store._driver  # type: ignore[attr-defined]

    def cypher(start: str, depth: int) -> int:
        records, _, _ = driver.execute_query(
            "MATCH p = (s {id: $id})-[:INPUT_TO|PRODUCES*0.." + str(depth) + "]->(n)"
            " RETURN n.id AS id, min(length(p)) AS d", id=start)
        return len(records)
    return cypher


def pick_start(store: Store) -> str:
    """A source table with 500 to 2,000 nodes reachable within depth 10: a busy table whose
    whole downstream graph fits the default node limit (hubs reaching most of the graph are
    answered truncated, and measured by the raw-query column as well)."""
    for i in range(0, 5000, 7):
        start = dataset_id(NS, name(i))
        g = store.walk(start, "dataset", "DOWNSTREAM", 10, 2000)
        if len(g.nodes) >= 500 and not g.truncated:
            return start
    raise SystemExit("no start node with 500-2,000 reachable nodes: the generator changed?")


def pick_impact_fields(store: Store) -> list[tuple[str, str, str, int]]:
    """Two source columns: the one with the fewest downstream column edges at or above 10,000
    whose whole downstream fits the report (the issue's case), and the largest (a hub whose
    downstream is most of the graph: its report is cut at 20,000 fields)."""
    found = []
    for i in range(0, 30):
        for f in FIELDS[:3]:
            g = store.walk(field_id(NS, name(i), f), "column", "DOWNSTREAM", 20, 20_000)
            if len(g.edges) >= 10_000:
                found.append((g.truncated, len(g.edges), (NS, name(i), f, len(g.edges))))
    complete = sorted(x for x in found if not x[0])
    largest = max(found, key=lambda x: x[1], default=None)
    if not complete or largest is None:
        raise SystemExit("no column with >= 10,000 downstream edges: the generator changed?")
    return [complete[0][2], largest[2]]


def loaded(store: Store, datasets: int) -> bool:
    """Whether a Neo4j store holds the generated graph already (its last dataset is there)."""
    return bool(store._read("MATCH (d:Dataset {id: $id}) RETURN 1 AS x",  # type: ignore[attr-defined]
                            id=dataset_id(NS, name(datasets - 1))))


def run(backend: str, samples: int, datasets: int, jobs: int, reuse: bool = False
        ) -> dict[str, object]:
    tmp = scratch_dir(f"bench-lineage-{backend}-")
    env = server_env(backend, tmp)
    reuse = reuse and backend == "neo4j"
    store = fresh_store(backend, tmp, env, wipe=not reuse)
    if reuse and loaded(store, datasets):
        print(f"{backend}: measuring the graph already loaded", file=sys.stderr)
    else:
        if reuse:
            store.close()
            store = fresh_store(backend, tmp, env)
        print(f"{backend}: generating {datasets:,} datasets / {jobs:,} jobs", file=sys.stderr)
        load(store, datasets, jobs)
    start = pick_start(store)
    reach10 = len(store.walk(start, "dataset", "DOWNSTREAM", 10, 100_000).nodes)
    col_start = (NS, name(int(start.rsplit("_", 1)[1])), FIELDS[0])
    col_reach = len(store.walk(field_id(*col_start), "column", "DOWNSTREAM", 10, 100_000).nodes)
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    result: dict[str, object] = {"backend": backend, "start": start, "reachable_depth10": reach10,
                                 "column_reachable_depth10": col_reach}
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers={
                "Authorization": f"Bearer {server.token('viewer')}"}) as c:
            def gql(query: str, **variables: object) -> Callable[[], object]:
                def call() -> object:
                    r = c.post("/graphql", json={"query": query, "variables": variables})
                    assert not r.json().get("errors"), r.text
                    return r
                return call
            def measure(key: str, fn: Callable[[], object], n: int) -> None:
                try:
                    result[key] = percentiles(timed(fn, n))
                except httpx.TimeoutException:  # reported, not fatal: the other numbers stand
                    result[key] = {"error": "timed out after 60 s"}

            for depth in (5, 10):
                measure(f"lineage_depth{depth}", gql(LINEAGE, id=start, depth=depth), samples)
            measure("columnLineage_depth10",
                    gql(COLUMN, ns=col_start[0], name=col_start[1], field=col_start[2]), samples)
            (ins, iname, ifield, iedges), hub = pick_impact_fields(store)
            result["impact_downstream_edges"] = iedges
            measure("impactAnalysis", gql(IMPACT, ns=ins, name=iname, field=ifield),
                    max(20, samples // 10))
            result["impact_hub_downstream_edges"] = hub[3]
            measure("impactAnalysis_hub", gql(IMPACT, ns=hub[0], name=hub[1], field=hub[2]),
                    max(10, samples // 20))
        raw = raw_query(store, backend)
        result["raw_depth10"] = percentiles(timed(lambda: raw(start, 10), samples))
    finally:
        server.stop()
        store.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="embedded,neo4j")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--datasets", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=50_000)
    ap.add_argument("--reuse", action="store_true",
                    help="Neo4j: measure the graph already loaded (load it if absent)")
    args = ap.parse_args()
    out = Path(__file__).parent / "results" / "lineage.json"
    out.parent.mkdir(exist_ok=True)
    results = []
    for b in args.backends.split(","):
        results.append(run(b, args.samples, args.datasets, args.jobs, args.reuse))
        out.write_text(json.dumps(results, indent=2))  # each backend's numbers as they come
    print("\n| backend | reachable (depth 10) | lineage d5 p50/p95 | lineage d10 p50/p95 |"
          " columnLineage d10 p50/p95 | raw query d10 p50/p95 | impactAnalysis p50/p95 |"
          " impactAnalysis of the hub p50/p95 |")
    print("|---|---|---|---|---|---|---|---|")
    def pp(r: dict[str, object], key: str) -> str:
        v = r[key]
        if "error" in v:  # type: ignore[operator]
            return str(v["error"])  # type: ignore[index]
        return f"{v['p50_ms']:.1f} / {v['p95_ms']:.1f} ms"  # type: ignore[index]

    for r in results:
        print(f"| {r['backend']} | {r['reachable_depth10']} | {pp(r, 'lineage_depth5')} | "
              f"{pp(r, 'lineage_depth10')} | {pp(r, 'columnLineage_depth10')} | "
              f"{pp(r, 'raw_depth10')} | {pp(r, 'impactAnalysis')}"
              f" ({r['impact_downstream_edges']} edges) | {pp(r, 'impactAnalysis_hub')}"
              f" ({r['impact_hub_downstream_edges']} edges, report cut at 20,000 fields) |")


if __name__ == "__main__":
    main()
