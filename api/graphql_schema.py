"""The GraphQL schema of API.md (Strawberry). Field names are contract.

Resolvers never query per item: lists of datasets/jobs/fields are resolved through DataLoaders,
which turn the N lookups of one GraphQL level into one store call.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import BaseContext
from strawberry.scalars import JSON

from headwater import lineage as lineage_api
from headwater.api.auth import RANK
from headwater.api.fast_lists import FastListExecutionContext
from headwater.catalog import (
    DatasetRecord,
    DecisionRecord,
    FieldRecord,
    Graph,
    JobRecord,
    QualityRecord,
    RunRecord,
    Store,
)
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.model import SchemaVersionRecord
from headwater.catalog.rules import CLASSIFICATION
from headwater.lineage import detector
from headwater.lineage import impact as impact_api
from headwater.policies.erasure.model import Request as ErasureModel
from headwater.policies.erasure.model import parse_iso
from headwater.policies.erasure.service import ErasureError, Erasures

MAX_PAGE = 500

K = TypeVar("K")
V = TypeVar("V")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Context(BaseContext):
    def __init__(self, store: Store, role: str,
                 write: Callable[..., Awaitable[Any]] | None = None,
                 erasures: Erasures | None = None, principal: str = "anonymous",
                 suggestions: bool = False) -> None:
        super().__init__()
        self.suggestions = suggestions
        self.store = store
        self.erasures = erasures
        self.principal = principal
        self.role = role
        self.write = write  # runs a store edit on the writer thread
        self.inherited = self._mapped_sparse(store.inherited_classifications)
        self.datasets = self._loader(store.datasets_by_id)
        self.jobs = self._loader(lambda ids: store.jobs_by_id(ids, facets=False))
        self.fields = self._mapped(store.fields)
        self.dataset_jobs = self._mapped(store.dataset_jobs)
        self.job_datasets = self._mapped(store.job_datasets)

    async def call(self, fn: Callable[..., V], *args: Any) -> V:
        return await asyncio.to_thread(fn, *args)

    def _loader(self, fn: Callable[[Sequence[str]], list[V]]) -> DataLoader[str, V]:
        async def load(keys: list[str]) -> list[V]:
            return await self.call(fn, keys)

        return DataLoader(load_fn=load)

    def _mapped_sparse(self, fn: Callable[[Sequence[str]], dict[str, list[str]]]
                       ) -> DataLoader[str, list[str]]:
        async def load(keys: list[str]) -> list[list[str]]:
            found = await self.call(fn, keys)
            return [found.get(k, []) for k in keys]

        return DataLoader(load_fn=load)

    def require(self, role: str) -> None:
        if RANK[self.role] < RANK[role]:
            raise PermissionError(f"this needs the '{role}' role; your token has '{self.role}'")

    def _mapped(self, fn: Callable[[Sequence[str]], dict[str, V]]) -> DataLoader[str, V]:
        async def load(keys: list[str]) -> list[V]:
            found = await self.call(fn, keys)
            return [found[k] for k in keys]

        return DataLoader(load_fn=load)


Info = strawberry.Info[Context, None]


@strawberry.enum
class Direction(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


@strawberry.enum
class NodeType(Enum):
    DATASET = "DATASET"
    JOB = "JOB"
    FIELD = "FIELD"


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
    field_id: strawberry.Private[str | None] = None
    dataset_id: strawberry.Private[str | None] = None

    @staticmethod
    def of(f: FieldRecord, namespace: str | None = None, name: str | None = None) -> Field:
        where = (namespace, name) if namespace and name else None
        return Field(name=f.name, type=f.type, description=f.description,
                     classifications=f.classifications,
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
    type_changed: list[TypeChange]

    @staticmethod
    def between(old: list[FieldRecord], new: list[FieldRecord]) -> SchemaDiff:
        before = {f.name: f.type for f in old}
        after = {f.name: f.type for f in new}
        return SchemaDiff(
            added=[n for n in after if n not in before],
            removed=[n for n in before if n not in after],
            type_changed=[TypeChange(field=n, from_=before[n], to=t)
                          for n, t in after.items() if n in before and before[n] != t],
        )


@strawberry.type
class SchemaVersion:
    version: int
    created_at: datetime
    run_id: strawberry.ID | None
    fields: list[Field]
    diff: SchemaDiff | None

    @staticmethod
    def of(v: SchemaVersionRecord, previous: SchemaVersionRecord | None) -> SchemaVersion:
        return SchemaVersion(
            version=v.version, created_at=datetime.fromisoformat(v.created_at),
            run_id=strawberry.ID(v.run_id) if v.run_id else None,
            fields=[Field.of(f) for f in v.fields],
            diff=SchemaDiff.between(previous.fields, v.fields) if previous else None,
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
    failing: list[QualityResult]
    latest: list[QualityResult]  # the newest result of each assertion


async def _quality(info: Info, dataset: str, first: int, run_id: strawberry.ID | None,
                   field: str | None, failures_only: bool) -> list[QualityResult]:
    rows = await info.context.call(info.context.store.quality_results, dataset,
                                   max(0, min(first, MAX_PAGE)), str(run_id) if run_id else None,
                                   field, failures_only)
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

    @staticmethod
    def of(d: DatasetRecord) -> Dataset:
        return Dataset(id=strawberry.ID(d.id), namespace=d.namespace, name=d.name,
                       description=d.description, retention_days=d.retention_days,
                       owners=d.owners, tags=d.tags, updated_at=_dt(d.updated_at))

    @strawberry.field
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
        first = max(0, min(first, 500))
        # One extra version so the oldest returned one still gets its diff.
        rows = await info.context.call(info.context.store.schema_versions, self.id, first + 1)
        return [SchemaVersion.of(v, rows[i + 1] if i + 1 < len(rows) else None)
                for i, v in enumerate(rows[:first])]

    @strawberry.field(description="Newest first; filter by run, by field, or failures only.")
    async def quality_results(self, info: Info, first: int = 20,
                              run_id: strawberry.ID | None = None, field: str | None = None,
                              failures_only: bool = False) -> list[QualityResult]:
        return await _quality(info, self.id, first, run_id, field, failures_only)

    @strawberry.field(description="The latest status of each assertion on this dataset.")
    async def quality_summary(self, info: Info) -> QualitySummary:
        latest = (await info.context.call(info.context.store.latest_quality, [self.id]))[self.id]
        results = [QualityResult.of(q) for q in latest]
        failing = [r for r in results if not r.success]
        return QualitySummary(status="unknown" if not results else
                              "failing" if failing else "passing",
                              failing=failing, latest=results)

    @strawberry.field
    async def producers(self, info: Info) -> list[Job]:
        producers, _ = await info.context.dataset_jobs.load(self.id)
        return await _jobs(info, producers)

    @strawberry.field
    async def consumers(self, info: Info) -> list[Job]:
        _, consumers = await info.context.dataset_jobs.load(self.id)
        return await _jobs(info, consumers)


async def _jobs(info: Info, ids: list[str]) -> list[Job]:
    return [Job.of(j) for j in await info.context.jobs.load_many(ids) if j is not None]


async def _datasets(info: Info, ids: list[str]) -> list[Dataset]:
    return [Dataset.of(d) for d in await info.context.datasets.load_many(ids) if d is not None]


@strawberry.type
class GateReason:
    rule: str
    message: str
    severity: str | None
    dataset: str | None
    field: str | None


@strawberry.type
class MaskDirective:
    dataset: str
    field: str
    strategy: str


@strawberry.type
class GateDecision:
    id: strawberry.ID
    decision: str
    reasons: list[GateReason]
    masks: list[MaskDirective]
    policy_revision: str
    engine: str
    principal: str
    job_id: str | None
    run_id: str | None
    decided_at: datetime

    @staticmethod
    def of(d: DecisionRecord) -> GateDecision:
        return GateDecision(
            id=strawberry.ID(d.id), decision=d.decision,
            reasons=[GateReason(rule=r.get("rule", ""), message=r.get("message", ""),
                                severity=r.get("severity"), dataset=r.get("dataset"),
                                field=r.get("field")) for r in d.reasons],
            masks=[MaskDirective(dataset=m["dataset"], field=m["field"], strategy=m["strategy"])
                   for m in d.masks],
            policy_revision=d.policy_revision, engine=d.engine, principal=d.principal,
            job_id=d.job_id, run_id=d.run_id, decided_at=datetime.fromisoformat(d.time))


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
        rows = await info.context.call(info.context.store.decisions, 1, str(self.id))
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

    @strawberry.field
    async def inputs(self, info: Info) -> list[Dataset]:
        inputs, _ = await info.context.job_datasets.load(self.id)
        return await _datasets(info, inputs)

    @strawberry.field
    async def outputs(self, info: Info) -> list[Dataset]:
        _, outputs = await info.context.job_datasets.load(self.id)
        return await _datasets(info, outputs)

    @strawberry.field
    async def runs(self, info: Info, first: int = 20) -> list[Run]:
        rows = await info.context.call(info.context.store.runs, self.id, max(0, min(first, 500)))
        return [Run.of(r) for r in rows]

    @strawberry.field
    async def latest_run(self, info: Info) -> Run | None:
        rows = await info.context.call(info.context.store.runs, self.id, 1)
        return Run.of(rows[0]) if rows else None


@strawberry.type
class LineageNode:
    id: strawberry.ID
    type: NodeType
    namespace: str
    name: str
    field: str | None
    depth: int


@strawberry.type
class LineageEdge:
    source: strawberry.ID
    target: strawberry.ID
    transformation: str | None


@strawberry.type
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool

    @staticmethod
    def of(g: Graph) -> LineageGraph:
        return LineageGraph(
            nodes=[LineageNode(id=strawberry.ID(n.id), type=NodeType(n.type),
                               namespace=n.namespace, name=n.name, field=n.field, depth=n.depth)
                   for n in g.nodes],
            edges=[LineageEdge(source=strawberry.ID(e.source), target=strawberry.ID(e.target),
                               transformation=e.transformation) for e in g.edges],
            truncated=g.truncated,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class DatasetEdge:
    node: Dataset
    cursor: str


@strawberry.type
class DatasetConnection:
    edges: list[DatasetEdge]
    page_info: PageInfo
    total_count: int


def _cursor(dataset_id: str) -> str:
    return base64.urlsafe_b64encode(dataset_id.encode()).decode()


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid cursor {cursor!r}: pass an endCursor from a previous page"
                         ) from None


async def _graph(info: Info, fn: Callable[..., Graph], *args: Any) -> LineageGraph:
    try:
        graph = await info.context.call(fn, info.context.store, *args)
    except lineage_api.LineageError as exc:
        raise ValueError(str(exc)) from None
    return LineageGraph.of(graph)


@strawberry.input
class RenameInput:
    from_: str = strawberry.field(name="from")
    to: str


@strawberry.input
class TypeChangeInput:
    field: str
    to: str


@strawberry.input
class SchemaChangeInput:
    namespace: str
    name: str
    drop_fields: list[str] | None = None
    rename_fields: list[RenameInput] | None = None
    change_types: list[TypeChangeInput] | None = None
    drop_dataset: bool | None = False


@strawberry.type
class AffectedField:
    namespace: str
    name: str
    field: str
    depth: int
    path: list[strawberry.ID]


@strawberry.type
class AffectedDataset:
    namespace: str
    name: str
    depth: int
    owners: list[str]


@strawberry.type
class ImpactReport:
    breaking: bool
    affected_fields: list[AffectedField]
    affected_datasets: list[AffectedDataset]
    affected_jobs: list[Job]
    findings: list[str]


@strawberry.enum
class ErasureStatus(Enum):
    RECEIVED = "RECEIVED"
    PLANNED = "PLANNED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


@strawberry.input
class IdentifierInput:
    kind: str
    value: str


@strawberry.input
class ErasureRequestInput:
    identifiers: list[IdentifierInput]
    jurisdiction: str = "GDPR"
    reason: str | None = None


@strawberry.type
class ErasureTask:
    id: strawberry.ID
    dataset_id: strawberry.Private[str]
    action: str
    status: str
    attempts: int
    rows_affected: int | None
    exemption: str | None
    error: str | None
    review_reason: str | None
    connector: str | None

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset:
        record = await info.context.datasets.load(self.dataset_id)
        if record is None:
            raise ValueError(f"{self.dataset_id} is no longer in the catalog")
        return Dataset.of(record)


@strawberry.type
class ErasureRequest:
    id: strawberry.ID
    status: ErasureStatus
    jurisdiction: str
    received_at: datetime
    deadline: datetime
    overdue: bool
    completed_at: datetime | None
    tasks: list[ErasureTask]

    @classmethod
    def of(cls, r: ErasureModel) -> ErasureRequest:
        return cls(
            id=strawberry.ID(r.id), status=ErasureStatus(r.status), jurisdiction=r.jurisdiction,
            received_at=parse_iso(r.received_at), deadline=parse_iso(r.deadline),
            overdue=r.overdue(),
            completed_at=parse_iso(r.completed_at) if r.completed_at else None,
            tasks=[ErasureTask(id=strawberry.ID(t.id), dataset_id=t.dataset, action=t.action,
                               status=t.status, attempts=t.attempts,
                               rows_affected=t.rows_affected, exemption=t.exemption,
                               error=t.last_error, review_reason=t.review_reason,
                               connector=t.connector) for t in r.tasks])


@strawberry.type
class Query:
    @strawberry.field
    async def gate_decisions(self, info: Info, first: int = 50,
                             run_id: strawberry.ID | None = None,
                             job_id: strawberry.ID | None = None) -> list[GateDecision]:
        if not 0 <= first <= MAX_PAGE:
            raise ValueError(f"first must be between 0 and {MAX_PAGE}")
        rows = await info.context.call(info.context.store.decisions, first,
                                       str(run_id) if run_id else None,
                                       str(job_id) if job_id else None)
        return [GateDecision.of(d) for d in rows]

    @strawberry.field
    async def namespaces(self, info: Info) -> list[str]:
        return await info.context.call(info.context.store.namespaces)

    @strawberry.field
    async def impact_analysis(self, info: Info, change: SchemaChangeInput) -> ImpactReport:
        spec = impact_api.SchemaChange(
            change.namespace, change.name, list(change.drop_fields or []),
            [(r.from_, r.to) for r in change.rename_fields or []],
            [(t.field, t.to) for t in change.change_types or []], bool(change.drop_dataset))
        try:
            r = await info.context.call(impact_api.analyse, info.context.store, spec)
        except impact_api.ImpactError as exc:
            raise ValueError(str(exc)) from None
        jobs = await info.context.call(partial(info.context.store.jobs_by_id, facets=False),
                                       r.affected_jobs)
        # The report's own records go out as they are: they carry every attribute the GraphQL
        # types read (Strawberry resolves by attribute), and a 10,000-field report would
        # otherwise be copied once more, field by field.
        return ImpactReport(
            breaking=r.breaking,
            affected_fields=cast(list[AffectedField], r.affected_fields),
            affected_datasets=cast(list[AffectedDataset], r.affected_datasets),
            # Thousands of ids known at once: one store call, not a DataLoader future per id.
            affected_jobs=[Job.of(j) for j in jobs if j is not None],
            findings=r.findings,
        )

    @strawberry.field
    async def datasets(self, info: Info, namespace: str | None = None, search: str | None = None,
                       classification: str | None = None, first: int = 50,
                       after: str | None = None) -> DatasetConnection:
        if not 0 <= first <= MAX_PAGE:
            raise ValueError(f"first must be between 0 and {MAX_PAGE}")
        ids, total = await info.context.call(info.context.store.datasets_page, namespace, search,
                                             classification, first + 1, _after(after))
        page = [d for d in await info.context.datasets.load_many(ids[:first]) if d is not None]
        edges = [DatasetEdge(node=Dataset.of(d), cursor=_cursor(d.id)) for d in page]
        return DatasetConnection(
            edges=edges, total_count=total,
            page_info=PageInfo(has_next_page=len(ids) > first,
                               end_cursor=edges[-1].cursor if edges else None),
        )

    @strawberry.field
    async def lineage(self, info: Info, node_id: strawberry.ID,
                      direction: Direction = Direction.BOTH, depth: int = 5) -> LineageGraph:
        return await _graph(info, lineage_api.lineage, str(node_id), direction.value, depth)

    @strawberry.field
    async def column_lineage(self, info: Info, namespace: str, name: str, field: str,
                             direction: Direction = Direction.UPSTREAM,
                             depth: int = 10) -> LineageGraph:
        return await _graph(info, lineage_api.column_lineage, namespace, name, field,
                            direction.value, depth)

    @strawberry.field
    async def erasure_request(self, info: Info, id: strawberry.ID) -> ErasureRequest | None:
        info.context.require("steward")
        assert info.context.erasures is not None
        try:
            return ErasureRequest.of(await info.context.call(info.context.erasures.get, str(id)))
        except ErasureError:
            return None

    @strawberry.field
    async def dataset(self, info: Info, namespace: str, name: str) -> Dataset | None:
        record = await info.context.call(info.context.store.dataset, namespace, name)
        return Dataset.of(record) if record else None

    @strawberry.field
    async def job(self, info: Info, namespace: str, name: str) -> Job | None:
        record = await info.context.call(info.context.store.job, namespace, name)
        return Job.of(record) if record else None

    @strawberry.field
    async def run(self, info: Info, id: strawberry.ID) -> Run | None:
        record = await info.context.call(info.context.store.run, str(id))
        return Run.of(record) if record else None


_CLASSIFICATION = re.compile(CLASSIFICATION)


async def _steward_edit(info: Info, fn: Callable[..., Any], *args: Any) -> None:
    info.context.require("steward")
    if info.context.write is None:
        raise PermissionError("this server does not accept edits (started with --only ingestion?)")
    await info.context.write(fn, *args)


async def _existing(info: Info, namespace: str, name: str) -> DatasetRecord:
    record = await info.context.call(info.context.store.dataset, namespace, name)
    if record is None:
        raise ValueError(f"no dataset {name!r} in namespace {namespace!r}")
    return record


async def _reloaded(info: Info, namespace: str, name: str) -> Dataset:
    return Dataset.of(await _existing(info, namespace, name))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def file_erasure_request(self, info: Info, input: ErasureRequestInput) -> ErasureRequest:
        info.context.require("steward")
        assert info.context.erasures is not None
        try:
            req = await info.context.call(
                info.context.erasures.file, [(i.kind, i.value) for i in input.identifiers],
                input.jurisdiction, input.reason, info.context.principal)
        except ErasureError as exc:
            raise ValueError(str(exc)) from exc
        return ErasureRequest.of(req)

    @strawberry.mutation
    async def classify_field(self, info: Info, namespace: str, name: str, field: str,
                             classifications: list[str]) -> Field:
        bad = [c for c in classifications if not _CLASSIFICATION.match(c)]
        if bad:
            raise ValueError(f"invalid classification {', '.join(map(repr, bad))}: use dotted "
                             "lower-case names such as 'pii.email' or 'sensitive.health'")
        record = await _existing(info, namespace, name)
        fields = {f.name: f for f in (await info.context.call(
            info.context.store.fields, [record.id]))[record.id]}
        if fields and field not in fields:
            raise ValueError(f"{name} has no field {field!r}; its fields: {', '.join(fields)}")
        await _steward_edit(info, info.context.store.classify_field, record.id, field,
                            sorted(set(classifications)))
        current = (await info.context.call(info.context.store.fields, [record.id]))[record.id]
        match = next((f for f in current if f.name == field), None)
        return Field.of(match or FieldRecord(field, classifications=sorted(classifications)),
                        namespace, name)

    @strawberry.mutation
    async def tag_dataset(self, info: Info, namespace: str, name: str, tags: list[str]) -> Dataset:
        record = await _existing(info, namespace, name)
        await _steward_edit(info, info.context.store.tag_dataset, record.id, tags, True)
        return await _reloaded(info, namespace, name)

    @strawberry.mutation
    async def untag_dataset(self, info: Info, namespace: str, name: str,
                            tags: list[str]) -> Dataset:
        record = await _existing(info, namespace, name)
        await _steward_edit(info, info.context.store.tag_dataset, record.id, tags, False)
        return await _reloaded(info, namespace, name)

    @strawberry.mutation
    async def set_retention(self, info: Info, namespace: str, name: str, days: int) -> Dataset:
        if days < 0:
            raise ValueError("days must be 0 or more")
        record = await _existing(info, namespace, name)
        await _steward_edit(info, info.context.store.set_retention, record.id, days)
        return await _reloaded(info, namespace, name)

    @strawberry.mutation(description="Declare that a derivation removes the source field's "
                         "classifications (it anonymises), or undo that with declassifies: false.")
    async def declassify_derivation(self, info: Info, source_field_id: strawberry.ID,
                                    target_field_id: strawberry.ID,
                                    declassifies: bool = True) -> bool:
        await _steward_edit(info, info.context.store.declassify_edge, str(source_field_id),
                            str(target_field_id), declassifies)
        return True


MAX_QUERY_DEPTH = 12
# Bounds on what one query may ask for: nesting depth, aliases (fan-out) and size.
# (Instances work; strawberry's stubs only admit classes, hence the ignores.)
schema = strawberry.Schema(query=Query, mutation=Mutation,
                           execution_context_class=FastListExecutionContext, extensions=[
    QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),  # type: ignore[list-item]
    MaxAliasesLimiter(30),  # type: ignore[list-item]
    MaxTokensLimiter(5000),  # type: ignore[list-item]
])
