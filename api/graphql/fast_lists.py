"""Faster GraphQL execution of long lists of plain records.

graphql-core completes every field of every list item on its own (resolve info, path, null
checks, awaitable checks): about 8 µs a field, so a 600-node lineage graph spends most of its
time there rather than in the database. Where a list's items are objects whose selected fields
are all scalars read straight off the item (no resolver, no arguments, no @defer or @stream),
(or lists of non-null scalars), this context completes the list in one loop with the same
resolvers and serialisers. Anything
else, or any item the loop cannot complete cleanly (a null in a non-null field, a value the
scalar refuses), takes graphql-core's own path, so results and errors stay exactly its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (response key, reader, serialiser, nullable); reader None means __typename.
Plan = list[tuple[str, Callable[..., Any] | None, Callable[[Any], Any], bool]]
_NO_PLAN: Plan = []


class FastListExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[int, int], tuple[Any, Plan]] = {}

    def _plan(self, item_type: GraphQLOutputType, field_details_list: Any) -> Plan:
        key = (id(item_type), id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            cached = (field_details_list, self._make_plan(item_type, field_details_list))
            self._plans[key] = cached  # keeps the list alive so its id is not reused
        return cached[1]

    def _make_plan(self, item_type: GraphQLOutputType, field_details_list: Any) -> Plan:
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of:
            return _NO_PLAN
        grouped, deferred, forbidden = self.collect_subfields(object_type, field_details_list)
        if deferred or forbidden:
            return _NO_PLAN
        type_name: str = object_type.name
        plan: Plan = []
        for response_key, details in grouped.items():
            node = details[0].node
            if node.name.value == "__typename":
                plan.append((response_key, None, lambda _item: type_name, False))
                continue
            field = object_type.fields.get(node.name.value)
            if field is None or field.args or any(d.node.arguments for d in details):
                return _NO_PLAN
            if not getattr(field.resolve, "_is_default", False):
                return _NO_PLAN
            nullable = not isinstance(field.type, GraphQLNonNull)
            coerce = _leaf_coercion(field.type if nullable else field.type.of_type)  # type: ignore[union-attr]
            if coerce is None:
                return _NO_PLAN
            plan.append((response_key, _reader(field), coerce, nullable))
        return plan

    def complete_iterable_value(self, item_type: GraphQLOutputType, field_details_list: Any,
                                info: Any, path: Any, items: Iterable[Any],
                                position_context: Any) -> Any:
        plan = self._plan(item_type, field_details_list)
        if plan and self.get_stream_usage(field_details_list, path) is None:
            items = list(items)
            done = _complete(plan, items, not isinstance(item_type, GraphQLNonNull),
                             self.is_awaitable)
            if done is not None:
                return done
        return super().complete_iterable_value(item_type, field_details_list, info, path, items,
                                               position_context)


def _reader(field: GraphQLField) -> Callable[[Any], Any]:
    """What Strawberry's default resolver does for a field without one, minus its layers:
    ``getattr(item, python_name)`` (unless the schema configured another default)."""
    definition = field.extensions.get("strawberry-definition")
    if definition is not None and definition.default_resolver is getattr:
        return attrgetter(definition.python_name)
    resolve = field.resolve
    assert resolve is not None
    return lambda item: resolve(item, None)


def _int(value: Any) -> Any:
    """GraphQL Int's serialiser, with Python ints in range let straight through."""
    if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
        return value
    return GraphQLInt.serialize(value)


def _leaf_coercion(field_type: GraphQLOutputType) -> Callable[[Any], Any] | None:
    """The output coercion of a scalar or enum, or of a list of non-null ones; None for any
    other type."""
    if field_type is GraphQLInt:
        return _int
    if is_leaf_type(field_type):
        return field_type.coerce_output_value  # type: ignore[union-attr]
    if not (isinstance(field_type, GraphQLList) and isinstance(field_type.of_type, GraphQLNonNull)
            and is_leaf_type(field_type.of_type.of_type)):
        return None
    item = _leaf_coercion(field_type.of_type.of_type)
    assert item is not None

    def coerce_list(values: Any) -> list[Any] | None:
        if isinstance(values, (str, bytes, dict)):
            return None
        out = [item(v) for v in values]
        return None if any(v is None or v is Undefined for v in out) else out
    return coerce_list


def _complete(plan: Plan, items: list[Any], nullable_items: bool,
              is_awaitable: Callable[[Any], bool]) -> list[Any] | None:
    """The completed list, or None when some item needs graphql-core's full treatment."""
    out: list[Any] = []
    for item in items:
        if item is None:
            if not nullable_items:
                return None
            out.append(None)
            continue
        if is_awaitable(item):
            return None
        record = {}
        for key, resolve, coerce, nullable in plan:
            if resolve is None:
                record[key] = coerce(item)
                continue
            try:
                value = resolve(item)
                coerced = None if value is None else coerce(value)
            except Exception:  # graphql-core's path reports it, located
                return None
            if value is None:
                if not nullable:
                    return None
                record[key] = None
                continue
            if coerced is None or coerced is Undefined:
                return None
            record[key] = coerced
        out.append(record)
    return out


__all__ = ["FastListExecutionContext"]
