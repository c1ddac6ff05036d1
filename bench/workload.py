"""Realistic OpenLineage events for benchmarks: a warehouse of tables, jobs reading 1-3 tables
and writing one, 3-10 typed fields each, column lineage on every output. Run ids are UUIDv7
(time first), as openlineage-python (1.15 and later), its Airflow provider and dbt-ol make
them: random (v4) ids cost the embedded store ~20 % more log written per event, each run's
index entries landing on a page of their own instead of beside the last run's."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

NAMESPACES = ["postgres://shop-db:5432", "snowflake://acme.eu-west-1", "s3://lake-raw"]
TYPES = ["bigint", "varchar", "timestamp", "numeric(12,2)", "boolean", "date"]
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/airflow"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = {"_producer": PRODUCER,
         "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json"}


class Warehouse:
    def __init__(self, datasets: int = 2000, jobs: int = 500, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.tables = []
        for i in range(datasets):
            ns = NAMESPACES[i % len(NAMESPACES)]
            fields = [(f"col_{j}", self.rng.choice(TYPES))
                      for j in range(self.rng.randint(3, 10))]
            self.tables.append((ns, f"analytics.schema_{i % 40}.table_{i}", fields))
        self.jobs = [(f"airflow.dag_{j % 50}", f"task_{j}",
                      self.rng.sample(range(datasets), self.rng.randint(1, 3)),
                      self.rng.randrange(datasets)) for j in range(jobs)]

    def _dataset(self, idx: int, lineage_from: list[int] | None = None) -> dict[str, Any]:
        """A dataset as its producer describes it, the same on every run of the job."""
        ns, name, fields = self.tables[idx]
        rng = random.Random(idx)
        facets: dict[str, Any] = {"schema": {**FACET, "fields": [
            {"name": n, "type": t} for n, t in fields]}}
        if lineage_from:
            facets["columnLineage"] = {**FACET, "fields": {
                n: {"inputFields": [
                    {"namespace": self.tables[src][0], "name": self.tables[src][1],
                     "field": rng.choice(self.tables[src][2])[0],
                     "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]}
                    for src in lineage_from]}
                for n, _ in fields}}
        return {"namespace": ns, "name": name, "facets": facets}

    def events(self, n: int) -> Iterator[dict[str, Any]]:
        """START/COMPLETE pairs of job runs (n events in all)."""
        for i in range(n // 2):
            ns, name, inputs, output = self.jobs[i % len(self.jobs)]
            # UUIDv7 (RFC 9562): 48 bits of milliseconds (the run's start, one run a second
            # from 2026-03-01), version 7, random bits, variant 0b10, random bits.
            ms = 1_772_323_200_000 + i * 1000
            run_id = str(uuid.UUID(int=ms << 80 | 0x7 << 76 | self.rng.getrandbits(12) << 64
                                   | 0b10 << 62 | self.rng.getrandbits(62)))
            for k, state in enumerate(("START", "COMPLETE")):
                yield {
                    "eventType": state,
                    "eventTime": f"2026-03-{1 + i // 80000 % 28:02d}T{(i // 3600) % 24:02d}:"
                                 f"{(i // 60) % 60:02d}:{i % 60:02d}.{k}Z",
                    "producer": PRODUCER, "schemaURL": SCHEMA_URL,
                    "run": {"runId": run_id, "facets": {}},
                    "job": {"namespace": ns, "name": name, "facets": {
                        "jobType": {**FACET, "processingType": "BATCH", "integration": "AIRFLOW",
                                    "jobType": "TASK"}}},
                    "inputs": [self._dataset(s) for s in inputs],
                    "outputs": [self._dataset(output, inputs)],
                }
