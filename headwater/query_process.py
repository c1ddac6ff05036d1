"""Heavy GraphQL queries in worker processes of their own (``HEADWATER_QUERY_PROCESSES``,
default 2; 0 runs them on a thread of the server).

A heavy query (estimated cost at or above ``HEADWATER_GRAPHQL_HEAVY_COST``) spends most of its
time in Python, completing its result at ~8 µs a field. On a thread of the server that work
holds the GIL the event loop needs for every other request: in the soak, three heavy readers
took the gate's p99 from 19 to 101 ms and small reads' from 12 to 139 ms. A worker has its own
interpreter, store connections and services. The server checks the query's cost and takes a
heavy slot, hands over the text, variables and caller, and sends the JSON the worker wrote on
as it came, without reading it. Workers run at a lower priority (nice 10): when the cores are
busy, the server's own requests go first.
"""

from __future__ import annotations

import asyncio
import gc
import json
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, cast

import orjson
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from headwater.api.app import GC_THRESHOLDS
from headwater.api.graphql.context import Context
from headwater.api.graphql.cost import Limits
from headwater.api.services import Services
from headwater.settings import Settings
from headwater.workers import WorkerPool, start_worker

NICENESS = 10

_services: Services | None = None  # the worker's own, built by _start_worker
_loop: asyncio.AbstractEventLoop | None = None


@dataclass(frozen=True)
class Request:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    role: str
    principal: str
    suggestions: bool
    limits: Limits


def _start_worker(settings: Settings) -> None:
    global _services, _loop
    start_worker(settings, NICENESS)
    from headwater.app import services
    from headwater.catalog import open_store
    from headwater.policies.engine import open_engine

    store = open_store(settings.store, **settings.store_options())
    engine = open_engine(settings.policy_engine, url=settings.opa_url,
                         timeout=settings.gate_timeout_seconds)
    _services = services(settings, store, engine, worker_processes=False)
    _loop = asyncio.new_event_loop()
    gc.freeze()  # as the server does (headwater.api.app): long-lived objects out of full passes
    gc.set_threshold(*GC_THRESHOLDS)


def _execute(request: Request) -> tuple[bytes, list[dict[str, Any]]]:
    """The query's data as JSON and its errors as GraphQL formats them (the worker logs the
    unexpected ones, redacted, as the server would)."""
    from headwater.api.graphql import schema

    assert _services is not None and _loop is not None, "started without _start_worker"
    # Here it is never heavy again: the server holds its slot.
    limits = replace(request.limits, heavy_cost=request.limits.max_cost + 1)
    context = Context(_services, request.role, request.principal, request.suggestions, limits)
    result = _loop.run_until_complete(schema.execute(
        request.query, request.variables, context, operation_name=request.operation_name))
    try:
        data = orjson.dumps(result.data)
    except TypeError:  # what orjson refuses (an int beyond 64 bits), json writes
        data = json.dumps(result.data).encode()
    return data, [e.formatted for e in result.errors or ()]  # type: ignore[misc]


class _Sent(GraphQLError):
    """An error as the worker formatted it."""

    def __init__(self, formatted: dict[str, Any]) -> None:
        super().__init__(str(formatted.get("message", "")), path=formatted.get("path"),
                         extensions=formatted.get("extensions"))
        self._formatted = formatted

    @property
    def formatted(self) -> Any:
        return self._formatted


class QueryProcesses:
    """Heavy queries in ``processes`` spawned workers; a query whose worker died gets 503, the
    next one new workers."""

    def __init__(self, settings: Settings, processes: int) -> None:
        # Started by the first heavy queries (~1 s each), not with the server: a server that
        # is never asked one (an ingestion-only deployment) never pays their memory.
        self._pool = WorkerPool("heavy query", processes, _start_worker, (settings,),
                                eager=False)

    def submit(self, query: str, variables: dict[str, Any] | None, operation_name: str | None,
               context: Context) -> Future[tuple[bytes, list[dict[str, Any]]]]:
        return self._pool.submit(_execute, Request(
            query, variables, operation_name, context.role, context.principal,
            context.suggestions, context.limits or Limits()))

    async def result(self, future: Future[tuple[bytes, list[dict[str, Any]]]], *,
                     raw: bool) -> ExecutionResult:
        """The worker's answer; with ``raw`` its data stays JSON (``orjson.Fragment``) for an
        HTTP response to carry as is."""
        data, errors = await self._pool.result(future)
        # A fragment is what the response's encoder (orjson) writes out as it is.
        found = orjson.Fragment(data) if raw else orjson.loads(data)
        return ExecutionResult(data=cast(dict[str, Any], found),
                               errors=[_Sent(e) for e in errors] or None)

    def shutdown(self) -> None:
        self._pool.shutdown()
