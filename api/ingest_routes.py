"""``POST /api/v1/lineage`` and ``/api/v1/lineage/batch``: the single write path."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request

from headwater.api.problems import Problem
from headwater.api.responses import OrjsonResponse
from headwater.api.security import require
from headwater.catalog import EventWrite, StoreError
from headwater.ingestion.intake import (
    EVENTS,
    GroupCommitter,
    InvalidEvent,
    PayloadTooLarge,
    decode_body,
    normalize,
    parse_json,
    parse_many,
)

router = APIRouter()
log = logging.getLogger("headwater.ingestion")


async def _read_body(request: Request, limit: int) -> bytes:
    """The decoded body, refusing early (413) when it is larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"body of {declared} bytes exceeds the {limit}-byte limit; "
                      "send fewer events per request")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"body exceeds the {limit}-byte limit; send fewer events per request")
        chunks.append(chunk)
    try:
        return decode_body(b"".join(chunks), request.headers.get("content-encoding"), limit)
    except PayloadTooLarge as exc:
        raise Problem(413, str(exc)) from None


async def _dead_letter(committer: GroupCommitter, raw: Any, body: bytes | None,
                       exc: InvalidEvent) -> None:
    import orjson

    payload = body if body is not None else orjson.dumps(raw)
    letter = await committer.call(committer.store.add_dead_letter, payload, "invalid event",
                                  exc.errors)
    EVENTS.labels("invalid").inc()
    run = raw.get("run") if isinstance(raw, dict) else None
    log.warning("invalid event dead-lettered", extra={
        "deadLetter": letter, "errors": exc.errors[:10],
        "runId": run.get("runId") if isinstance(run, dict) else None})


async def post_event(request: Request) -> OrjsonResponse:
    await _producer(request)
    committer: GroupCommitter = request.app.state.committer
    body = await _read_body(request, request.app.state.settings.max_body_bytes)
    try:
        event = normalize(parse_json(body))
    except InvalidEvent as exc:
        await _dead_letter(committer, None, body, exc)
        status = 400 if exc.errors and exc.errors[0]["message"].startswith("body is not") else 422
        raise Problem(status, "the OpenLineage event is invalid and was not stored (it was kept "
                      "in the dead-letter store): fix the fields listed in 'errors'",
                      exc.errors) from None
    try:
        (new,) = await committer.submit([event])
    except StoreError as exc:
        raise Problem(503, f"the event was NOT stored, retry later: {exc}") from None
    EVENTS.labels("stored" if new else "duplicate").inc()
    return OrjsonResponse(
        {"status": "created" if new else "duplicate", "eventId": event.event_id},
        status_code=201 if new else 200,
    )


# One event per request is the hot path: it is served by a plain Starlette route, because
# FastAPI's per-request layers (dependency solving, its handler) cost more than validating and
# storing the event (single POSTs/s: +12 % in bench/ingest.py A/B runs, up to +50 % in shorter
# ones). The API route after it never answers a request
# (the plain one matches first); it keeps the endpoint in the OpenAPI document.
_producer = require("producer")
router.add_route("/api/v1/lineage", post_event, methods=["POST"])
router.add_api_route("/api/v1/lineage", post_event, methods=["POST"], status_code=201,
                     response_class=OrjsonResponse,
                     dependencies=[Depends(_producer)])


@router.post("/api/v1/lineage/batch")
async def post_batch(request: Request, _: str = Depends(require("producer"))) -> OrjsonResponse:
    settings = request.app.state.settings
    committer: GroupCommitter = request.app.state.committer
    body = await _read_body(request, settings.max_body_bytes)
    try:
        raws = parse_many(body)
    except InvalidEvent as exc:
        raise Problem(400, "the batch is not a JSON array or NDJSON", exc.errors) from None
    if len(raws) > settings.max_batch_events:
        raise Problem(413, f"{len(raws)} events in one batch; the limit is "
                      f"{settings.max_batch_events}: split the batch")
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, EventWrite]] = []
    for i, raw in enumerate(raws):
        try:
            valid.append((i, normalize(raw)))
            results.append({})
        except InvalidEvent as exc:
            located = InvalidEvent(exc.errors, prefix=f"/{i}")
            await _dead_letter(committer, raw, None, located)
            results.append({"index": i, "status": "invalid", "errors": located.errors})
    try:
        stored = await committer.submit([e for _, e in valid])
    except StoreError as exc:
        raise Problem(503, f"no event of this batch was stored, retry it: {exc}") from None
    for (i, event), new in zip(valid, stored, strict=True):
        results[i] = {"index": i, "status": "created" if new else "duplicate",
                      "eventId": event.event_id}
        EVENTS.labels("stored" if new else "duplicate").inc()
    counts = {s: sum(r["status"] == s for r in results) for s in ("created", "duplicate", "invalid")}
    return OrjsonResponse({**counts, "results": results})
