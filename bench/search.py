"""Catalog search latency on the 100k-dataset synthetic graph (``bench/synthetic.py``): p50
and p95 of one page (20 hits, with the total count) for one-word and prefix queries, through
the read service (``catalog.search.search``), on each backend.

    .venv/bin/python bench/search.py [--backends embedded,neo4j] [--datasets 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import synthetic  # noqa: E402
from headwater.catalog import open_store  # noqa: E402
from headwater.catalog.search import search  # noqa: E402

# One-word: a column of every dataset, a word of every job, a word of one name; prefix: the
# last word typed in part.
QUERIES = {"one word": ["email", "model", "table_4242", "customer"],
           "prefix": ["ema", "mod", "table_42", "dw layer_07 tab"]}


def measure(store: object, rounds: int) -> dict[str, tuple[float, float]]:
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
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "embedded":
            store = open_store("embedded", path=Path(tempfile.mkdtemp()) / "bench.db")
        else:
            from tests.conftest import _wipe_neo4j
            from tests.harness.services import ensure_neo4j

            neo = ensure_neo4j()
            _wipe_neo4j(neo.env)
            store = open_store("neo4j", uri=neo.env["HEADWATER_NEO4J_URI"],
                               user=neo.env.get("HEADWATER_NEO4J_USER"),
                               password=neo.env.get("HEADWATER_NEO4J_PASSWORD"))
        synthetic.load(store, args.datasets, args.datasets // 2)
        for kind, (p50, p95) in measure(store, args.rounds).items():
            print(f"{backend:9} search {kind:9} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
        store.close()


if __name__ == "__main__":
    main()
