"""``POST /api/v1/gate``: may this run go ahead? And the decision log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from headwater.api.auth import require, require_identity
from headwater.api.bodies import read_limited
from headwater.api.documented import AUTHENTICATED, OPENLINEAGE_EVENT, json_body, problems
from headwater.api.responses import OrjsonResponse
from headwater.catalog import DecisionRecord
from headwater.catalog.tokens import Identity
from headwater.policies.gate import Gate

router = APIRouter()


def decision_json(d: DecisionRecord) -> dict[str, Any]:
    return {"decision": d.decision, "reasons": d.reasons, "masks": d.masks, "decisionId": d.id,
            "policyRevision": d.policy_revision, "engine": d.engine, "time": d.time,
            "jobId": d.job_id, "runId": d.run_id, "principal": d.principal,
            "inputDigest": d.input_digest}


@router.post("/api/v1/gate",
             openapi_extra=json_body("a planned run: an OpenLineage START event, or "
                                     "{job, inputs, outputs, context}", {"type": "object",
                                     "anyOf": [OPENLINEAGE_EVENT, {"type": "object"}]}),
             responses=problems(400, *AUTHENTICATED, 413, 422, 503))
async def post_gate(request: Request,
                    caller: Annotated[Identity, Depends(require_identity("producer"))]
                    ) -> OrjsonResponse:
    services = request.app.state.services
    gate: Gate = services.gate
    body = await read_limited(request, gate.limits.max_body_bytes,
                              "raise HEADWATER_GATE_MAX_BODY_BYTES or ask about fewer datasets")
    # The gate's own processes (or threads): pipelines waiting to start never queue behind
    # reads.
    result = await services.bulkheads.check_gate(gate, body, caller)
    # A response, not a dict: FastAPI would walk a dict through jsonable_encoder first.
    return OrjsonResponse({**decision_json(result.record),
                           "timings": {"enrichMs": round(result.enrich_ms, 3),
                                       "evaluateMs": round(result.evaluate_ms, 3)}})


@router.get("/api/v1/gate/decisions", responses=problems(*AUTHENTICATED, 422, 503))
async def get_decisions(request: Request, run_id: str | None = Query(None, alias="runId"),
                        job_id: str | None = Query(None, alias="jobId"),
                        decision: str | None = Query(None, pattern="^(allow|mask|deny)$"),
                        principal: str | None = Query(None, max_length=200),
                        first: int = Query(50, ge=1, le=500),
                        _: str = Depends(require("viewer"))) -> dict[str, Any]:
    services = request.app.state.services
    rows = await services.bulkheads.read(services.gate.decisions, first, run_id, job_id,
                                         decision, principal)
    return {"decisions": [decision_json(d) for d in rows]}
