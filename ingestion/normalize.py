"""Turn one validated OpenLineage event into the store writes it implies (``EventWrite``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from headwater.catalog.ids import dataset_id, digest, field_id, job_id
from headwater.catalog.model import (
    EVENT_TYPE_STATE,
    ColumnEdge,
    DatasetWrite,
    EventWrite,
    FieldSpec,
    JobWrite,
    QualityWrite,
    RunWrite,
)
from headwater.ingestion import openlineage as ol


def utc(ts: datetime) -> str:
    """ISO-8601 in UTC with microseconds: sortable as a string on both backends."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def tag_name(tag: ol.Tag) -> str:
    """``{key: purpose, value: marketing}`` → ``purpose:marketing``; a tag with no value (or
    ``true``) is its key; ``{key: classification, value: pii.email}`` → ``pii.email``."""
    if tag.key.lower() == "classification" and tag.value:
        return tag.value
    if tag.value in (None, "", "true", "True"):
        return tag.key
    return f"{tag.key}:{tag.value}"


def _flatten(fields: list[ol.SchemaField], prefix: str = "") -> list[FieldSpec]:
    out: list[FieldSpec] = []
    for f in fields:
        name = prefix + f.name
        out.append(FieldSpec(name, f.type, f.description))
        if f.fields:
            out += _flatten(f.fields, name + ".")
    return out


def fingerprint(fields: list[FieldSpec]) -> str:
    """Schema identity: the set of (name, type). Order and descriptions do not make a version."""
    return digest(*sorted(f"{f.name}\x1e{f.type or ''}" for f in fields))


def _dataset(d: ol.Dataset, raw: dict[str, Any], role: str) -> DatasetWrite:
    f = d.facets
    out = DatasetWrite(
        namespace=d.namespace, name=d.name, id=dataset_id(d.namespace, d.name), role=role,
        facets=raw.get("facets") or {},
        io_facets=raw.get("inputFacets") or raw.get("outputFacets") or {},
    )
    if f.schema_ is not None:
        out.schema = _flatten(f.schema_.fields)
        out.schema_fingerprint = fingerprint(out.schema)
    if f.documentation and f.documentation.description:
        out.description = f.documentation.description
    if f.tags:
        for t in f.tags.tags:
            if t.field:
                out.field_classifications.append((t.field, tag_name(t)))
            else:
                out.tags.append(tag_name(t))
    if f.ownership:
        out.owners = [(o.name, o.type) for o in f.ownership.owners]
    if f.symlinks:
        out.symlinks = [(s.namespace, s.name, s.type) for s in f.symlinks.identifiers]
    if f.lifecycleStateChange:
        out.lifecycle_state = f.lifecycleStateChange.lifecycleStateChange
    for facet in (f.dataQualityAssertions, d.inputFacets and d.inputFacets.dataQualityAssertions):
        if facet:
            out.quality += [
                QualityWrite(a.assertion, a.success, a.column, "openlineage") for a in facet.assertions
            ]
    return out


def _column_edges(d: ol.Dataset) -> list[ColumnEdge]:
    facet = d.facets.columnLineage
    if facet is None:
        return []
    target_ds = dataset_id(d.namespace, d.name)
    edges = []
    for out_field, entry in facet.fields.items():
        target = field_id(d.namespace, d.name, out_field)
        for src in entry.inputFields:
            transformations = src.transformations or [
                # Pre-1.1 facets put one transformation type on the output field.
                ol.Transformation(
                    type="DIRECT", subtype=entry.transformationType or "",
                    description=entry.transformationDescription,
                )
            ]
            for t in transformations:
                edges.append(ColumnEdge(
                    source_id=field_id(src.namespace, src.name, src.field), target_id=target,
                    source_dataset=dataset_id(src.namespace, src.name), target_dataset=target_ds,
                    source_field=src.field, target_field=out_field,
                    type=t.type.upper(), subtype=(t.subtype or "").upper(),
                    description=t.description, masking=bool(t.masking),
                ))
    return edges


def _job(j: ol.Job, raw: dict[str, Any]) -> JobWrite:
    f = j.facets
    return JobWrite(
        namespace=j.namespace, name=j.name, id=job_id(j.namespace, j.name),
        facets=raw.get("facets") or {},
        description=f.documentation.description if f.documentation else None,
        job_type=f.jobType.jobType if f.jobType else None,
        processing_type=f.jobType.processingType if f.jobType else None,
        integration=f.jobType.integration if f.jobType else None,
        sql=f.sql.query if f.sql else None,
        tags=[tag_name(t) for t in f.tags.tags] if f.tags else [],
        owners=[(o.name, o.type) for o in f.ownership.owners] if f.ownership else [],
    )


def normalize(raw: dict[str, Any]) -> EventWrite:
    """Validate ``raw`` (a parsed JSON object) and normalise it. Raises ``InvalidEvent``."""
    event = ol.validate_event(raw)
    payload = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)  # canonical: equal events, equal ids
    out = EventWrite(
        event_id=digest(payload), kind="run", event_time=utc(event.eventTime), payload=payload
    )
    if isinstance(event, ol.DatasetEvent):
        out.kind = "dataset"
        out.datasets = [_dataset(event.dataset, raw["dataset"], "dataset")]
        out.column_edges = _column_edges(event.dataset)
        return out
    out.job = _job(event.job, raw["job"])
    out.inputs = [_dataset(d, r, "input") for d, r in zip(event.inputs, raw.get("inputs") or [])]
    out.outputs = [_dataset(d, r, "output") for d, r in zip(event.outputs, raw.get("outputs") or [])]
    out.column_edges = [e for d in event.outputs for e in _column_edges(d)]
    if isinstance(event, ol.JobEvent):
        out.kind = "job"
        return out
    rf = event.run.facets
    out.run = RunWrite(
        id=str(event.run.runId), job_id=out.job.id, event_type=event.eventType,
        state=EVENT_TYPE_STATE.get(event.eventType or "OTHER"),
        facets=raw["run"].get("facets") or {},
        parent_run_id=str(rf.parent.run.runId) if rf.parent else None,
        error_message=rf.errorMessage.message if rf.errorMessage else None,
        nominal_start=utc(rf.nominalTime.nominalStartTime) if rf.nominalTime else None,
        nominal_end=(
            utc(rf.nominalTime.nominalEndTime)
            if rf.nominalTime and rf.nominalTime.nominalEndTime else None
        ),
        tags=[tag_name(t) for t in rf.tags.tags] if rf.tags else [],
    )
    return out
