"""The fast list completion answers exactly what graphql-core answers, errors included."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

import pytest
import strawberry

from headwater.api.graphql.fast_lists import FastListExecutionContext


@strawberry.enum
class Kind(Enum):
    DATASET = "DATASET"
    JOB = "JOB"


@strawberry.type
class Node:
    id: strawberry.ID
    kind: Kind
    label: str | None
    depth: int
    tags: list[str]
    path: list[strawberry.ID] | None

    @strawberry.field
    def doubled(self, times: int = 2) -> int:
        return self.depth * times


@strawberry.type
class Graph:
    nodes: list[Node]
    maybe: list[Node | None]


def _graph(broken: bool = False) -> Graph:
    nodes = [Node(id=strawberry.ID(f"n{i}"), kind=Kind.JOB if i % 2 else Kind.DATASET,
                  label=None if i % 3 else f"label {i}", depth=i, tags=[f"t{i}", "x"][: i % 3],
                  path=None if i % 4 else [strawberry.ID(f"n{k}") for k in range(i % 5)])
             for i in range(50)]
    if broken:
        nodes[7].depth = None  # type: ignore[assignment]  # a null in a non-null field
        nodes[9].depth = "nine"  # type: ignore[assignment]  # a value Int refuses
        nodes[11].tags = ["a", None]  # type: ignore[list-item]  # a null in a [String!]
        nodes[13].depth = 2**31  # an int beyond GraphQL's 32 bits
        nodes[15].depth = True  # type: ignore[assignment]  # a bool, which Int serialises as 1
    return Graph(nodes=nodes, maybe=[nodes[0], None, nodes[1], nodes[13], nodes[15]])


@strawberry.type
class Query:
    @strawberry.field
    def graph(self, broken: bool = False) -> Graph:
        return _graph(broken)

    @strawberry.field
    def later(self) -> list[Node]:  # items that are awaitables
        async def one(n: Node) -> Node:
            return n
        return [one(n) for n in _graph().nodes[:3]]  # type: ignore[misc]


plain = strawberry.Schema(query=Query)
fast = strawberry.Schema(query=Query, execution_context_class=FastListExecutionContext)

QUERIES = [
    "{ graph { nodes { id kind label depth tags path } } }",
    "{ graph { nodes { __typename key: id d: depth id } } }",
    "query($with: Boolean!) { graph { nodes { id label @include(if: $with) depth @skip(if: $with) } } }",
    "{ graph { nodes { id doubled } } }",  # a resolver: graphql-core's own path
    "{ graph { nodes { id doubled(times: 3) } } }",
    "{ graph { nodes { ...N } maybe { ...N } } } fragment N on Node { id kind }",
    "{ graph(broken: true) { nodes { id depth } } }",
    "{ graph(broken: true) { maybe { id depth } } }",
    "{ graph(broken: true) { nodes { id tags } } }",
    "{ later { id depth } }",
]


def _run(schema: strawberry.Schema, query: str) -> tuple[Any, list[tuple[str, Any]]]:
    result = asyncio.run(schema.execute(query, variable_values={"with": True}))
    return result.data, [(e.message, e.path) for e in result.errors or []]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_graphql_core(query: str) -> None:
    expected = _run(plain, query)
    assert _run(fast, query) == expected
    assert expected[0] is not None or expected[1]


def test_a_broken_item_reports_graphql_cores_located_error() -> None:
    data, errors = _run(fast, "{ graph(broken: true) { nodes { id depth } } }")
    assert data is None  # non-null list of non-null items: the null propagates to the root
    assert [path for _, path in errors] == [["graph", "nodes", 7, "depth"]]


def test_ints_beyond_32_bits_are_graphql_cores_error_and_bools_its_ints() -> None:
    data, errors = _run(fast, "{ graph(broken: true) { maybe { id depth } } }")
    assert data["graph"]["maybe"][3:] == [None, {"id": "n15", "depth": 1}]
    assert [path for _, path in errors] == [["graph", "maybe", 3, "depth"]]


def test_plain_records_take_the_fast_path_and_resolvers_do_not() -> None:
    plans: list[list[str]] = []

    class Recording(FastListExecutionContext):
        def _make_plan(self, item_type: Any, field_details_list: Any) -> Any:
            plan = super()._make_plan(item_type, field_details_list)
            plans.append([key for key, *_ in plan])
            return plan

    recording = strawberry.Schema(query=Query, execution_context_class=Recording)
    _run(recording, "{ graph { nodes { __typename id d: depth tags } } }")
    _run(recording, "{ graph { nodes { id doubled } } }")
    assert plans == [["__typename", "id", "d", "tags"], []]
