"""What a GraphQL query may cost, estimated from its text before any resolver runs.

Every list of objects in the schema is bounded: by a ``first`` argument with a maximum, or by a
cap the service enforces (a lineage graph holds at most 2,000 nodes). The estimate is the most
objects the answer can hold, each list multiplying what is selected inside it by its bound, so
``dataset { consumers { inputs { consumers { id } } } }`` costs 1 + 100 + 100 × 100 + 100 × 100 ×
100 with the default ``first: 100``; plus, for the fields that walk the graph in the store
(lineage, impact analysis), the nodes their walk may visit. Leaves (scalars, enums and lists of
them) cost nothing on their own.

A query over the budget is refused with ``TOO_EXPENSIVE``, naming its cost, the budget and the
path that costs most; a query at or above the heavy threshold needs a heavy slot
(``api.bulkheads``), else it is refused with 503 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    value_from_ast,
)
from strawberry.extensions import FieldExtension, SchemaExtension

from headwater.api.bulkheads import Bulkheads
from headwater.api.graphql.context import MAX_PAGE
from headwater.catalog.errors import Invalid, TooExpensive
from headwater.lineage.graph import DEFAULT_MAX_NODES, MAX_EDGES_PER_NODE
from headwater.lineage.impact import IMPACT_NODES

# Lists without a ``first`` argument, bounded by what the service returns at most.
CAPS: dict[tuple[str, str], int] = {
    ("LineageGraph", "nodes"): DEFAULT_MAX_NODES,
    ("LineageGraph", "edges"): DEFAULT_MAX_NODES * MAX_EDGES_PER_NODE,
}
# Work in the store beyond what the answer holds: the nodes the walk may visit.
WEIGHTS: dict[tuple[str, str], int] = {
    ("Query", "impactAnalysis"): IMPACT_NODES,
    ("Query", "lineage"): DEFAULT_MAX_NODES,
    ("Query", "columnLineage"): DEFAULT_MAX_NODES,
}
UNKNOWN_BOUND = 1_000  # a list nothing bounds (tests/unit/test_graphql_cost.py forbids them)


class First(FieldExtension):
    """A ``first`` argument on a list field: at most ``maximum`` items, ``default`` unless asked.

    A resolver that declares ``first`` itself receives it (to fetch no more than that); either
    way the list answered is cut to ``first``. ``first`` beyond the bounds is an error naming
    them, as for pages."""

    def __init__(self, default: int, maximum: int) -> None:
        self.default, self.maximum = default, maximum

    def apply(self, field: Any) -> None:
        from strawberry.annotation import StrawberryAnnotation
        from strawberry.types.arguments import StrawberryArgument

        self.passes_first = any(a.python_name == "first" for a in field.arguments)
        if not self.passes_first:
            field.arguments.append(StrawberryArgument(
                python_name="first", graphql_name=None,
                type_annotation=StrawberryAnnotation(int), default=self.default,
                description=f"At most this many items (up to {self.maximum})."))

    def _first(self, kwargs: dict[str, Any]) -> int:
        first = kwargs["first"] if self.passes_first else kwargs.pop("first", self.default)
        if not 0 <= first <= self.maximum:
            raise Invalid.one(f"first must be between 0 and {self.maximum}")
        return int(first)

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        first = self._first(kwargs)
        return next_(source, info, **kwargs)[:first]

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        first = self._first(kwargs)
        result = next_(source, info, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result[:first]


@dataclass
class Estimate:
    cost: int
    # The costliest chain of lists, outermost first: (path, bound) pairs.
    widest: list[tuple[str, int]] = field(default_factory=list)

    def advice(self) -> str:
        if not self.widest:
            return "ask for less in one query"
        chain = " › ".join(f"{path} (up to {bound})" for path, bound in self.widest)
        return (f"the costliest lists are {chain}: pass a smaller `first:` there, or nest "
                "fewer lists and send several queries")


@dataclass(frozen=True)
class Limits:
    """What one GraphQL request may take (settings ``graphql_max_cost``,
    ``graphql_heavy_cost``, ``query_timeout_seconds``)."""

    max_cost: int = 100_000
    heavy_cost: int = 20_000
    timeout_seconds: float = 10.0


class _Walker:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: Mapping[str, Any] | None,
                 operation: OperationDefinitionNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables or {})
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast(definition.default_value, GraphQLInt)

    def fields(self, parent: GraphQLObjectType, selections: SelectionSetNode | None,
               seen: frozenset[str] = frozenset()
               ) -> Iterator[tuple[GraphQLObjectType, GraphQLField, FieldNode]]:
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                name = node.name.value
                if name.startswith("__"):
                    continue  # __typename is free; introspection is bounded by the schema
                definition = parent.fields.get(name)
                if definition is not None:
                    yield parent, definition, node
            elif isinstance(node, InlineFragmentNode):
                t = (self.schema.get_type(node.type_condition.name.value)
                     if node.type_condition else parent)
                if isinstance(t, GraphQLObjectType):
                    yield from self.fields(t, node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                t = self.schema.get_type(fragment.type_condition.name.value)
                if isinstance(t, GraphQLObjectType):
                    yield from self.fields(t, fragment.selection_set, seen | {name})

    def bound(self, parent: GraphQLObjectType, definition: GraphQLField, node: FieldNode,
              page: int | None = None) -> int:
        """How many items a list field can hold in this query; ``page``: the ``first`` of the
        connection ``parent`` is (its ``edges`` hold that many)."""
        maximum = None
        strawberry_field = definition.extensions.get("strawberry-definition")
        for extension in getattr(strawberry_field, "extensions", None) or ():
            if isinstance(extension, First):
                maximum = extension.maximum
        if "first" in definition.args:
            first = definition.args["first"].default_value
            for argument in node.arguments or ():
                if argument.name.value == "first":
                    value = value_from_ast(argument.value, GraphQLInt, self.variables)
                    first = value if isinstance(value, int) else first
            first = first if isinstance(first, int) else MAX_PAGE
            return max(0, min(first, maximum if maximum is not None else MAX_PAGE))
        if page is not None and parent.name.endswith("Connection") and node.name.value == "edges":
            return page
        return CAPS.get((parent.name, node.name.value), UNKNOWN_BOUND)

    def cost(self, parent: GraphQLObjectType, selections: SelectionSetNode | None,
             path: str = "", page: int | None = None) -> Estimate:
        total, widest, widest_cost = 0, [], -1
        for owner, definition, node in self.fields(parent, selections):
            name = node.name.value
            here = f"{path}.{name}" if path else name
            weight = WEIGHTS.get((owner.name, name), 0)
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                total += weight
                continue
            if _is_list(definition.type):
                inner = self.cost(named, node.selection_set, here)  # type: ignore[arg-type]
                n = self.bound(owner, definition, node, page)
                part = n * (1 + inner.cost)
                chain = [(here, n), *inner.widest]
            else:  # a connection passes its `first` to its edges
                size = self.bound(owner, definition, node) if "first" in definition.args else None
                inner = self.cost(named, node.selection_set, here, size)  # type: ignore[arg-type]
                part, chain = 1 + inner.cost, inner.widest
            total += weight + part
            if part > widest_cost:
                widest, widest_cost = chain, part
        return Estimate(total, widest)


def _is_list(t: GraphQLOutputType) -> bool:
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def estimate(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None = None,
             variables: Mapping[str, Any] | None = None) -> Estimate:
    """The most the operation can cost (see the module's docstring)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Estimate(0)
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Estimate(0)
    return _Walker(schema, document, variables, operation).cost(root, operation.selection_set)


class Overloaded(Exception):
    """Too many heavy queries are running: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueryCost(SchemaExtension):
    """Refuses a query over the budget before anything runs; holds a heavy slot while a heavy
    query runs, refusing it (503 + Retry-After) when none is free."""

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        ec = self.execution_context
        context = ec.context
        limits: Limits = getattr(context, "limits", None) or Limits()
        assert ec.graphql_document is not None
        found = estimate(ec.schema._schema, ec.graphql_document, ec.operation_name,
                         ec.variables)
        if context is not None:
            context.cost = found.cost
        if found.cost > limits.max_cost:
            ec.result = _refused(TooExpensive(
                f"this query could cost up to {found.cost:,} and the budget is "
                f"{limits.max_cost:,}; {found.advice()}"))
            yield
            return
        slots: Bulkheads | None = getattr(getattr(context, "services", None), "bulkheads", None)
        if slots is None or found.cost < limits.heavy_cost:
            yield
            return
        if not slots.heavy.try_acquire():
            ec.result = overloaded(context, slots, limits, found.cost)
            yield
            return
        try:
            yield
        finally:
            slots.heavy.release()


def overloaded(context: Any, slots: Bulkheads, limits: Limits, cost: int) -> Any:
    """The refusal of a heavy query when every heavy slot is taken: 503 + Retry-After."""
    retry = slots.retry_after_seconds
    response = getattr(context, "response", None)
    if response is not None:
        response.status_code = 503
        response.headers["Retry-After"] = str(retry)
    return _refused(Overloaded(
        f"{slots.heavy.limit} heavy queries (cost {limits.heavy_cost:,} or more; this one "
        f"{cost:,}) are already running: retry after {retry} s, or ask for less", retry))


def _refused(error: Exception) -> Any:
    from graphql import ExecutionResult

    return ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])


__all__ = ["CAPS", "WEIGHTS", "Estimate", "First", "Limits", "Overloaded", "QueryCost",
           "estimate", "overloaded"]
