"""Lineage as a service: graphs around a node, the Marquez-shaped REST twin, and impact
analysis with its jobs resolved, so callers never hold a store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.catalog import Graph, JobRecord, Store
from headwater.catalog.errors import NotFound
from headwater.lineage.graph import column_lineage, lineage, marquez_graph
from headwater.lineage.impact import AffectedDataset, AffectedField, SchemaChange, analyse


@dataclass
class Impact:
    """An impact report with its affected jobs as records (fetched in one store call)."""

    breaking: bool
    affected_fields: list[AffectedField]
    affected_datasets: list[AffectedDataset]
    affected_jobs: list[JobRecord]
    findings: list[str]


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

    def impact(self, change: SchemaChange) -> Impact:
        """What breaks downstream of ``change``; ``ImpactError`` when it names an unknown
        dataset or field."""
        r = analyse(self.store, change)
        # Thousands of ids known at once: one store call, not a lookup per id.
        jobs = self.store.jobs_by_id(r.affected_jobs, facets=False)
        return Impact(r.breaking, r.affected_fields, r.affected_datasets,
                      [j for j in jobs if j is not None], r.findings)
