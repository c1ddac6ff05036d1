"""Turn one validated OpenLineage event into the store writes it implies (``EventWrite``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from headwater.catalog.facts import dataset_facts, job_facts
from headwater.catalog.ids import dataset_id, digest, field_id, job_id
from headwater.catalog.model import (
    ColumnEdge,
    DatasetWrite,
    EventWrite,
    FieldSpec,
    JobWrite,
    QualityWrite,
    RunWrite,
)
from headwater.catalog.rules import EVENT_TYPE_STATE, UNKNOWN_TRANSFORMATION
from headwater.ingestion.openlineage import (
    InvalidEvent,
    escape,
    validate_dataset,
    validate_event,
)

_EMPTY: dict[str, Any] = {}
UNKNOWN: list[dict[str, Any]] = [{"type": UNKNOWN_TRANSFORMATION}]
# orjson writes at most 254 nested arrays and objects; what it cannot write cannot be stored.
MAX_DEPTH = 254


def too_deep(value: Any, limit: int = MAX_DEPTH) -> InvalidEvent:
    """The error for a value orjson refused to write, pointing at the first array or object
    nested more than ``limit`` deep (found only once the write failed: no cost otherwise)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        v, depth, pointer = stack.pop()
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        if items and depth > limit:
            return InvalidEvent([{"pointer": pointer, "message": (
                f"nested more than {limit} arrays or objects deep: flatten this value")}])
        stack += [(child, depth + 1, f"{pointer}/{escape(k)}") for k, child in items]
    return InvalidEvent([{"pointer": "", "message": "the event cannot be written as JSON"}])


def canonical(raw: Any) -> bytes:
    """The canonical JSON of a parsed value (sorted keys): equal events, equal bytes."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise too_deep(raw) from None


def utc(ts: datetime) -> str:
    """ISO-8601 in UTC with microseconds: sortable as a string on both backends."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def tag_name(tag: dict[str, Any]) -> str:
    """``{key: purpose, value: marketing}`` → ``purpose:marketing``; a tag with no value (or
    ``true``) is its key; ``{key: classification, value: pii.email}`` → ``pii.email``."""
    key, value = tag["key"], tag.get("value")
    if key.lower() == "classification" and value:
        return str(value)
    if value in (None, "", "true", "True"):
        return str(key)
    return f"{key}:{value}"


def _flatten(fields: list[dict[str, Any]], prefix: str = "") -> list[FieldSpec]:
    out: list[FieldSpec] = []
    for f in fields:
        name = prefix + f["name"]
        out.append(FieldSpec(name, f.get("type"), f.get("description")))
        if f.get("fields"):
            out += _flatten(f["fields"], name + ".")
    return out


def fingerprint(fields: list[FieldSpec]) -> str:
    """Schema identity: the set of (name, type). Order and descriptions do not make a version."""
    return digest(*sorted(f"{f.name}\x1e{f.type or ''}" for f in fields))


