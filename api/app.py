"""The FastAPI application: REST routes, GraphQL, health and metrics."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from strawberry.fastapi import GraphQLRouter

from headwater import __version__
from headwater.api import (
    erasure_routes,
    gate_routes,
    graphql,
    ingest_routes,
    lineage_routes,
    problems,
    ui,
)
from headwater.api.auth import principal_role
from headwater.api.bodies import read_limited
from headwater.api.documented import document_graphql
from headwater.api.graphql.cost import Limits
from headwater.api.responses import OrjsonResponse
from headwater.api.services import Services
from headwater.api.split import add_redirect_routes
from headwater.catalog import StoreError
from headwater.policies.engine import PolicyEngineUnavailable
from headwater.policies.erasure.subject import load_secret

GC_THRESHOLDS = (10_000, 10, 100)  # Python's defaults: (700, 10, 10)


class OrjsonGraphQLRouter(GraphQLRouter[Any, None]):
    """GraphQL over orjson: an impact report of 10,000 fields is 1.1 MB of JSON, which the
    standard library takes 19–25 ms to write and orjson 2."""

    def encode_json(self, data: object) -> bytes | str:
        try:
            return orjson.dumps(data)
        except TypeError:  # what orjson refuses (an int beyond 64 bits), json writes
            return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its errors are json.JSONDecodeError: still a 400

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:  # type: ignore[override]
        # A browser opening /graphql gets the web UI's GraphiQL, served from the installed
        # assets (Strawberry's page loads its scripts from a CDN).
        return RedirectResponse("/ui/graphiql", status_code=303)  # type: ignore[return-value]


def build_app(settings: Any, services: Services, *, only: str | None = None) -> FastAPI:
    """``only``: ``"ingestion"`` or ``"api"`` to serve one half (see docker-compose.yml)."""
    run_worker = settings.erasure_worker and only in (None, "api")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await services.ingestion.start()
        # Everything built so far (schema, drivers, engines) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise stall requests.
        gc.freeze()
        # A batch of 500 events parses into ~100,000 dicts and lists, all alive until it is
        # stored: at the default thresholds (700, 10, 10) the collector ran full passes over
        # them inside every parse, to find no garbage (batches: +25-45 % events/s without).
        gc.set_threshold(*GC_THRESHOLDS)
        stop = threading.Event()
        thread = threading.Thread(target=services.erasure_worker.run, args=(stop,),
                                  name="erasure-worker", daemon=True)
        if run_worker:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if run_worker:
                await asyncio.to_thread(thread.join, 30)
            await services.ingestion.stop()
            services.bulkheads.shutdown()

    # Swagger UI is the web UI's /docs page (offline assets); ReDoc would need a CDN.
    app = FastAPI(title="Headwater", version=__version__, lifespan=lifespan,
                  default_response_class=OrjsonResponse, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.services = services
    app.state.engine = services.engine
    problems.install(app)
    add_redirect_routes(app, only, settings)  # with --only, the other half's routes say where to go

    if only in (None, "ingestion"):
        app.include_router(ingest_routes.router)
    if only in (None, "api"):
        limits = Limits(max_cost=settings.graphql_max_cost,
                        heavy_cost=settings.graphql_heavy_cost,
                        timeout_seconds=settings.query_timeout_seconds)

        async def context(request: Request) -> graphql.Context:
            if request.method == "POST":  # refused before strawberry reads and parses it
                await read_limited(request, settings.graphql_max_body_bytes,
                                   "send a smaller query or fewer variables")
            if (request.method == "GET" and "query" not in request.query_params
                    and "text/html" in request.headers.get("accept", "")):
                # The GraphiQL page itself: a browser cannot send a token to load it; the
                # queries it sends carry the token set in its headers editor.
                return graphql.Context(services, "viewer")
            principal, role = principal_role(request)
            context = graphql.Context(services, role, principal,
                                      settings.classification_suggestions, limits)
            context.raw_json = True
            return context

        app.include_router(lineage_routes.router)
        app.include_router(gate_routes.router)
        app.include_router(erasure_routes.router)
        graphql_router = OrjsonGraphQLRouter(graphql.schema, context_getter=context)
        document_graphql(graphql_router.routes)
        app.include_router(graphql_router, prefix="/graphql")
        app.state.limits = limits
        ui.install(app, load_secret(settings.secret_key, settings.data_dir),
                   secure_cookies=(settings.public_url or "").startswith("https://"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", responses={503: {"description": "the store or the policy engine "
                                         "cannot answer: 'checks' says which"}})
    async def readyz() -> OrjsonResponse:
        checks: dict[str, str] = {}
        try:
            await services.ingestion.ping()
            checks["store"] = "ok"
        except StoreError as exc:
            checks["store"] = str(exc)
        try:
            await asyncio.to_thread(services.engine.ping)
            checks["policyEngine"] = "ok"
        except PolicyEngineUnavailable as exc:
            checks["policyEngine"] = str(exc)
        ready = all(v == "ok" for v in checks.values())
        return OrjsonResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", response_class=PlainTextResponse)  # Prometheus text format
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
