"""What the OpenAPI document says each route can answer besides success: the problem
documents (``application/problem+json``, see ``problems.py``) per status, and the bodies of the
routes that read their body themselves (ingestion, gate), so clients and Schemathesis
(``tests/e2e/test_openapi_fuzz.py``) see the whole contract."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from headwater.api.problems import TITLES

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

WHY = {
    400: "the body is not JSON, or cannot be decoded",
    401: "no bearer token, or an unknown, revoked or expired one",
    403: "the token's role is not enough for this route",
    404: "no such thing",
    409: "conflicts with what is stored",
    413: "the body is over the route's limit",
    415: "an unsupported Content-Encoding",
    422: "invalid input: 'errors' lists each problem with its JSON pointer",
    503: "the store cannot take the request now: retry later",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status as a problem document."""
    return {s: {"description": f"{TITLES.get(s, 'Error')}: {WHY.get(s, '')}".rstrip(": "),
                "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}
            for s in statuses}


# Every route behind a token.
AUTHENTICATED = (401, 403)


def json_body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra=`` for a route that reads its body itself (under a size limit, with
    Content-Encoding): the body it expects."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


OPENLINEAGE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "an OpenLineage RunEvent, DatasetEvent or JobEvent",
    "required": ["eventTime", "producer", "schemaURL"],
    "properties": {
        "eventType": {"type": "string"}, "eventTime": {"type": "string"},
        "producer": {"type": "string"}, "schemaURL": {"type": "string"},
        "run": {"type": "object"}, "job": {"type": "object"},
        "inputs": {"type": "array", "items": {"type": "object"}},
        "outputs": {"type": "array", "items": {"type": "object"}},
        "dataset": {"type": "object"},
    },
}


GRAPHQL_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["query"],
    "properties": {"query": {"type": "string"}, "operationName": {"type": "string"},
                   "variables": {"type": "object"}},
}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}


def document_graphql(routes: list[Any]) -> None:
    """The GraphQL routes as served: GET also answers the GraphiQL page (HTML), a request
    Strawberry cannot read is a plain-text 400, a heavy query when every heavy slot is busy a
    503 (``Retry-After``); errors inside a query are a 200 with ``errors``."""
    for route in routes:
        if not isinstance(route, APIRoute):  # the websocket route has no OpenAPI entry
            continue
        methods = route.methods or set()
        extra: dict[int | str, dict[str, Any]] = {
            400: {"description": "not a GraphQL request Strawberry can read", "content": _TEXT},
            **problems(*AUTHENTICATED, 413, 503)}
        if "GET" in methods:
            extra[200] = {"description": "the result, or the GraphiQL page for a browser",
                          "content": {"application/json": {"schema": {"type": "object"}},
                                      "text/html": {"schema": {"type": "string"}}}}
        if "POST" in methods:
            route.openapi_extra = json_body("a GraphQL request", GRAPHQL_REQUEST)
        route.responses = {**route.responses, **extra}
