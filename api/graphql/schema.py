"""The schema: Query and Mutation, bounds on what one query may ask for (depth, aliases,
tokens, an estimated cost, a deadline), typed service errors turned into GraphQL errors
(message and ``extensions.code``, by ``api.problems``), and errors logged without the values
the caller sent."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any, cast

import strawberry
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from graphql.language import (
    DocumentNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    StringValueNode,
    Visitor,
    visit,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionResult

from headwater.api.graphql.context import Context
from headwater.api.graphql.cost import Limits, Overloaded, QueryCost, estimate, overloaded
from headwater.api.graphql.fast_lists import FastListExecutionContext
from headwater.api.graphql.query import Mutation, Query
from headwater.api.problems import describe, status_of
from headwater.catalog.errors import HeadwaterError

MAX_QUERY_DEPTH = 12
CACHED_DOCUMENTS = 256
REDACTED = "<redacted>"
MIN_REDACTED = 3  # shorter values (a flag, "1") are not identifiers; they would garble messages

log = logging.getLogger("headwater.graphql")


class Schema(strawberry.Schema):
    async def execute(self, query: str | None, variable_values: dict[str, Any] | None = None,
                      context_value: Any | None = None, root_value: Any | None = None,
                      operation_name: str | None = None, *args: Any, **kwargs: Any
                      ) -> ExecutionResult:
        """The query, stopped at the request's deadline: the resolvers still pending are
        cancelled (store calls already running on their threads finish; nothing new starts)."""
        limits: Limits = getattr(context_value, "limits", None) or Limits()
        bulkheads = getattr(getattr(context_value, "services", None), "bulkheads", None)
        try:
            async with asyncio.timeout(limits.timeout_seconds):
                heavy = (self._heavy(query, operation_name, variable_values, limits)
                         if bulkheads is not None else None)
                if (heavy is not None and heavy[1] and query is not None
                        and isinstance(context_value, Context)
                        and bulkheads.query_processes is not None):  # type: ignore[union-attr]
                    return await self._in_process(query, variable_values, operation_name,
                                                  context_value, bulkheads, limits, heavy[0])
                run = super().execute(query, variable_values, context_value, root_value,
                                      operation_name, *args, **kwargs)
                if heavy is not None and bulkheads is not None:
                    # Off the server's loop: completing a big result would stall it.
                    return await bulkheads.heavy_loop.run(run)
                return await run
        except TimeoutError:
            cost = getattr(context_value, "cost", None)
            message = (f"the query ran past its {limits.timeout_seconds:g} s deadline and was "
                       "stopped" + (f" (estimated cost {cost:,})" if cost is not None else "")
                       + "; ask for less (smaller `first:`, less depth), or raise "
                       "HEADWATER_QUERY_TIMEOUT_SECONDS")
            log.warning("GraphQL operation %s stopped at its %g s deadline",
                        operation_name or "(anonymous)", limits.timeout_seconds)
            return ExecutionResult(data=None, errors=[
                GraphQLError(message, extensions={"code": "TIMEOUT"})])
        finally:
            if isinstance(context_value, Context):
                context_value.release()

    def _heavy(self, query: str | None, operation_name: str | None,
               variables: dict[str, Any] | None, limits: Limits) -> tuple[int, bool] | None:
        """The estimated cost of a heavy query within the budget, and whether it only reads;
        None for the rest (one over the budget is refused at once, and one that does not
        parse reports its errors, on the normal path)."""
        if not query or limits.heavy_cost > limits.max_cost:
            return None
        try:
            document = parse(query)
            cost = estimate(self._schema, document, operation_name, variables).cost
        except (GraphQLError, ValueError, TypeError):
            return None
        if not limits.heavy_cost <= cost <= limits.max_cost:
            return None
        operation = get_operation_ast(document, operation_name)
        return cost, operation is not None and operation.operation == OperationType.QUERY

    async def _in_process(self, query: str, variables: dict[str, Any] | None,
                          operation_name: str | None, context: Context, bulkheads: Any,
                          limits: Limits, cost: int) -> ExecutionResult:
        """A heavy read in a worker process (headwater/query_process.py), holding a heavy slot
        until the worker is done with it, even past the deadline the caller sees."""
        context.cost = cost
        if not bulkheads.heavy.try_acquire():
            refused: ExecutionResult = overloaded(context, bulkheads, limits, cost)
            self.process_errors(refused.errors or [])
            return refused
        try:
            future = bulkheads.query_processes.submit(query, variables, operation_name,
                                                      context)
        except BaseException:
            bulkheads.heavy.release()
            raise
        future.add_done_callback(lambda _: bulkheads.heavy.release())
        try:
            return cast(ExecutionResult, await bulkheads.query_processes.result(
                future, raw=context.raw_json))
        except HeadwaterError as exc:  # the worker died: 503, retry
            if context.response is not None:
                context.response.status_code = status_of(exc)[0]
                context.response.headers["Retry-After"] = str(bulkheads.retry_after_seconds)
            failed = ExecutionResult(data=None, errors=[GraphQLError(str(exc),
                                                                     original_error=exc)])
            self.process_errors(failed.errors or [])
            return failed

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        """Errors a user can act on read as the service wrote them, with a code; only the
        unexpected ones are logged, with their traceback, and without the query's text,
        variables or literal values (erasure identifiers must never reach the log)."""
        unexpected = []
        for error in errors:
            original = error.original_error
            if isinstance(original, HeadwaterError):
                error.message = describe(original)
                error.extensions = {**(error.extensions or {}), "code": status_of(original)[1]}
            elif isinstance(original, Overloaded):
                error.extensions = {**(error.extensions or {}), "code": "OVERLOADED",
                                    "retryAfter": original.retry_after}
            else:
                unexpected.append(error)
        if unexpected:
            log_errors(unexpected, execution_context)


def log_errors(errors: list[GraphQLError], execution_context: Any) -> None:
    """One line per error: the operation's name, the message and the path, with every value
    the caller sent (variables, literal arguments) replaced by ``<redacted>``."""
    document = getattr(execution_context, "graphql_document", None)
    secrets = sorted(_sent_values(getattr(execution_context, "variables", None), document),
                     key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, secrets))) if secrets else None

    def redact(text: str) -> str:
        return pattern.sub(REDACTED, text) if pattern else text

    name = (getattr(execution_context, "operation_name", None) or "(anonymous)"
            if execution_context is not None else "(unknown)")
    for error in errors:
        where = ".".join(map(str, error.path)) if error.path else "-"
        detail = ""
        original = error.original_error
        if original is not None and original.__traceback__ is not None:
            detail = "\n" + redact("".join(traceback.format_exception(original)).rstrip())
        log.error("GraphQL error in operation %s at %s: %s%s", redact(name), where,
                  redact(error.message), detail)


def _sent_values(variables: Any, document: DocumentNode | None) -> set[str]:
    """Every scalar the caller sent, as text: in the variables and as literals in the query."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif value is not None and not isinstance(value, bool):
            found.add(str(value))

    walk(variables)
    if document is not None:
        visit(document, _Literals(found))
    return {v for v in found if len(v) >= MIN_REDACTED}