def _owners(facet: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    return [(o["name"], o.get("type")) for o in (facet or _EMPTY).get("owners", ())]


def _dataset(d: dict[str, Any], raw: dict[str, Any], role: str) -> DatasetWrite:
    f = d.get("facets") or _EMPTY
    out = DatasetWrite(
        namespace=d["namespace"], name=d["name"], id=dataset_id(d["namespace"], d["name"]),
        role=role, facets=raw.get("facets") or {},
        io_facets=raw.get("inputFacets") or raw.get("outputFacets") or {},
    )
    if "schema" in f:
        out.schema = _flatten(f["schema"].get("fields", []))
        out.schema_fingerprint = fingerprint(out.schema)
    out.description = (f.get("documentation") or _EMPTY).get("description")
    for t in (f.get("tags") or _EMPTY).get("tags", ()):
        if t.get("field"):
            out.field_classifications.append((t["field"], tag_name(t)))
        else:
            out.tags.append(tag_name(t))
    out.owners = _owners(f.get("ownership"))
    out.symlinks = [(s["namespace"], s["name"], s.get("type"))
                    for s in (f.get("symlinks") or _EMPTY).get("identifiers", ())]
    canonical_name(out)
    out.aliases = sorted({dataset_id(ns, n) for ns, n, _ in out.symlinks} - {out.id})
    if "lifecycleStateChange" in f:
        out.lifecycle_state = f["lifecycleStateChange"]["lifecycleStateChange"]
        previous = f["lifecycleStateChange"].get("previousIdentifier")
        if out.lifecycle_state == "RENAME" and previous:
            # The history of the old name continues under the new one (docs/design.md).
            out.previous_id = dataset_id(previous["namespace"], previous["name"])
            out.symlinks.append((previous["namespace"], previous["name"], None))
        if out.lifecycle_state == "DROP" and out.schema is None:
            # A dropped table has no columns: the drop is a version of its schema history.
            out.schema, out.schema_fingerprint = [], fingerprint([])
    for facet in (f.get("dataQualityAssertions"),
                  (d.get("inputFacets") or _EMPTY).get("dataQualityAssertions")):
        for a in (facet or _EMPTY).get("assertions", ()):
            out.quality.append(QualityWrite(a["assertion"], a["success"], a.get("column"),
                                            name=a.get("name") or None))
    return out


def canonical_name(out: DatasetWrite) -> None:
    """Alias resolution (docs/design.md, "Other names of a dataset"): a dataset whose symlinks
    facet names a TABLE identifier is that table, whatever name the event gives it (Spark names
    a storage location and lists the metastore table). The first TABLE identifier in sorted
    order is the dataset; the event's own name is kept as one of its symlinks."""
    tables = sorted((ns, n) for ns, n, t in out.symlinks if (t or "").upper() == "TABLE")
    if not tables or tables[0] == (out.namespace, out.name):
        return
    own = (out.namespace, out.name, None)
    out.namespace, out.name = tables[0]
    out.id = dataset_id(out.namespace, out.name)
    out.symlinks = sorted({*((ns, n, t) for ns, n, t in out.symlinks
                             if (ns, n) != tables[0]), own}, key=lambda s: (s[0], s[1]))


def _column_edges(d: dict[str, Any], ns: str, name: str) -> list[ColumnEdge]:
    facet = (d.get("facets") or _EMPTY).get("columnLineage")
    if not facet:
        return []
    target_ds = dataset_id(ns, name)
    edges = []
    for out_field, entry in (facet.get("fields") or _EMPTY).items():
        target = field_id(ns, name, out_field)
        # Pre-1.1 facets put one transformation type on the output field instead.
        legacy = [{"type": "DIRECT", "subtype": entry.get("transformationType") or "",
                   "description": entry.get("transformationDescription")}]
        for src in entry["inputFields"]:
            given = src.get("transformations")
            # ``[]`` (dbt-ol, Airflow) says nothing about how: lineage of unknown kind, not
            # DIRECT. An absent list is the pre-1.1 form: the output field's legacy type.
            ts = given if given else UNKNOWN if given is not None else legacy
            for t in ts:
                edges.append(ColumnEdge(
                    field_id(src["namespace"], src["name"], src["field"]), target,
                    dataset_id(src["namespace"], src["name"]), target_ds,
                    src["field"], out_field, t["type"].upper(), (t.get("subtype") or "").upper(),
                    t.get("description"), bool(t.get("masking")), src["namespace"], src["name"],
                ))
    return edges


@lru_cache(maxsize=16384)
def _dataset_writes(canonical: bytes, role: str) -> tuple[DatasetWrite, list[ColumnEdge]]:
    """Validate and normalise one dataset, memoised by its canonical JSON: producers describe the
    same datasets in event after event (START and COMPLETE, every run of a job), and the result
    is never mutated. Raises ``InvalidEvent`` with pointers relative to the dataset."""
    raw = orjson.loads(canonical)
    valid = validate_dataset(raw)
    out = _dataset(valid, raw, role)
    out.facts = dataset_facts(out)
    return out, _column_edges(valid, out.namespace, out.name) if role != "input" else []


# A dataset's JSON as the producer wrote it (key order kept: no sort) -> what
# ``_dataset_writes`` made of its canonical form. A producer writes the same dataset the same
# way every time: one plain ``orjson.dumps`` finds it, half the cost of the sorted one.
_AS_SENT: dict[tuple[bytes, str], tuple[DatasetWrite, list[ColumnEdge]]] = {}
_AS_SENT_MAX = 16384


def _dataset_as_sent(raw: Any, role: str) -> tuple[DatasetWrite, list[ColumnEdge]]:
    try:
        key = (orjson.dumps(raw), role)
    except orjson.JSONEncodeError:
        return _dataset_writes(canonical(raw), role)  # too deep: canonical says where
    found = _AS_SENT.get(key)
    if found is None:
        found = _dataset_writes(canonical(raw), role)
        if len(_AS_SENT) >= _AS_SENT_MAX:
            _AS_SENT.clear()
        _AS_SENT[key] = found
    return found


def _datasets(raws: Any, role: str, pointer: str, errors: list[dict[str, str]]
              ) -> tuple[list[DatasetWrite], list[ColumnEdge]]:
    writes, edges = [], []
    for i, raw in enumerate(raws or ()):
        try:
            d, e = _dataset_as_sent(raw, role)
        except InvalidEvent as exc:
            errors += InvalidEvent(exc.errors, prefix=f"{pointer}/{i}").errors
            continue
        writes.append(d)
        edges += e
    return writes, edges


def _job(j: dict[str, Any], raw: dict[str, Any]) -> JobWrite:
    f = j.get("facets") or _EMPTY
    job_type = f.get("jobType") or _EMPTY
    return JobWrite(
        namespace=j["namespace"], name=j["name"], id=job_id(j["namespace"], j["name"]),
        facets=raw.get("facets") or {},
        description=(f.get("documentation") or _EMPTY).get("description"),
        job_type=job_type.get("jobType"), processing_type=job_type.get("processingType"),
        integration=job_type.get("integration"),
        sql=f["sql"]["query"] if "sql" in f else None,
        tags=[tag_name(t) for t in (f.get("tags") or _EMPTY).get("tags", ())],
        owners=_owners(f.get("ownership")),
    )


def _resolved(edges: list[ColumnEdge], datasets: list[DatasetWrite]) -> list[ColumnEdge]:
    """Column-lineage sources named by another name of a dataset of the same event (a
    storage location its symlinks list) point at that dataset. New edges: the memoised ones
    are shared."""
    alias = {dataset_id(ns, n): d for d in datasets for ns, n, _ in d.symlinks}
    if not alias:
        return edges
    out = []
    for c in edges:
        d = alias.get(c.source_dataset)
        if d is not None:
            c = replace(c, source_id=field_id(d.namespace, d.name, c.source_field),
                        source_dataset=d.id, source_namespace=d.namespace, source_name=d.name)
        out.append(c)
    return out


def normalize(raw: Any) -> EventWrite:
    """Validate ``raw`` (a parsed JSON value) and normalise it. Raises ``InvalidEvent`` naming
    every problem of the event, envelope and datasets alike."""
    errors: list[dict[str, str]] = []
    try:
        kind, event = validate_event(raw)
    except InvalidEvent as exc:
        kind, event = "", {}
        errors += exc.errors
    if isinstance(raw, dict):
        ds_keys = {"dataset": ["dataset"], "run": ["inputs", "outputs"],
                   "job": ["inputs", "outputs"]}.get(kind, ["inputs", "outputs", "dataset"])
        found = {}
        for key in ds_keys:
            value = raw.get(key)
            if key == "dataset":
                value = [value] if value is not None else []
            if isinstance(value, list):
                role = {"inputs": "input", "outputs": "output"}.get(key, "dataset")
                found[key] = _datasets(value, role, "/" + key, errors)
    if errors:
        for e in errors:  # "/dataset/0/..." → "/dataset/..." (a DatasetEvent has one dataset)
            if e["pointer"].startswith("/dataset/0"):
                e["pointer"] = "/dataset" + e["pointer"][len("/dataset/0"):]
        raise InvalidEvent(errors)
    payload = canonical(raw)  # equal events, equal ids
    out = EventWrite(event_id=digest(payload), kind=kind, event_time=utc(event["eventTime"]),
                     payload=payload)
    if kind == "dataset":
        out.datasets, out.column_edges = found["dataset"]
        return out
    out.job = _job(event["job"], raw["job"])
    out.inputs, _ = found.get("inputs", ([], []))
    out.outputs, out.column_edges = found.get("outputs", ([], []))
    out.column_edges = _resolved(out.column_edges, [*out.inputs, *out.outputs])
    out.job.facts = job_facts(out.job, [*out.inputs, *out.outputs])
    if kind == "job":
        return out
    run, rf = event["run"], event["run"].get("facets") or _EMPTY
    nominal = rf.get("nominalTime")
    event_type = event.get("eventType")
    out.run = RunWrite(
        id=str(run["runId"]), job_id=out.job.id, event_type=event_type,
        state=EVENT_TYPE_STATE.get(event_type or "OTHER"),
        facets=raw["run"].get("facets") or {},
        parent_run_id=str(rf["parent"]["run"]["runId"]) if "parent" in rf else None,
        error_message=rf["errorMessage"]["message"] if "errorMessage" in rf else None,
        nominal_start=utc(nominal["nominalStartTime"]) if nominal else None,
        nominal_end=(utc(nominal["nominalEndTime"])
                     if nominal and nominal.get("nominalEndTime") else None),
        tags=[tag_name(t) for t in (rf.get("tags") or _EMPTY).get("tags", ())],
    )
    return out
