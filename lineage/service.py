"""Lineage as a service: graphs around a node, the Marquez-shaped REST twin, and impact
analysis with its jobs resolved, so callers never hold a store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headwater.catalog import Graph, JobRecord, Store
from headwater.catalog.errors import NotFound
from headwater.lineage.graph import column_lineage, lineage, marquez_graph
from headwater.lineage.impact import PagedReport, SchemaChange, assess


class Lineage:
    def __init__(self, store: Store) -> None:
        self.store = store

    def graph(self, node_id: str, direction: str = "BOTH", depth: int = 5) -> Graph:
        """Dataset/job lineage around a dataset or job id, column lineage around a field id;
        an empty graph when the node is unknown. ``LineageError`` for a bad request."""
        return lineage(self.store, node_id, direction, depth)

    def column_graph(self, namespace: str, name: str, field: str, direction: str = "UPSTREAM",
                     depth: int = 10) -> Graph:
        return column_lineage(self.store, namespace, name, field, direction, depth)

    def marquez(self, node_id: str, direction: str = "BOTH", depth: int = 5) -> dict[str, Any]:
        """The graph in the shape of Marquez's ``GET /api/v1/lineage``; ``NotFound`` when no
        node has that id."""
        graph = self.graph(node_id, direction, depth)
        if not graph.nodes:
            raise NotFound(f"no node {node_id!r}: ids are 'dataset:<namespace>:<name>', "
                           "'job:<namespace>:<name>' or 'datasetField:<namespace>:<name>:<field>'")
        return marquez_graph(graph)

    def impact(self, change: SchemaChange) -> PagedReport:
        """What breaks downstream of ``change``: the totals, and each list in its full stable
        order (nearest first) a page at a time; ``ImpactError`` when it names an unknown
        dataset or field. Affected jobs are ids: read a page of them with ``jobs``."""
        return assess(self.store, change)

    def jobs(self, ids: Sequence[str]) -> list[JobRecord]:
        """The jobs of ``ids`` that exist, in that order, in one store call."""
        return [j for j in self.store.jobs_by_id(ids, facets=False) if j is not None]
