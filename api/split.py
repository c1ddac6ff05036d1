"""A server started with ``--only`` answers the other half's routes with directions.

Without these routes a client pointed at the wrong half of a split deployment gets a bare 404
(or a 405 for ``POST /api/v1/lineage`` on the API server) and has to guess why. With them it
gets a problem document saying what this server serves and where to go instead
(``HEADWATER_API_URL`` / ``HEADWATER_INGESTION_URL`` when set).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from headwater.api.problems import problem_response
from headwater.api.responses import OrjsonResponse

# (path, methods) served only by the API half: queries, reads, the gate and erasure.
API_ROUTES = [
    ("/graphql", ["GET", "POST"]),
    ("/api/v1/lineage", ["GET"]),
    ("/api/v1/gate", ["POST"]),
    ("/api/v1/gate/decisions", ["GET"]),
    ("/api/v1/erasure-requests", ["GET", "POST"]),
    ("/api/v1/erasure-requests/{rest:path}", ["GET", "POST"]),
]
# Served only by the ingestion half: everything that writes events and quality results.
INGESTION_ROUTES = [
    ("/api/v1/lineage", ["POST"]),
    ("/api/v1/lineage/batch", ["POST"]),
    ("/api/v1/quality", ["POST"]),
]


def add_redirect_routes(app: FastAPI, only: str | None, settings: Any) -> None:
    """For ``only="ingestion"`` answer the API's routes, for ``only="api"`` the ingestion
    routes, with a 404 problem naming the server that serves them. Nothing when serving both."""
    if only == "ingestion":
        routes, serves, other, where = (API_ROUTES, "only takes events (OpenLineage events and "
                                        "quality results)", "api", settings.api_url)
    elif only == "api":
        routes, serves, other, where = (INGESTION_ROUTES, "only answers queries (GraphQL, "
                                        "lineage reads, the gate, erasure requests)",
                                        "ingestion", settings.ingestion_url)
    else:
        return
    setting = f"HEADWATER_{other.upper()}_URL"
    go = (f"send this request to the {other} server at {where}" if where else
          f"send this request to the server started with 'headwater serve --only {other}' "
          f"(set {setting} on this server to name its address here)")

    async def elsewhere(request: Request) -> OrjsonResponse:
        return problem_response(
            404, f"this Headwater server {serves}: {request.method} {request.url.path} is "
            f"served by the {other} server; {go}", serves=only, servedBy=other, location=where)

    for path, methods in routes:
        app.add_route(path, elsewhere, methods=methods, include_in_schema=False)
