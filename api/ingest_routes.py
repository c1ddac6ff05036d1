"""``POST /api/v1/lineage``, ``/api/v1/lineage/batch`` and ``/api/v1/quality``: the HTTP side
of the ingestion service (the single write path)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from headwater.api.auth import require
from headwater.api.bodies import read_limited
from headwater.api.documented import AUTHENTICATED, OPENLINEAGE_EVENT, json_body, problems
from headwater.api.responses import OrjsonResponse
from headwater.ingestion.service import Intake

router = APIRouter()
EVENTS = "send fewer events per request"


async def post_event(request: Request) -> OrjsonResponse:
    await _producer(request)
    ingestion: Intake = request.app.state.services.ingestion
    body = await read_limited(request, ingestion.max_body_bytes, EVENTS)
    done = await ingestion.accept(body, request.headers.get("content-encoding"))
    return OrjsonResponse({"status": "created" if done.new else "duplicate",
                           "eventId": done.event_id}, status_code=201 if done.new else 200)


# One event per request is the hot path: it is served by a plain Starlette route, because
# FastAPI's per-request layers (dependency solving, its handler) cost more than validating and
# storing the event (single POSTs/s: +12 % in bench/ingest.py A/B runs, up to +50 % in shorter
# ones). The API route after it never answers a request
# (the plain one matches first); it keeps the endpoint in the OpenAPI document.
_producer = require("producer")
router.add_route("/api/v1/lineage", post_event, methods=["POST"])
router.add_api_route("/api/v1/lineage", post_event, methods=["POST"], status_code=201,
                     response_class=OrjsonResponse, dependencies=[Depends(_producer)],
                     openapi_extra=json_body("one event (gzip or deflate allowed)",
                                             OPENLINEAGE_EVENT),
                     responses={200: {"description": "a duplicate of an event already stored"},
                                **problems(400, *AUTHENTICATED, 409, 413, 415, 422, 503)})


@router.post("/api/v1/lineage/batch",
             openapi_extra=json_body("a JSON array or NDJSON of events; each is reported",
                                     {"type": "array", "items": OPENLINEAGE_EVENT}),
             responses=problems(400, *AUTHENTICATED, 413, 415, 422, 503))
async def post_batch(request: Request, _: str = Depends(require("producer"))) -> OrjsonResponse:
    ingestion: Intake = request.app.state.services.ingestion
    body = await read_limited(request, ingestion.max_body_bytes, EVENTS)
    done = await ingestion.accept_batch(body, request.headers.get("content-encoding"))
    return OrjsonResponse({"created": done.created, "duplicate": done.duplicate,
                           "invalid": done.invalid, "conflict": done.conflict,
                           "results": done.results})


@router.post("/api/v1/quality", status_code=201,
             openapi_extra=json_body("quality results from one source", {
                 "type": "object", "required": ["source", "results"],
                 "properties": {"source": {"type": "string"},
                                "results": {"type": "array", "items": {"type": "object"}}}}),
             responses=problems(400, *AUTHENTICATED, 413, 422, 503))
async def post_quality(request: Request, _: str = Depends(require("producer"))
                       ) -> OrjsonResponse:
    ingestion: Intake = request.app.state.services.ingestion
    body = await read_limited(request, ingestion.max_body_bytes, "send fewer results per request")
    done = await ingestion.accept_quality(body)
    return OrjsonResponse({"created": done.created, "duplicate": done.duplicate},
                          status_code=201)
