"""Lineage traversal (dataset, job and column level) and what is built on it."""

from headwater.lineage.graph import (
    MAX_DEPTH,
    LineageError,
    column_lineage,
    lineage,
    marquez_graph,
)

__all__ = ["MAX_DEPTH", "LineageError", "column_lineage", "lineage", "marquez_graph"]
