"""Erasure requests over REST: file, follow, audit; extend, retry, close reviews; callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from headwater.api.auth import require
from headwater.api.documented import AUTHENTICATED, problems
from headwater.api.responses import OrjsonResponse
from headwater.policies.erasure.model import Request as ErasureRequest
from headwater.policies.erasure.service import Audit, Erasures

router = APIRouter(prefix="/api/v1/erasure-requests",
                   responses=problems(*AUTHENTICATED, 404, 409, 422, 503))
steward = Depends(require("steward"))


class Identifier(BaseModel):
    kind: str = Field(min_length=1, max_length=64)
    value: str = Field(min_length=1, max_length=1024)


class Filing(BaseModel):
    identifiers: list[Identifier] = Field(min_length=1, max_length=100)
    jurisdiction: str = "GDPR"
    reason: str | None = Field(default=None, max_length=4000)


class Note(BaseModel):
    reason: str | None = Field(default=None, max_length=4000)
    note: str | None = Field(default=None, max_length=4000)


class Callback(BaseModel):
    token: str = Field(min_length=1)
    status: str = Field(pattern="^(done|failed)$")
    rowsAffected: int | None = Field(default=None, ge=0)
    message: str | None = Field(default=None, max_length=4000)


def view(req: ErasureRequest) -> dict[str, Any]:
    """The request as users see it: never the sealed identifiers, the lease or the callback
    secrets."""
    return {
        "id": req.id, "status": req.status, "jurisdiction": req.jurisdiction,
        "receivedAt": req.received_at, "deadline": req.deadline, "overdue": req.overdue(),
        "extension": req.extension, "completedAt": req.completed_at, "filedBy": req.filed_by,
        "reason": req.reason, "identifiers": req.identifiers,
        "identifiersDropped": req.sealed is None, "planningError": req.planning_error,
        "tasks": [{
            "id": t.id, "dataset": {"id": t.dataset, "namespace": t.namespace, "name": t.name},
            "action": t.action, "strategy": t.strategy, "status": t.status,
            "connector": t.connector, "fields": sorted(t.keys), "attempts": t.attempts,
            "rowsAffected": t.rows_affected, "exemption": t.exemption,
            "reviewReason": t.review_reason, "note": t.note, "error": t.last_error,
            "nextAttemptAt": t.next_attempt_at, "upstream": t.upstream, "owners": t.owners,
        } for t in req.tasks],
    }


async def _call(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


def _erasures(request: Request) -> Erasures:
    erasures: Erasures = request.app.state.services.erasures
    return erasures


@router.post("", status_code=202)
async def file_request(body: Filing, request: Request, principal: str = steward
                       ) -> OrjsonResponse:
    req = await _call(_erasures(request).file,
                      [(i.kind, i.value) for i in body.identifiers], body.jurisdiction,
                      body.reason, principal)
    return OrjsonResponse(view(req), status_code=202,
                          headers={"Location": f"/api/v1/erasure-requests/{req.id}"})


@router.get("")
async def list_requests(request: Request, status: str | None = Query(default=None),
                        first: int = Query(default=50, ge=1, le=500), _: str = steward
                        ) -> dict[str, Any]:
    found = await _call(_erasures(request).requests, status, first)
    return {"requests": [view(r) for r in found]}


@router.get("/{request_id}")
async def get_request(request_id: str, request: Request, _: str = steward) -> dict[str, Any]:
    return view(await _call(_erasures(request).get, request_id))


@router.get("/{request_id}/audit")
async def audit(request_id: str, request: Request, _: str = steward) -> dict[str, Any]:
    """The trail with what checking it found: ``verified`` only for an intact keyed chain
    of the length and head the request records; else ``reason`` says why not."""
    found: Audit = await _call(_erasures(request).audit, request_id)
    check = found.check
    return {"requestId": request_id, "verified": check.verified, "integrity": check.status,
            "reason": check.reason, "alg": check.alg, "length": check.length,
            "head": check.head, "entries": found.entries}


@router.post("/{request_id}/extension")
async def extend(request_id: str, body: Note, request: Request, principal: str = steward
                 ) -> dict[str, Any]:
    return view(await _call(_erasures(request).extend, request_id,
                            body.reason or "", principal))


@router.post("/{request_id}/retry")
async def retry(request_id: str, request: Request, principal: str = steward) -> dict[str, Any]:
    attempts = request.app.state.settings.erasure_max_attempts
    return view(await _call(_erasures(request).retry, request_id, principal, attempts))


@router.post("/{request_id}/tasks/{task_id}/close")
async def close_review(request_id: str, task_id: str, body: Note, request: Request,
                       principal: str = steward) -> dict[str, Any]:
    return view(await _call(_erasures(request).close_review, request_id, task_id,
                            body.note or "", principal))


@router.post("/{request_id}/tasks/{task_id}/callback")
async def callback(request_id: str, task_id: str, body: Callback, request: Request
                   ) -> dict[str, Any]:
    """Called by a webhook recipient; authenticated by the task's one-time callback token."""
    req = await _call(_erasures(request).callback, request_id, task_id, body.token,
                      body.status == "done", body.rowsAffected, body.message)
    task = req.task(task_id)
    return {"requestId": req.id, "task": task_id, "status": task.status if task else None}
