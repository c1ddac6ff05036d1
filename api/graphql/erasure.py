"""Erasure requests over GraphQL: read one, file one (stewards only)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from headwater.api.graphql.catalog import Dataset
from headwater.api.graphql.context import Info
from headwater.api.graphql.cost import First
from headwater.catalog.errors import NotFound
from headwater.policies.erasure.model import Request as ErasureModel
from headwater.policies.erasure.model import parse_iso


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
            raise NotFound(f"{self.dataset_id} is no longer in the catalog")
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
    tasks: list[ErasureTask] = strawberry.field(extensions=[First(1_000, 10_000)])

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


async def erasure_request(info: Info, id: strawberry.ID) -> ErasureRequest | None:
    info.context.require("steward")
    try:
        return ErasureRequest.of(await info.context.call(info.context.services.erasures.get,
                                                         str(id)))
    except NotFound:
        return None


async def file_erasure_request(info: Info, input: ErasureRequestInput) -> ErasureRequest:
    info.context.require("steward")
    req = await info.context.call(
        info.context.services.erasures.file, [(i.kind, i.value) for i in input.identifiers],
        input.jurisdiction, input.reason, info.context.principal)
    return ErasureRequest.of(req)
