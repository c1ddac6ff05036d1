"""Gate decisions as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from headwater.api.graphql.cost import First
from headwater.catalog import DecisionRecord


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
    reasons: list[GateReason] = strawberry.field(extensions=[First(100, 1_000)])
    masks: list[MaskDirective] = strawberry.field(extensions=[First(100, 1_000)])
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
