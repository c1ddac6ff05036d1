"""Governance pages: the gate's decision log, and for stewards the erasure requests (deadline,
tasks, attempts, the audit chain's verification) with review tasks closed by a note."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headwater.api.erasure_routes import view
from headwater.api.ui import queries
from headwater.api.ui.data import gql, require, services
from headwater.api.ui.web import PageError, current_user, form, render
from headwater.catalog.errors import HeadwaterError
from headwater.catalog.ids import job_id
from headwater.policies.erasure.model import REQUEST_STATES

router = APIRouter()
DECISIONS = ("allow", "mask", "deny")


@router.get("/ui/decisions", response_class=HTMLResponse)
async def decisions(request: Request, decision: str = "", job: str = "", run: str = "",
                    principal: str = "", first: int = 100) -> HTMLResponse:
    """Newest first, every filter applied by the store's query."""
    user = await current_user(request)
    if decision and decision not in DECISIONS:
        raise PageError(400, f"decision must be one of {', '.join(DECISIONS)}")
    first = max(1, min(first, 500))
    job_filter = None
    if job:
        namespace, sep, name = job.rpartition(":")
        if not sep:
            raise PageError(400, "job takes NAMESPACE:NAME")
        job_filter = job_id(namespace, name)
    rows = (await gql(request, user, queries.DECISIONS,
                      {"first": first, "run": run or None, "job": job_filter,
                       "decision": decision or None, "principal": principal or None})
            )["gateDecisions"]
    return render(request, "decisions.html", user, rows=rows, decision=decision, job=job,
                  run=run, principal=principal, first=first, choices=DECISIONS)


async def _call(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except HeadwaterError as exc:
        from headwater.api.problems import describe, status_of
        raise PageError(status_of(exc)[0], describe(exc)) from None


@router.get("/ui/erasures", response_class=HTMLResponse)
async def erasures(request: Request, status: str = "") -> HTMLResponse:
    user = await current_user(request)
    require(user, "steward")
    found = await _call(services(request).erasures.requests, status or None, 200)
    return render(request, "erasures.html", user, requests=[view(r) for r in found],
                  status=status, states=REQUEST_STATES)


@router.get("/ui/erasures/{request_id}", response_class=HTMLResponse)
async def erasure(request: Request, request_id: str) -> HTMLResponse:
    user = await current_user(request)
    require(user, "steward")
    erasures = services(request).erasures
    found, audit = await asyncio.gather(_call(erasures.get, request_id),
                                        _call(erasures.audit, request_id))
    return render(request, "erasure.html", user, r=view(found), audit=audit)


@router.post("/ui/erasures/{request_id}/tasks/{task_id}/close")
async def close_review(request: Request, request_id: str, task_id: str) -> Response:
    user = await current_user(request)
    fields = await form(request, user)  # CSRF first: a forged post learns nothing more
    require(user, "steward")
    await _call(services(request).erasures.close_review, request_id, task_id,
                fields.get("note", ""), user.name)
    return RedirectResponse(f"/ui/erasures/{request_id}#task-{task_id}", status_code=303)
