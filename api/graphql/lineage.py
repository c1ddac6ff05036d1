"""Lineage graphs (dataset, job and column level) over GraphQL."""

from __future__ import annotations

from enum import Enum

import strawberry

from headwater.api.graphql.context import Info
from headwater.catalog import Graph


@strawberry.enum
class Direction(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


@strawberry.enum
class NodeType(Enum):
    DATASET = "DATASET"
    JOB = "JOB"
    FIELD = "FIELD"


@strawberry.type
class LineageNode:
    id: strawberry.ID
    type: NodeType
    namespace: str
    name: str
    field: str | None
    depth: int


@strawberry.type
class LineageEdge:
    source: strawberry.ID
    target: strawberry.ID
    transformation: str | None


@strawberry.type
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool

    @staticmethod
    def of(g: Graph) -> LineageGraph:
        return LineageGraph(
            nodes=[LineageNode(id=strawberry.ID(n.id), type=NodeType(n.type),
                               namespace=n.namespace, name=n.name, field=n.field, depth=n.depth)
                   for n in g.nodes],
            edges=[LineageEdge(source=strawberry.ID(e.source), target=strawberry.ID(e.target),
                               transformation=e.transformation) for e in g.edges],
            truncated=g.truncated,
        )


async def lineage(info: Info, node_id: strawberry.ID, direction: Direction = Direction.BOTH,
                  depth: int = 5) -> LineageGraph:
    service = info.context.services.lineage
    return LineageGraph.of(await info.context.call(service.graph, str(node_id), direction.value,
                                                   depth))


async def column_lineage(info: Info, namespace: str, name: str, field: str,
                         direction: Direction = Direction.UPSTREAM,
                         depth: int = 10) -> LineageGraph:
    service = info.context.services.lineage
    return LineageGraph.of(await info.context.call(service.column_graph, namespace, name, field,
                                                   direction.value, depth))
