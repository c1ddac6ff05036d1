"""Build OpenLineage events for tests: small, readable, spec-shaped."""

from __future__ import annotations

import uuid
from typing import Any

PRODUCER = "https://github.com/headwater/tests"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def ts(second: int) -> str:
    return f"2026-03-01T10:00:{second:02d}.000Z"


def schema(*fields: str | tuple[str, str]) -> dict[str, Any]:
    return {"schema": {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                       "fields": [{"name": f, "type": "string"} if isinstance(f, str)
                                  else {"name": f[0], "type": f[1]} for f in fields]}}


def column_lineage(mapping: dict[str, list[tuple[str, str, str]]], subtype: str = "IDENTITY",
                   masking: bool = False) -> dict[str, Any]:
    """mapping: output field -> [(namespace, name, field), ...]"""
    return {"columnLineage": {"fields": {
        out: {"inputFields": [
            {"namespace": ns, "name": n, "field": f,
             "transformations": [{"type": "DIRECT", "subtype": subtype, "masking": masking}]}
            for ns, n, f in sources]}
        for out, sources in mapping.items()}}}


def dataset(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in facets.values():
        merged.update(f)
    return {"namespace": namespace, "name": name, "facets": merged}


def run_event(event_type: str | None, *, run_id: str | None = None, job: tuple[str, str] = ("etl", "job"),
              time: str | None = None, inputs: list[dict[str, Any]] | None = None,
              outputs: list[dict[str, Any]] | None = None, run_facets: dict[str, Any] | None = None,
              job_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventTime": time or ts(0), "producer": PRODUCER, "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": job_facets or {}},
        "inputs": inputs or [], "outputs": outputs or [],
    }
    if event_type:
        event["eventType"] = event_type
    return event
