"""Errors over HTTP, in one place: the typed errors services raise
(``headwater.catalog.errors``) mapped to statuses, and every HTTP error written as a JSON
problem document (RFC 9457): type, title, status, detail, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from headwater.api.responses import OrjsonResponse
from headwater.catalog.errors import (
    Conflict,
    Forbidden,
    HeadwaterError,
    Invalid,
    Malformed,
    NotFound,
    StoreError,
    TooExpensive,
    TooLarge,
    Unavailable,
    Unsupported,
)

TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
    415: "Unsupported media type", 422: "Invalid event",
    503: "Service unavailable",
}

# Most specific first: Malformed is an Invalid, SchemaTooNew a StoreError.
STATUS: tuple[tuple[type[HeadwaterError], int, str], ...] = (
    (Malformed, 400, "MALFORMED"),
    (Invalid, 422, "INVALID"),
    (TooLarge, 413, "TOO_LARGE"),
    (Unsupported, 415, "UNSUPPORTED"),
    (NotFound, 404, "NOT_FOUND"),
    (Conflict, 409, "CONFLICT"),
    (Forbidden, 403, "FORBIDDEN"),
    (TooExpensive, 422, "TOO_EXPENSIVE"),
    (StoreError, 503, "UNAVAILABLE"),
    (Unavailable, 503, "UNAVAILABLE"),
)


def status_of(exc: HeadwaterError) -> tuple[int, str]:
    """(HTTP status, GraphQL error code) of a typed error."""
    for kind, status, code in STATUS:
        if isinstance(exc, kind):
            return status, code
    return 400, "BAD_REQUEST"


def describe(exc: HeadwaterError) -> str:
    """What a person reads: the error's summary when it has one; the bare message of an
    ``Invalid`` that points nowhere in particular; else the error's own text."""
    summary = getattr(exc, "summary", None)
    if summary:
        return str(summary)
    if isinstance(exc, Invalid) and exc.errors and not any(e["pointer"] for e in exc.errors):
        return "; ".join(e["message"] for e in exc.errors)
    return str(exc)


class Problem(Exception):
    def __init__(
        self, status: int, detail: str, errors: list[dict[str, Any]] | None = None,
        type_: str = "about:blank", headers: dict[str, str] | None = None, **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []
        self.type, self.headers, self.extra = type_, headers, extra


def problem_response(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank", headers: Mapping[str, str] | None = None, **extra: Any,
) -> OrjsonResponse:
    body = {"type": type_, "title": TITLES.get(status, "Error"), "status": status,
            "detail": detail, "errors": errors or [], **extra}
    return OrjsonResponse(body, status_code=status, headers=dict(headers or {}),
                          media_type="application/problem+json")


def install(app: FastAPI) -> None:
    @app.exception_handler(HeadwaterError)
    async def _typed(_: Request, exc: HeadwaterError) -> OrjsonResponse:
        status, _code = status_of(exc)
        return problem_response(status, describe(exc),
                                exc.errors if isinstance(exc, Invalid) else None)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> OrjsonResponse:
        return problem_response(exc.status, exc.detail, exc.errors, exc.type, exc.headers,
                                **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> OrjsonResponse:
        errors = [
            {"pointer": "".join(f"/{p}" for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem_response(422, "the request is invalid", errors)

