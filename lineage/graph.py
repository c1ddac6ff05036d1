"""Lineage graphs around a node, in one direction or both, bounded by depth and size.

Depth counts edges from the start node: a dataset's producing job is at depth 1, that job's
inputs at depth 2 (Dataset→Job and Job→Dataset are one hop each); for columns, each derivation
is one hop. BOTH is the union of the upstream and the downstream walks, not every path through
the graph (which would return the whole connected component).
"""

from __future__ import annotations

from typing import Any

from headwater.catalog import Graph, GraphEdge, GraphNode, Store
from headwater.catalog.errors import Malformed
from headwater.catalog.ids import field_id, node_kind
from headwater.catalog.resolving import resolve

MAX_DEPTH = 20
DEFAULT_MAX_NODES = 2000
# At most this many edges per node kept: a graph's size is bounded by its node limit.
MAX_EDGES_PER_NODE = 5
DIRECTIONS = ("UPSTREAM", "DOWNSTREAM", "BOTH")


class LineageError(Malformed):
    """A lineage request that cannot be answered (not a node id, a direction or a depth out of
    range): a bad request; the message says what to change."""

    def __init__(self, message: str) -> None:
        super().__init__([{"pointer": "", "message": message}])
        self.message = message

    def __str__(self) -> str:
        return self.message


def _check(direction: str, depth: int, max_nodes: int) -> None:
    if direction not in DIRECTIONS:
        raise LineageError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if not 0 <= depth <= MAX_DEPTH:
        raise LineageError(f"depth must be between 0 and {MAX_DEPTH}, not {depth}")
    if max_nodes < 1:
        raise LineageError("the node limit must be at least 1")


def _merge(a: Graph, b: Graph, limit: int) -> Graph:
    nodes: dict[str, GraphNode] = {n.id: n for n in a.nodes}
    for n in b.nodes:
        if n.id not in nodes or n.depth < nodes[n.id].depth:
            nodes[n.id] = n
    ordered = sorted(nodes.values(), key=lambda n: (n.depth, n.id))
    kept = {n.id for n in ordered[:limit]}
    edges = sorted({e for e in (*a.edges, *b.edges) if e.source in kept and e.target in kept},
                   key=lambda e: (e.source, e.target, e.transformation or ""))
    return Graph(ordered[:limit], edges, a.truncated or b.truncated or len(ordered) > limit)


def _walk(store: Store, start: str, level: str, direction: str, depth: int,
          max_nodes: int) -> Graph:
    if direction != "BOTH":
        graph = store.walk(start, level, direction, depth, max_nodes)
    else:
        graph = _merge(store.walk(start, level, "UPSTREAM", depth, max_nodes),
                       store.walk(start, level, "DOWNSTREAM", depth, max_nodes), max_nodes)
    most = max_nodes * MAX_EDGES_PER_NODE  # the edges among the kept nodes can be denser
    if len(graph.edges) > most:
        return Graph(graph.nodes, graph.edges[:most], True)
    return graph


def lineage(store: Store, node_id: str, direction: str = "BOTH", depth: int = 5,
            max_nodes: int = DEFAULT_MAX_NODES) -> Graph:
    """Dataset/job lineage around a dataset or job id; column lineage around a field id.
    ``AmbiguousId`` (a ``Conflict``) when the id names several nodes."""
    _check(direction, depth, max_nodes)
    kind = node_kind(node_id)
    if kind is None:
        raise LineageError(f"{node_id!r} is not a node id: use 'dataset:<namespace>:<name>', "
                           "'job:<namespace>:<name>' or 'datasetField:<namespace>:<name>:<field>'")
    # A raw Marquez id is read every way it can be: one node, or AmbiguousId naming them all.
    return _walk(store, resolve(store, node_id), "column" if kind == "field" else "dataset",
                 direction, depth, max_nodes)


def column_lineage(store: Store, namespace: str, name: str, field: str,
                   direction: str = "UPSTREAM", depth: int = 10,
                   max_nodes: int = DEFAULT_MAX_NODES) -> Graph:
    _check(direction, depth, max_nodes)
    return _walk(store, field_id(namespace, name, field), "column", direction, depth, max_nodes)


def marquez_graph(graph: Graph) -> dict[str, Any]:
    """The shape of Marquez's ``GET /api/v1/lineage``, so tools written for it can read ours."""
    ins: dict[str, list[dict[str, str]]] = {n.id: [] for n in graph.nodes}
    outs: dict[str, list[dict[str, str]]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        edge = {"origin": e.source, "destination": e.target}
        outs[e.source].append(edge)
        ins[e.target].append(edge)
    return {
        "graph": [
            {"id": n.id, "type": n.type if n.type != "FIELD" else "DATASET_FIELD",
             "data": {"namespace": n.namespace, "name": n.name, "field": n.field,
                      "depth": n.depth},
             "inEdges": ins[n.id], "outEdges": outs[n.id]}
            for n in graph.nodes
        ],
        "truncated": graph.truncated,
    }


__all__ = ["GraphEdge", "LineageError", "column_lineage", "lineage", "marquez_graph"]
