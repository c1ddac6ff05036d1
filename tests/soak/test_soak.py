"""The soak, short: a real server (subprocess, embedded store, loopback) for a minute under
ingestion (single POSTs, batches, the openlineage-python client), heavy and light GraphQL
reads, gate calls and one erasure request end to end (``bench/soak.py``; ``python -m
bench.soak`` runs the full five minutes whose figures are in docs/benchmarks.md).

Asserted (``bench.soak.check``): no 5xx (heavy reads may be refused with 503 + Retry-After by
the bulkhead); RSS flat after warm-up (the tolerance is defined beside ``RSS_GROWTH_SHARE``);
every acknowledged event counted back from the store; the erasure completed with the subject's
row gone and its audit chain verified. The latency targets (gate p99 <= 50 ms, small reads p99
<= 200 ms while heavy reads run) are the benchmark's (``python -m bench.soak`` fails when they
are missed), not this test's: they are not met yet (docs/benchmarks.md says by how much and
why), and a suite kept red by a known, measured shortfall would hide every other failure."""

from __future__ import annotations

import os
from pathlib import Path

from bench.soak import check, run, table

SECONDS = float(os.environ.get("HEADWATER_SOAK_SECONDS", "60"))


def test_a_minute_of_mixed_load_loses_nothing_and_stays_up(tmp_path: Path) -> None:
    figures = run(SECONDS, tmp_path, warmup=SECONDS / 3)
    print(table(figures))  # the latency figures, for the record (pytest -s shows them)
    failed = check(figures, latency=False)
    assert not failed, "\n".join([*failed, "", table(figures)])