class _Literals(Visitor):
    def __init__(self, found: set[str]) -> None:
        super().__init__()
        self.found = found

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        self.found.add(node.value)

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        self.found.add(node.value)

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        self.found.add(node.value)

    def enter_enum_value(self, node: EnumValueNode, *_: Any) -> None:
        pass  # enum values are the schema's words, not the caller's data


def _shared(extension: Any) -> Any:
    """A stateless validation-rule extension built once: each instance makes its rules anew,
    and the validation cache only hits when the rules are the same objects."""
    return lambda: extension


def _extensions() -> Iterable[Any]:
    # The same document parsed and validated once (bounded LRUs): clients and the web UI's
    # pages send a few documents over and over, and validating one took most of a small
    # query's time (a dataset page: ~70 %).
    yield lambda: ParserCache(maxsize=CACHED_DOCUMENTS)
    yield lambda: ValidationCache(maxsize=CACHED_DOCUMENTS)
    # Bounds on what one query may ask for: nesting depth, aliases (fan-out), size, and its
    # estimated cost; factories, so each request has its own instances (QueryCost holds the
    # request's heavy slot).
    yield _shared(QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH))
    yield _shared(MaxAliasesLimiter(30))
    yield lambda: MaxTokensLimiter(5000)
    yield QueryCost


schema = Schema(query=Query, mutation=Mutation,
                execution_context_class=FastListExecutionContext,
                extensions=list(_extensions()))
