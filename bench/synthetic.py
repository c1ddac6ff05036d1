"""A large synthetic lineage graph: layered, with realistic skew (a few hub tables feed many
jobs, most tables feed one or two), written through the store's batch API.

Defaults: 100,000 datasets, 50,000 jobs, ~300,000 column-lineage edges.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater.catalog import Store
from headwater.ingestion.normalize import normalize

NS = "snowflake://acme"
PRODUCER = "https://github.com/headwater/bench"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
START = datetime(2026, 3, 1, tzinfo=UTC)
FIELDS = ["id", "customer_id", "email", "amount", "created_at", "status"]


def name(i: int) -> str:
    return f"dw.layer_{i // 5000:02d}.table_{i}"


def events(datasets: int = 100_000, jobs: int = 50_000, seed: int = 11) -> Iterator[dict[str, Any]]:
    """Job k writes two tables of layer L and reads 1-3 tables of earlier layers, drawn with a
    power law so that low-numbered tables are hubs. Each output column derives from one input
    column of each input table (~3 column edges per output column on average)."""
    rng = random.Random(seed)
    per_layer = 5000
    first_written = per_layer  # layer 0 is sources
    for k in range(jobs):
        out_a = first_written + (2 * k) % (datasets - per_layer)
        outputs = [out_a, out_a + 1]
        layer_start = (out_a // per_layer) * per_layer
        inputs = sorted({int(layer_start * rng.random() ** 3) for _ in range(rng.randint(1, 3))})
        ins = [{"namespace": NS, "name": name(i), "facets": {"schema": {"fields": [
            {"name": f, "type": "varchar"} for f in FIELDS]}}} for i in inputs]
        outs = []
        for o in outputs:
            lineage = {f: {"inputFields": [
                {"namespace": NS, "name": name(i), "field": f,
                 "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}
                for i in inputs]} for f in FIELDS[: rng.randint(1, 3)]}
            outs.append({"namespace": NS, "name": name(o), "facets": {
                "schema": {"fields": [{"name": f, "type": "varchar"} for f in FIELDS]},
                "columnLineage": {"fields": lineage}}})
        # A second apart, as a scheduler's runs are: a batch of events all at one instant is
        # taken for late events (schema history re-derived per dataset).
        yield {"eventType": "COMPLETE", "eventTime": (START + timedelta(seconds=k)).isoformat(),
               "producer": PRODUCER, "schemaURL": SCHEMA_URL,
               "run": {"runId": f"00000000-0000-4000-8000-{k:012d}"},
               "job": {"namespace": "dbt", "name": f"model_{k}"},
               "inputs": ins, "outputs": outs}


def load(store: Store, datasets: int = 100_000, jobs: int = 50_000, batch: int = 2000) -> None:
    started = time.perf_counter()
    buf = []
    for n, event in enumerate(events(datasets, jobs), 1):
        buf.append(normalize(event))
        if len(buf) == batch:
            store.write_events(buf)
            buf = []
            print(f"\r  loaded {n:,}/{jobs:,} job runs ({time.perf_counter() - started:.0f} s)",
                  end="", file=sys.stderr)
    if buf:
        store.write_events(buf)
    print(f"\r  loaded {jobs:,} job runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
