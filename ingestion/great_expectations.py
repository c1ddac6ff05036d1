"""Great Expectations validation results → Headwater quality results.

Pure dict parsing of GE 1.x's JSON (an ``ExpectationSuiteValidationResult``, a checkpoint result
with ``run_results``, or a list of either), so ``headwater quality import`` and the checkpoint
action share it and neither needs GE to be importable on the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def dataset_for(meta: Mapping[str, Any], mapping: Mapping[str, str]) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of the validated batch. ``mapping`` maps
    ``datasource/asset`` or ``asset`` to ``namespace|name``; unmapped assets become
    ``ge://<datasource>`` / ``<asset>``."""
    batch = meta.get("active_batch_definition") or meta.get("batch_spec") or {}
    source = str(batch.get("datasource_name") or "unknown")
    asset = str(batch.get("data_asset_name") or meta.get("expectation_suite_name") or "unknown")
    target = mapping.get(f"{source}/{asset}") or mapping.get(asset)
    if target:
        namespace, _, name = target.partition("|")
        return namespace, name
    return f"ge://{source}", asset


def _validations(doc: Any) -> Iterable[dict[str, Any]]:
    if isinstance(doc, list):
        for item in doc:
            yield from _validations(item)
    elif isinstance(doc, dict) and "run_results" in doc:
        yield from _validations(list(doc["run_results"].values()))
    elif isinstance(doc, dict) and "results" in doc:
        yield doc


def _time(meta: Mapping[str, Any]) -> str:
    raw = meta.get("validation_time") or (meta.get("run_id") or {}).get("run_time")
    try:
        ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        ts = datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def quality_results(doc: Any, mapping: Mapping[str, str] | None = None,
                    run_id: str | None = None) -> list[dict[str, Any]]:
    """One result per expectation: dataset, column (when the expectation names one), success,
    observed value, the OpenLineage run id when known, and when it was validated."""
    out = []
    for validation in _validations(doc):
        meta = validation.get("meta") or {}
        namespace, name = dataset_for(meta, mapping or {})
        observed_at = _time(meta)
        for r in validation.get("results") or []:
            config = r.get("expectation_config") or {}
            kwargs = config.get("kwargs") or {}
            result = r.get("result") or {}
            column = kwargs.get("column")
            out.append({
                "namespace": namespace, "name": name,
                "assertion": config.get("type") or config.get("expectation_type") or "unknown",
                "field": column if isinstance(column, str) else None,
                "success": bool(r.get("success")),
                "observedValue": result.get("observed_value", result.get("unexpected_percent")),
                "details": {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")},
                "runId": run_id, "observedAt": observed_at,
            })
    return out
