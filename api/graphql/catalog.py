"""Datasets, fields, jobs, runs, schema history and quality results as GraphQL types. One
module because the types refer to each other (a dataset's producers are jobs, whose outputs
are datasets)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from headwater.api.graphql.context import Info, clamp
from headwater.api.graphql.cost import First
from headwater.api.graphql.decisions import GateDecision
from headwater.catalog import DatasetRecord, FieldRecord, JobRecord, QualityRecord, RunRecord
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.model import RunDataset
from headwater.catalog.reading import SchemaDiff as SchemaDiffRecord
from headwater.catalog.reading import SchemaHistoryEntry
from headwater.lineage import detector

if TYPE_CHECKING:
    from headwater.api.graphql.runs import RunConnection

# Lists of a dataset's or a job's neighbours, and of fields: `first` by default and at most.
NEIGHBOURS = First(100, 1_000)
FIELDS = (1_000, 10_000)
# Per-column metrics: fewer by default than fields, since they sit inside run lists.
METRICS = First(100, 10_000)


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
    name: str | None = strawberry.field(default=None, description=(
        "The check's own name, when its producer gives one (dbt-ol: the test's name, such as"
        " not_null_orders_id); `assertion` is its kind."))

    @staticmethod
    def of(q: QualityRecord) -> QualityResult:
        return QualityResult(assertion=q.assertion, field=q.field, success=q.success,
                             run_id=strawberry.ID(q.run_id) if q.run_id else None,
                             observed_at=datetime.fromisoformat(q.observed_at), source=q.source,
                             observed_value=q.value, name=q.name)


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
class DataSource:
    name: str | None
    uri: str | None


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
    facets: strawberry.Private[dict[str, Any]]
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
                       facets=d.facets,
                       lifecycle_state=d.lifecycle_state,
                       lifecycle_changed_at=_dt(d.lifecycle_at), dropped_at=_dt(d.dropped_at))

    @strawberry.field(description="Where the data lives (dataSource facet).")
    def data_source(self) -> DataSource | None:
        source = self.facets.get("dataSource")
        if not isinstance(source, dict) or not (source.get("name") or source.get("uri")):
            return None
        return DataSource(name=source.get("name"), uri=source.get("uri"))

    @strawberry.field(extensions=[METRICS], description="Per-column metrics from the "
                      "newest dataQualityMetrics facet a run reported on this dataset.")
    def column_metrics(self) -> list[ColumnMetrics]:
        return column_metrics(self.facets.get("dataQualityMetrics"))

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


@strawberry.type(description="One try of a run: orchestrators retry under the same runId "
                 "(Airflow's try_number).")
class RunAttempt:
    number: int
    state: RunState
    started_at: datetime | None
    ended_at: datetime | None
    error_message: str | None


@strawberry.type(description="The rows and bytes a run wrote to an output (the "
                 "outputStatistics output facet).")
class OutputStatistics:
    row_count: int | None
    size: int | None = strawberry.field(description="Bytes.")
    file_count: int | None


@strawberry.type(description="Per-column metrics (the dataQualityMetrics input facet).")
class ColumnMetrics:
    field: str
    null_count: int | None
    distinct_count: int | None
    sum: float | None
    count: float | None
    min: float | None
    max: float | None
    quantiles: JSON | None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def column_metrics(facet: object) -> list[ColumnMetrics]:
    columns = facet.get("columnMetrics") if isinstance(facet, dict) else None
    if not isinstance(columns, dict):
        return []
    return [ColumnMetrics(field=name, null_count=_int(m.get("nullCount")),
                          distinct_count=_int(m.get("distinctCount")), sum=_num(m.get("sum")),
                          count=_num(m.get("count")), min=_num(m.get("min")),
                          max=_num(m.get("max")), quantiles=m.get("quantiles"))
            for name, m in sorted(columns.items()) if isinstance(m, dict)]


@strawberry.type(description="A dataset as a run read or wrote it.")
class DatasetVersionRef:
    version: int | None = strawberry.field(
        description="The schema version current for the dataset when the run saw it.")
    facets: JSON = strawberry.field(description="The run's input or output facets for this "
                                    "dataset, as sent.")
    dataset_id: strawberry.Private[str]

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset:
        record = await info.context.datasets.load(self.dataset_id)
        assert record is not None, f"run points at missing dataset {self.dataset_id}"
        return Dataset.of(record)

    @strawberry.field(description="Rows and bytes written (outputs that report them).")
    def output_statistics(self) -> OutputStatistics | None:
        stats = self.facets.get("outputStatistics") if isinstance(self.facets, dict) else None
        if not isinstance(stats, dict):
            return None
        return OutputStatistics(row_count=_int(stats.get("rowCount")),
                                size=_int(stats.get("size")),
                                file_count=_int(stats.get("fileCount")))

    @strawberry.field(extensions=[METRICS],
                      description="Column metrics the run measured on this input.")
    def column_metrics(self) -> list[ColumnMetrics]:
        return column_metrics(self.facets.get("dataQualityMetrics")
                              if isinstance(self.facets, dict) else None)

    @staticmethod
    def of(d: RunDataset) -> DatasetVersionRef:
        return DatasetVersionRef(version=d.version, facets=JSON(d.facets), dataset_id=d.dataset_id)


# A run's inputs, outputs and attempts: `first` by default and at most.
RUN_LISTS = First(50, 1_000)


@strawberry.type
class Run:
    id: strawberry.ID
    state: RunState = strawberry.field(description="The latest attempt's state.")
    started_at: datetime | None = strawberry.field(description="The first attempt's start.")
    ended_at: datetime | None = strawberry.field(description="The latest attempt's end.")
    error_message: str | None = strawberry.field(description="The latest attempt's error.")
    parent_run_id: strawberry.ID | None
    nominal_start_time: datetime | None = strawberry.field(
        description="When the run was scheduled to start (nominalTime facet).")
    nominal_end_time: datetime | None
    tags: list[str] = strawberry.field(description="From the run's tags facet.")
    facets: JSON = strawberry.field(description="The run facets as sent, the newest of each "
                                    "name (by event time).")
    job_id: strawberry.Private[str]

    @staticmethod
    def of(r: RunRecord) -> Run:
        return Run(id=strawberry.ID(r.id), state=RunState(r.state), started_at=_dt(r.started_at),
                   ended_at=_dt(r.ended_at), error_message=r.error_message,
                   parent_run_id=strawberry.ID(r.parent_run_id) if r.parent_run_id else None,
                   nominal_start_time=_dt(r.nominal_start), nominal_end_time=_dt(r.nominal_end),
                   tags=r.tags, facets=JSON(r.facets), job_id=r.job_id)

    @strawberry.field(description="From the first start to the latest attempt's end.")
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds() * 1000)

    @strawberry.field(description="The gate's latest decision for this run, if it asked.")
    async def gate_decision(self, info: Info) -> GateDecision | None:
        record = await info.context.decisions.load(str(self.id))
        return GateDecision.of(record) if record else None

    @strawberry.field
    async def job(self, info: Info) -> Job:
        record = await info.context.jobs.load(self.job_id)
        assert record is not None, f"run {self.id} points at missing job {self.job_id}"
        return Job.of(record)

    @strawberry.field(description="The run this one is part of (parent facet), if stored.")
    async def parent(self, info: Info) -> Run | None:
        if self.parent_run_id is None:
            return None
        record = await info.context.runs.load(str(self.parent_run_id))
        return Run.of(record) if record else None

    @strawberry.field(description="Runs whose parent is this run, newest first.")
    async def children(self, info: Info, first: int = 50, after: str | None = None
                       ) -> Annotated[RunConnection, strawberry.lazy(
                           "headwater.api.graphql.runs")]:
        from headwater.api.graphql.runs import run_page

        return await run_page(info, None, None, None, None, str(self.id), first, after)

    @strawberry.field(extensions=[RUN_LISTS], description="Oldest first. A retry under the "
                      "same runId is a new attempt: by Airflow's try_number where sent, else a "
                      "START after the run ended.")
    async def attempts(self, info: Info) -> list[RunAttempt]:
        found = await info.context.attempts.load(str(self.id))
        if not found:  # no transitions stored: the run itself is its one attempt
            return [RunAttempt(number=1, state=self.state, started_at=self.started_at,
                               ended_at=self.ended_at, error_message=self.error_message)]
        return [RunAttempt(number=a.number, state=RunState(a.state), started_at=_dt(a.started_at),
                           ended_at=_dt(a.ended_at), error_message=a.error_message)
                for a in found]

    @strawberry.field(extensions=[RUN_LISTS], description="The dataset versions it read.")
    async def inputs(self, info: Info) -> list[DatasetVersionRef]:
        read, _ = await info.context.run_datasets.load(str(self.id))
        return [DatasetVersionRef.of(d) for d in read]

    @strawberry.field(extensions=[RUN_LISTS], description="The dataset versions it wrote.")
    async def outputs(self, info: Info) -> list[DatasetVersionRef]:
        _, wrote = await info.context.run_datasets.load(str(self.id))
        return [DatasetVersionRef.of(d) for d in wrote]


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

    @strawberry.field(description="From the job's ownership facet.")
    async def owners(self, info: Info) -> list[str]:
        return (await info.context.tags_owners.load(self.id))[1]

    @strawberry.field(description="From the job's tags facet.")
    async def tags(self, info: Info) -> list[str]:
        return (await info.context.tags_owners.load(self.id))[0]

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
