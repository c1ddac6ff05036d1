"""The soak, short: a real server (subprocess, embedded store, loopback) for a minute under
ingestion (single POSTs, batches, the openlineage-python client), heavy and light GraphQL
reads, gate calls and one erasure request end to end (``bench/soak.py``; ``python -m
bench.soak`` runs the full five minutes whose figures are in docs/benchmarks.md).

Asserted (``bench.soak.check``): gate p99 <= 50 ms and small reads p99 <= 200 ms while heavy
reads run; no 5xx (heavy reads may be refused with 503 + Retry-After by the bulkhead); RSS
(server and its worker processes) flat after warm-up (the tolerance is defined beside
``RSS_GROWTH_SHARE``); every acknowledged event counted back from the store; the erasure
completed with the subject's row gone and its audit chain verified."""

from __future__ import annotations

import os
from pathlib import Path

from bench.soak import check, run, table

SECONDS = float(os.environ.get("HEADWATER_SOAK_SECONDS", "60"))


def test_a_minute_of_mixed_load_loses_nothing_and_stays_up(tmp_path: Path) -> None:
    figures = run(SECONDS, tmp_path, warmup=SECONDS / 3)
    print(table(figures))  # the latency figures, for the record (pytest -s shows them)
    failed = check(figures)
    assert not failed, "\n".join([*failed, "", table(figures)])
