"""Deterministic node ids, shaped like Marquez's so OpenLineage users recognise them.

Namespaces may contain colons (``postgres://db:5432``), so ids are never split to find a node:
stores keep the id as a property and look it up whole.
"""

from __future__ import annotations

import hashlib


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def field_id(namespace: str, name: str, field: str) -> str:
    return f"datasetField:{namespace}:{name}:{field}"


def node_kind(node_id: str) -> str | None:
    """'dataset', 'job', 'field' or None (a run id or garbage)."""
    for prefix, kind in (("datasetField:", "field"), ("dataset:", "dataset"), ("job:", "job")):
        if node_id.startswith(prefix):
            return kind
    return None


def digest(*parts: str | bytes) -> str:
    """A short stable hash used for content-addressed ids (events, quality results)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()[:32]
