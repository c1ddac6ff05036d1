"""Erasure throughput on a PostgreSQL table of 1,000,000 rows (100,000 subjects × 10 rows).

    .venv/bin/python -m bench.erasure_pg [--rows 1000000] [--samples 20]

Per subject: what a task does (count, delete in one transaction, verify by re-counting),
without and with an index on the identifier column (users' tables often have none); and one
task erasing 1,000 subjects at once. Writes bench/results/erasure_pg.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from headwater.policies.erasure.connectors import Connectors, Target  # noqa: E402

NS = "postgres://bench:5432"


def prepare(dsn: str, rows: int) -> str:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS bench_erasure CASCADE")
        c.execute("CREATE SCHEMA bench_erasure")
        c.execute("CREATE TABLE bench_erasure.customers (customer_id int, email text, name text,"
                  " amount numeric)")
        c.execute("INSERT INTO bench_erasure.customers SELECT g %% %(s)s, 'user' || (g %% %(s)s)"
                  " || '@example.com', 'name ' || g, g %% 977 FROM generate_series(1, %(n)s) g",
                  {"n": rows, "s": rows // 10})
        c.execute("ANALYZE bench_erasure.customers")
        db = c.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    return f"{db}.bench_erasure.customers"


def measure(dsn: str, name: str, subjects: range, batch: range) -> dict[str, float]:
    connector = Connectors([{"namespace": NS, "dsn": dsn}]).for_dataset(NS, name)
    assert connector is not None and not hasattr(connector, "url")
    seconds, erased = [], 0
    for s in subjects:
        target = Target(NS, name, {"email": [f"user{s}@example.com"]})
        t0 = time.perf_counter()
        connector.count(target)  # type: ignore[union-attr]
        erased += connector.erase(target)  # type: ignore[union-attr]
        assert connector.count(target) == 0  # type: ignore[union-attr]
        seconds.append(time.perf_counter() - t0)
    many = Target(NS, name, {"email": [f"user{s}@example.com" for s in batch]})
    t0 = time.perf_counter()
    rows = connector.erase(many)  # type: ignore[union-attr]
    batch_s = time.perf_counter() - t0
    return {"subject_p50_ms": statistics.median(seconds) * 1000,
            "subject_max_ms": max(seconds) * 1000, "rows_per_subject": erased / len(subjects),
            "batch_subjects": len(batch), "batch_rows": rows, "batch_s": batch_s,
            "batch_rows_per_s": rows / batch_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    dsn = os.environ.get("HEADWATER_TEST_POSTGRES_DSN")
    service = None
    if not dsn:
        from tests.harness.services import ensure_postgres

        service = ensure_postgres()
        dsn = service.env["HEADWATER_TEST_POSTGRES_DSN"]
    try:
        name = prepare(dsn, args.rows)
        n = args.samples
        results = {"no index": measure(dsn, name, range(0, n), range(1000, 2000))}
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE INDEX ON bench_erasure.customers (email)")
        results["index on email"] = measure(dsn, name, range(n, 2 * n), range(2000, 3000))
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("DROP SCHEMA bench_erasure CASCADE")
    finally:
        if service is not None:
            service.stop()
    out = Path(__file__).parent / "results" / "erasure_pg.json"
    out.write_text(json.dumps({"rows": args.rows, **results}, indent=2))
    print(f"\nPostgreSQL table of {args.rows:,} rows, 10 rows per subject")
    print("| table | one subject: count + delete + verify (p50 / max) | 1,000 subjects in one task |")
    print("|---|---|---|")
    for k, r in results.items():
        print(f"| {k} | {r['subject_p50_ms']:.0f} / {r['subject_max_ms']:.0f} ms | "
              f"{r['batch_rows']:,} rows in {r['batch_s']:.2f} s "
              f"({r['batch_rows_per_s']:,.0f} rows/s) |")


if __name__ == "__main__":
    main()
