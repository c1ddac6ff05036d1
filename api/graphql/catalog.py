"""Datasets, fields, jobs, runs, schema history and quality results as GraphQL types. One
module because the types refer to each other (a dataset's producers are jobs, whose outputs
are datasets)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from headwater.api.graphql.context import Info, clamp
from headwater.api.graphql.cost import First
from headwater.api.graphql.decisions import GateDecision
from headwater.catalog import DatasetRecord, FieldRecord, JobRecord, QualityRecord, RunRecord
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.reading import SchemaDiff as SchemaDiffRecord
from headwater.catalog.reading import SchemaHistoryEntry
from headwater.lineage import detector

# Lists of a dataset's or a job's neighbours, and of fields: `first` by default and at most.
NEIGHBOURS = First(100, 1_000)
FIELDS = (1_000, 10_000)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.enum
class RunState(Enum):
    NEW = "NEW"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    OTHER = "OTHER"


@strawberry.type
class Field:
    name: str
    type: str | None
    description: str | None
    classifications: list[str]
    learned_from: str = strawberry.field(
        default="schema",
        description="Where the catalog learned of this column: `schema` (the dataset's latest "
        "schema facet lists it) or `columnLineage` (only column lineage names it, as an output "
        "or an input field; `type` is then null). Either way it is a column of the dataset: "
        "classified, inherited, gated, analysed for impact and planned for erasure.")
    field_id: strawberry.Private[str | None] = None
    dataset_id: strawberry.Private[str | None] = None

    @staticmethod
    def of(f: FieldRecord, namespace: str | None = None, name: str | None = None) -> Field:
        where = (namespace, name) if namespace and name else None
        return Field(name=f.name, type=f.type, description=f.description,
                     classifications=f.classifications, learned_from=f.learned_from,
                     field_id=field_id(*where, f.name) if where else None,
                     dataset_id=dataset_id(*where) if where else None)

    @strawberry.field(description="Quality results about this column, newest first.")
    async def quality_results(self, info: Info, first: int = 20,
                              failures_only: bool = False) -> list[QualityResult]:
        if not self.dataset_id:
            return []
        return await _quality(info, self.dataset_id, first, None, self.name, failures_only)

    @strawberry.field(description="Classifications that flow here from upstream fields along "
                      "column lineage (not through masking or declassifying derivations).")
    async def inherited_classifications(self, info: Info) -> list[str]:
        return await info.context.inherited.load(self.field_id) if self.field_id else []

    @strawberry.field(description="Classifications the field's name suggests (email, phone, IP "
                      "address, national ids) that it does not carry yet: for a steward to "
                      "accept with classifyField, never applied by themselves. Empty unless "
                      "HEADWATER_CLASSIFICATION_SUGGESTIONS is on.")
    async def suggested_classifications(self, info: Info) -> list[str]:
        if not info.context.suggestions:
            return []
        inherited = await info.context.inherited.load(self.field_id) if self.field_id else []
        return detector.suggest(self.name, [*self.classifications, *inherited])


@strawberry.type
class TypeChange:
    field: str
    from_: str | None = strawberry.field(name="from")
    to: str | None


@strawberry.type
class SchemaDiff:
    added: list[str]
    removed: list[str]
    type_changed: list[TypeChange] = strawberry.field(extensions=[First(*FIELDS)])

    @staticmethod
    def of(d: SchemaDiffRecord) -> SchemaDiff:
        return SchemaDiff(added=d.added, removed=d.removed,
                          type_changed=[TypeChange(field=c.field, from_=c.old, to=c.new)
                                        for c in d.type_changed])


@strawberry.type
class SchemaVersion:
    version: int
    created_at: datetime
    run_id: strawberry.ID | None
    fields: list[Field] = strawberry.field(extensions=[First(*FIELDS)])
    diff: SchemaDiff | None

    @staticmethod
    def of(entry: SchemaHistoryEntry) -> SchemaVersion:
        v = entry.version
        return SchemaVersion(
            version=v.version, created_at=datetime.fromisoformat(v.created_at),
            run_id=strawberry.ID(v.run_id) if v.run_id else None,
            fields=[Field.of(f) for f in v.fields],
            diff=SchemaDiff.of(entry.diff) if entry.diff else None,
        )


@strawberry.type
class QualityResult:
    assertion: str
    field: str | None
    success: bool
    run_id: strawberry.ID | None
    observed_at: datetime
    source: str
    observed_value: JSON | None = None

    @staticmethod
    def of(q: QualityRecord) -> QualityResult:
        return QualityResult(assertion=q.assertion, field=q.field, success=q.success,
                             run_id=strawberry.ID(q.run_id) if q.run_id else None,
                             observed_at=datetime.fromisoformat(q.observed_at), source=q.source,
                             observed_value=q.value)


@strawberry.type
class QualitySummary:
    status: str  # "passing", "failing" or "unknown" (no results yet)
    failing: list[QualityResult] = strawberry.field(extensions=[First(100, 1_000)])
    # the newest result of each assertion
    latest: list[QualityResult] = strawberry.field(extensions=[First(100, 1_000)])


async def _quality(info: Info, dataset: str, first: int, run_id: strawberry.ID | None,
                   field: str | None, failures_only: bool) -> list[QualityResult]:
    rows = await info.context.call(info.context.catalog.quality_results, dataset, clamp(first),
                                   str(run_id) if run_id else None, field, failures_only)
    return [QualityResult.of(q) for q in rows]


@strawberry.type
class Dataset:
    id: strawberry.ID
    namespace: str
    name: str
    description: str | None
    retention_days: int | None
    owners: list[str]
    tags: list[str]
    updated_at: datetime | None
    lifecycle_state: str | None = strawberry.field(
        default=None,
        description="The latest change of the dataset's lifecycle (OpenLineage "
        "lifecycleStateChange, by event time): CREATE, ALTER, OVERWRITE, TRUNCATE, RENAME or "
        "DROP; null when no producer reported one.")
    lifecycle_changed_at: datetime | None = strawberry.field(
        default=None, description="When that change happened (its event time).")
    dropped_at: datetime | None = strawberry.field(
        default=None, description="When the dataset was dropped, if its latest lifecycle "
        "change is a DROP; null otherwise (a later CREATE or OVERWRITE clears it).")

    @staticmethod
    def of(d: DatasetRecord) -> Dataset:
        return Dataset(id=strawberry.ID(d.id), namespace=d.namespace, name=d.name,
                       description=d.description, retention_days=d.retention_days,
                       owners=d.owners, tags=d.tags, updated_at=_dt(d.updated_at),
                       lifecycle_state=d.lifecycle_state,
                       lifecycle_changed_at=_dt(d.lifecycle_at), dropped_at=_dt(d.dropped_at))

    @strawberry.field(extensions=[First(*FIELDS)])
    async def fields(self, info: Info) -> list[Field]:
        return [Field.of(f, self.namespace, self.name)
                for f in await info.context.fields.load(self.id)]

    @strawberry.field(description="Union over the fields, inherited classifications included.")
    async def classifications(self, info: Info) -> list[str]:
        fields = await info.context.fields.load(self.id)
        inherited = await info.context.inherited.load_many(
            [field_id(self.namespace, self.name, f.name) for f in fields])
        return sorted({c for f in fields for c in f.classifications}
                      | {c for cs in inherited for c in cs})

    @strawberry.field
    async def schema_versions(self, info: Info, first: int = 20) -> list[SchemaVersion]:
        history = await info.context.call(info.context.catalog.schema_history, self.id,
                                          clamp(first))
        return [SchemaVersion.of(entry) for entry in history]

    @strawberry.field(description="Newest first; filter by run, by field, or failures only.")
    async def quality_results(self, info: Info, first: int = 20,
                              run_id: strawberry.ID | None = None, field: str | None = None,
                              failures_only: bool = False) -> list[QualityResult]:
        return await _quality(info, self.id, first, run_id, field, failures_only)

    @strawberry.field(description="The latest status of each assertion on this dataset.")
    async def quality_summary(self, info: Info) -> QualitySummary:
        summary = await info.context.call(info.context.catalog.quality_summary, self.id)
        return QualitySummary(status=summary.status,
                              failing=[QualityResult.of(q) for q in summary.failing],
                              latest=[QualityResult.of(q) for q in summary.latest])

    @strawberry.field(extensions=[NEIGHBOURS])
    async def producers(self, info: Info, first: int = NEIGHBOURS.default) -> list[Job]:
        producers, _ = await info.context.dataset_jobs.load(self.id)
        return await load_jobs(info, producers[:first])

    @strawberry.field(extensions=[NEIGHBOURS])
    async def consumers(self, info: Info, first: int = NEIGHBOURS.default) -> list[Job]:
        _, consumers = await info.context.dataset_jobs.load(self.id)
        return await load_jobs(info, consumers[:first])


async def load_jobs(info: Info, ids: list[str]) -> list[Job]:
    return [Job.of(j) for j in await info.context.jobs.load_many(ids) if j is not None]


async def load_datasets(info: Info, ids: list[str]) -> list[Dataset]:
    return [Dataset.of(d) for d in await info.context.datasets.load_many(ids) if d is not None]


@strawberry.type
class Run:
    id: strawberry.ID
    state: RunState
    started_at: datetime | None
    ended_at: datetime | None
    error_message: str | None
    parent_run_id: strawberry.ID | None
    job_id: strawberry.Private[str]

    @staticmethod
    def of(r: RunRecord) -> Run:
        return Run(id=strawberry.ID(r.id), state=RunState(r.state), started_at=_dt(r.started_at),
                   ended_at=_dt(r.ended_at), error_message=r.error_message,
                   parent_run_id=strawberry.ID(r.parent_run_id) if r.parent_run_id else None,
                   job_id=r.job_id)

    @strawberry.field(description="The gate's latest decision for this run, if it asked.")
    async def gate_decision(self, info: Info) -> GateDecision | None:
        rows = await info.context.call(info.context.services.gate.decisions, 1, str(self.id))
        return GateDecision.of(rows[0]) if rows else None

    @strawberry.field
    async def job(self, info: Info) -> Job:
        record = await info.context.jobs.load(self.job_id)
        assert record is not None, f"run {self.id} points at missing job {self.job_id}"
        return Job.of(record)


@strawberry.type
class Job:
    id: strawberry.ID
    namespace: str
    name: str
    description: str | None
    type: str | None
    sql: str | None

    @staticmethod
    def of(j: JobRecord) -> Job:
        return Job(id=strawberry.ID(j.id), namespace=j.namespace, name=j.name,
                   description=j.description, type=j.job_type, sql=j.sql)

    @strawberry.field(extensions=[NEIGHBOURS])
    async def inputs(self, info: Info, first: int = NEIGHBOURS.default) -> list[Dataset]:
        inputs, _ = await info.context.job_datasets.load(self.id)
        return await load_datasets(info, inputs[:first])

    @strawberry.field(extensions=[NEIGHBOURS])
    async def outputs(self, info: Info, first: int = NEIGHBOURS.default) -> list[Dataset]:
        _, outputs = await info.context.job_datasets.load(self.id)
        return await load_datasets(info, outputs[:first])

    @strawberry.field
    async def runs(self, info: Info, first: int = 20) -> list[Run]:
        rows = await info.context.call(info.context.catalog.runs, self.id, clamp(first))
        return [Run.of(r) for r in rows]

    @strawberry.field
    async def latest_run(self, info: Info) -> Run | None:
        rows = await info.context.call(info.context.catalog.runs, self.id, 1)
        return Run.of(rows[0]) if rows else None
