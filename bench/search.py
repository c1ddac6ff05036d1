"""Catalog search latency on the 100k-dataset synthetic graph (``bench/synthetic.py``): p50
and p95 of one page (20 hits, with the total count) for one-word and prefix queries, through
the read service (``catalog.search.search``), on each backend.

    .venv/bin/python bench/search.py [--backends embedded,neo4j] [--datasets 100000] [--bulk]

``--bulk`` writes the graph's search documents straight into the index, in transactions of
5,000, through the store's own document writer (``write_docs``, what ingestion's re-indexing
calls) and document builders (``catalog.search``): the same nodes, properties and indexes as
ingestion, without the rest of the catalog, which search never reads. Loading 100,000
datasets through ingestion takes over half an hour on Neo4j; this takes minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import synthetic  # noqa: E402
from bench.stores import scratch_dir  # noqa: E402
from headwater.catalog import open_store  # noqa: E402
from headwater.catalog.ids import dataset_id, job_id  # noqa: E402
from headwater.catalog.search import SearchDoc, dataset_docs, job_docs, search  # noqa: E402

# One-word: a column of every dataset, a word of every job, a word of one name; prefix: the
# last word typed in part.
QUERIES = {"one word": ["email", "model", "table_4242", "customer"],
           "prefix": ["ema", "mod", "table_42", "dw layer_07 tab"]}


def documents(datasets: int, jobs: int, batch: int = 2000) -> list[SearchDoc]:
    """The search documents ingesting the synthetic graph indexes, in the order ingestion
    writes them (``synthetic.load``'s batches; in each, the nodes it names first, datasets
    then jobs, by id): each dataset with its fields, and each job."""
    docs: list[SearchDoc] = []
    seen: set[str] = set()
    new_datasets: dict[str, list[SearchDoc]] = {}
    new_jobs: dict[str, list[SearchDoc]] = {}

    def flush() -> None:
        for found in (new_datasets, new_jobs):
            for node in sorted(found):
                docs.extend(found[node])
            found.clear()

    for n, event in enumerate(synthetic.events(datasets, jobs), 1):
        for d in (*event["inputs"], *event["outputs"]):
            node = dataset_id(d["namespace"], d["name"])
            if node not in seen:
                seen.add(node)
                fields = [(f["name"], None) for f in d["facets"]["schema"]["fields"]]
                new_datasets[node] = dataset_docs(node, d["namespace"], d["name"], None, [], [],
                                                  fields, {})
        job = event["job"]
        node = job_id(job["namespace"], job["name"])
        if node not in seen:
            seen.add(node)
            new_jobs[node] = job_docs(node, job["namespace"], job["name"], None, [], [])
        if n % batch == 0:
            flush()
    flush()
    return docs


def bulk_load(store: object, backend: str, datasets: int, jobs: int, batch: int = 5000) -> None:
    started = time.perf_counter()
    docs = documents(datasets, jobs)
    for i in range(0, len(docs), batch):
        chunk = docs[i : i + batch]
        if backend == "embedded":
            from headwater.catalog.embedded.search import write_docs

            with store._transaction() as db:  # type: ignore[attr-defined]
                write_docs(db, chunk)
        else:
            from headwater.catalog.neo4j.search import write_docs as write_nodes

            store._write_tx(lambda tx, c=chunk: write_nodes(tx, c))  # type: ignore[attr-defined]
        print(f"\r  indexed {i + len(chunk):,}/{len(docs):,} documents"
              f" ({time.perf_counter() - started:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)


def measure(store: object, rounds: int) -> dict[str, tuple[float, float]]:
    for queries in QUERIES.values():  # one untimed round: a running server's caches are warm
        for q in queries:
            search(store, q, first=20)  # type: ignore[arg-type]
    out = {}
    for kind, queries in QUERIES.items():
        times = []
        for _ in range(rounds):
            for q in queries:
                started = time.perf_counter()
                search(store, q, first=20)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out[kind] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="embedded")
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--bulk", action="store_true", help="load only the search documents")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "embedded":
            store = open_store("embedded", path=scratch_dir() / "bench.db")
        else:
            from tests.conftest import _wipe_neo4j
            from tests.harness.services import ensure_neo4j

            neo = ensure_neo4j()
            _wipe_neo4j(neo.env)
            store = open_store("neo4j", uri=neo.env["HEADWATER_NEO4J_URI"],
                               user=neo.env.get("HEADWATER_NEO4J_USER"),
                               password=neo.env.get("HEADWATER_NEO4J_PASSWORD"))
        if args.bulk:
            bulk_load(store, backend, args.datasets, args.datasets // 2)
        else:
            synthetic.load(store, args.datasets, args.datasets // 2)
        for kind, (p50, p95) in measure(store, args.rounds).items():
            print(f"{backend:9} search {kind:9} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
        store.close()


if __name__ == "__main__":
    main()
