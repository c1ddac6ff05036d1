"""Gate decisions over HTTP for a job with 5 inputs and 5 outputs of 20 fields each, in the
100,000-dataset synthetic graph, with the embedded engine and with an OPA server.

    .venv/bin/python bench/gate.py [--datasets 100000 --jobs 50000] [--samples 1500]

Prints p50/p99 latency of sequential requests after a warm-up, with the p99 of each window of
500 (on a machine shared with other work, the p99 moves between windows more than most
changes move it), sustained decisions/s (4 concurrent clients), and the split between
enrichment (catalog reads) and policy evaluation. Writes bench/results/gate.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import scratch_dir  # noqa: E402
from bench.synthetic import load  # noqa: E402
from headwater.catalog import open_store  # noqa: E402
from headwater.ingestion.normalize import normalize  # noqa: E402
from headwater.policies.engine import BUNDLE  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402
from tests.harness.services import start_opa  # noqa: E402

NS = "snowflake://acme"
CLASSES = ["pii.email", "pii.phone", "pii.customer_id", None, None]


def scenario_events() -> list[dict]:
    """5 inputs x 20 fields (some PII), 5 outputs x 20 fields, column lineage for each."""
    def fields(prefix: str) -> list[dict]:
        return [{"name": f"{prefix}_{i}", "type": "varchar"} for i in range(20)]

    inputs = []
    for k in range(5):
        tags = [{"key": "classification", "value": c, "field": f"in{k}_{i}"}
                for i in range(20) if (c := CLASSES[i % 5])]
        inputs.append({"namespace": NS, "name": f"gate.input_{k}", "facets": {
            "schema": {"fields": fields(f"in{k}")}, "tags": {"tags": tags}}})
    outputs = []
    for k in range(5):
        lineage = {f"out{k}_{i}": {"inputFields": [
            {"namespace": NS, "name": f"gate.input_{(k + j) % 5}", "field": f"in{(k + j) % 5}_{i}",
             "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]} for j in range(2)]}
            for i in range(20)}
        outputs.append({"namespace": NS, "name": f"gate.output_{k}", "facets": {
            "schema": {"fields": fields(f"out{k}")}, "columnLineage": {"fields": lineage}}})
    return [{"eventType": "COMPLETE", "eventTime": "2026-03-01T00:00:00Z",
             "producer": "https://bench", "schemaURL": "https://openlineage.io/spec/2-0-2",
             "run": {"runId": "00000000-0000-4000-8000-0000000000aa"},
             "job": {"namespace": "bench", "name": "gate_job"},
             "inputs": inputs, "outputs": outputs}]


GATE_BODY = {"job": {"namespace": "bench", "name": "gate_job"},
             "inputs": [{"namespace": NS, "name": f"gate.input_{k}"} for k in range(5)],
             "outputs": [{"namespace": NS, "name": f"gate.output_{k}"} for k in range(5)],
             "context": {"purpose": "billing"}}


WARMUP = 100  # requests before timing: the first few fill the worker's caches
WINDOW = 500  # requests per p99 window: the spread between windows is the machine's noise


def measure(server: Server, samples: int) -> dict[str, float]:
    """Sequential requests after a warm-up: p50 and p99 over all, and the p99 of each window
    of WINDOW requests (min and max), then 4 concurrent clients for throughput."""
    headers = {"Authorization": f"Bearer {server.token('producer')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
        def ask() -> dict:
            r = c.post("/api/v1/gate", json=GATE_BODY)
            r.raise_for_status()
            return r.json()
        first = ask()
        assert first["decision"] == "mask", first
        for _ in range(WARMUP):
            ask()
        lat, enrich, evaluate = [], [], []
        for _ in range(samples):
            t = time.perf_counter()
            answer = ask()
            lat.append(time.perf_counter() - t)
            enrich.append(answer["timings"]["enrichMs"])
            evaluate.append(answer["timings"]["evaluateMs"])

    def worker(n: int) -> int:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
            for _ in range(n):
                c.post("/api/v1/gate", json=GATE_BODY).raise_for_status()
        return n

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        done = sum(pool.map(worker, [samples // 4] * 4))
    rate = done / (time.perf_counter() - started)
    q = statistics.quantiles(lat, n=100)
    windows = [statistics.quantiles(lat[i:i + WINDOW], n=100)[98] * 1000
               for i in range(0, len(lat) - WINDOW + 1, WINDOW)] or [q[98] * 1000]
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "p99_window_min_ms": min(windows),
            "p99_window_max_ms": max(windows), "decisions_per_s": rate,
            "enrich_p50_ms": statistics.median(enrich),
            "evaluate_p50_ms": statistics.median(evaluate), "masks": len(first["masks"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=50_000)
    ap.add_argument("--samples", type=int, default=1500)
    ap.add_argument("--gate-processes", type=int, default=None,
                    help="the server's HEADWATER_GATE_PROCESSES (0: the gate on threads)")
    ap.add_argument("--engines", default="embedded,opa")
    args = ap.parse_args()
    tmp = scratch_dir("bench-gate-")
    store = open_store("embedded", path=tmp / "headwater.db")
    load(store, args.datasets, args.jobs)
    store.write_events([normalize(e) for e in scenario_events()])
    store.close()
    results = {}
    opa = start_opa(str(BUNDLE))
    try:
        for engine in args.engines.split(","):
            env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
            env.update({"HEADWATER_DATA_DIR": str(tmp), "HEADWATER_POLICY_ENGINE": engine,
                        "HEADWATER_OPA_URL": opa.url})
            if args.gate_processes is not None:
                env["HEADWATER_GATE_PROCESSES"] = str(args.gate_processes)
            server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
            server.start()
            try:
                results[engine] = measure(server, args.samples)
            finally:
                server.stop()
    finally:
        opa.stop()
    out = Path(__file__).parent / "results" / "gate.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\n| engine | p50 | p99 (windows of {WINDOW}: min–max) | decisions/s (4 clients) |"
          " enrichment p50 | evaluation p50 |")
    print("|---|---|---|---|---|---|")
    for engine, r in results.items():
        print(f"| {engine} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
              f"({r['p99_window_min_ms']:.1f}–{r['p99_window_max_ms']:.1f}) | "
              f"{r['decisions_per_s']:.0f} | {r['enrich_p50_ms']:.1f} ms | "
              f"{r['evaluate_p50_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
