"""``POST /api/v1/gate``: may this run go ahead? And the decision log."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError

from headwater.api.problems import Problem
from headwater.api.responses import OrjsonResponse
from headwater.api.security import require
from headwater.catalog import DecisionRecord, Flow
from headwater.ingestion.intake import InvalidEvent, parse_json
from headwater.ingestion.normalize import normalize
from headwater.policies.gate import Gate, GateRequest

router = APIRouter()


class Ref(BaseModel):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)


class Context(BaseModel):
    purpose: str | None = None
    environment: str | None = None
    principal: str | None = None


class PlainGateRequest(BaseModel):
    job: Ref
    inputs: list[Ref] = []
    outputs: list[Ref] = []
    context: Context = Context()


def _purpose(tags: list[str]) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith("purpose:")), None)


def gate_request(body: Any) -> GateRequest:
    """From an OpenLineage RunEvent (usually START) or the plain job/inputs/outputs form."""
    if isinstance(body, dict) and "run" in body:
        event = normalize(body)  # InvalidEvent with pointers when it is not a valid event
        assert event.job is not None and event.run is not None
        targets = {d.id for d in event.outputs}
        flows = [Flow(e.source_dataset, e.source_field, e.target_dataset, e.target_field,
                      f"{e.type}/{e.subtype}" if e.subtype else e.type, e.masking)
                 for e in event.column_edges if e.target_dataset in targets]
        given = body.get("context")
        context: dict[str, Any] = given if isinstance(given, dict) else {}
        return GateRequest(
            job=(event.job.namespace, event.job.name),
            inputs=[(d.namespace, d.name) for d in event.inputs],
            outputs=[(d.namespace, d.name) for d in event.outputs],
            purpose=context.get("purpose") or _purpose(event.run.tags) or _purpose(event.job.tags),
            environment=context.get("environment"), principal=context.get("principal"),
            run_id=event.run.id, job_tags=event.job.tags, flows=flows or None)
    try:
        plain = PlainGateRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidEvent.from_pydantic(exc) from None
    return GateRequest(job=(plain.job.namespace, plain.job.name),
                       inputs=[(r.namespace, r.name) for r in plain.inputs],
                       outputs=[(r.namespace, r.name) for r in plain.outputs],
                       purpose=plain.context.purpose, environment=plain.context.environment,
                       principal=plain.context.principal)


def decision_json(d: DecisionRecord) -> dict[str, Any]:
    return {"decision": d.decision, "reasons": d.reasons, "masks": d.masks, "decisionId": d.id,
            "policyRevision": d.policy_revision, "engine": d.engine, "time": d.time,
            "jobId": d.job_id, "runId": d.run_id, "principal": d.principal,
            "inputDigest": d.input_digest}


@router.post("/api/v1/gate")
async def post_gate(request: Request, principal: str = Depends(require("producer"))
                    ) -> OrjsonResponse:
    gate: Gate = request.app.state.gate
    try:
        req = gate_request(parse_json(await request.body()))
    except InvalidEvent as exc:
        raise Problem(422, "the gate request is neither a valid OpenLineage RunEvent nor "
                      "{job, inputs, outputs, context}", exc.errors) from None
    result = await asyncio.to_thread(gate.decide, req, req.principal or principal)
    # A response, not a dict: FastAPI would walk a dict through jsonable_encoder first.
    return OrjsonResponse({**decision_json(result.record),
                           "timings": {"enrichMs": round(result.enrich_ms, 3),
                                       "evaluateMs": round(result.evaluate_ms, 3)}})


@router.get("/api/v1/gate/decisions")
async def get_decisions(request: Request, run_id: str | None = Query(None, alias="runId"),
                        job_id: str | None = Query(None, alias="jobId"),
                        first: int = Query(50, ge=1, le=500),
                        _: str = Depends(require("viewer"))) -> dict[str, Any]:
    rows = await asyncio.to_thread(request.app.state.store.decisions, first, run_id, job_id)
    return {"decisions": [decision_json(d) for d in rows]}

