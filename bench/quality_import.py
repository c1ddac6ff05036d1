"""Importing a Great Expectations validation result with 1,000 expectation results: parse the
file, send it, store it durably (what `headwater quality import` does after start-up).

    .venv/bin/python -m bench.quality_import [--results 1000] [--runs 10]

Writes bench/results/quality_import.json. Target: under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stores import scratch_dir  # noqa: E402
from headwater.client import Client  # noqa: E402
from headwater.ingestion.great_expectations import quality_results  # noqa: E402
from tests.e2e.conftest import Server, free_port  # noqa: E402


def validation(n: int, run: int) -> str:
    return json.dumps({"success": False, "results": [
        {"success": i % 10 != 0, "expectation_config": {
            "type": "expect_column_values_to_not_be_null", "kwargs": {"column": f"col_{i}"}},
         "result": {"observed_value": i, "unexpected_count": i % 7}} for i in range(n)],
        "meta": {"active_batch_definition": {"datasource_name": "warehouse",
                                             "data_asset_name": "wide"},
                 "validation_time": f"2026-03-01T10:{run // 60:02d}:{run % 60:02d}Z"}})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    tmp = scratch_dir("bench-quality-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env["HEADWATER_DATA_DIR"] = str(tmp)
    server = Server(url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=tmp)
    server.start()
    seconds = []
    try:
        with Client(server.url, server.token("producer")) as client:
            for run in range(args.runs + 1):
                text = validation(args.results, run)
                started = time.perf_counter()
                answer = client.send_quality(quality_results(json.loads(text)),
                                             "great_expectations")
                if run:  # the first one warms the server up
                    seconds.append(time.perf_counter() - started)
                assert answer["created"] == args.results, answer
    finally:
        server.stop()
    result = {"results": args.results, "p50_ms": statistics.median(seconds) * 1000,
              "max_ms": max(seconds) * 1000}
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / "quality_import.json").write_text(json.dumps(result))
    print(f"import of {args.results:,} expectation results: p50 {result['p50_ms']:.0f} ms, "
          f"max {result['max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
