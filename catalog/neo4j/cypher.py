"""Cypher fragments and the batched-statement helper that several concerns share."""

from __future__ import annotations

from typing import Any

import neo4j

# How far classifications are inherited along column lineage for dataset search and per-field
# inheritance (erasure discovery follows every depth).
INHERIT_DEPTH = 20
# Derivations that carry classifications: not masking, not declassified by a steward.
CARRIES = "DERIVES WHERE NOT r.masking AND NOT coalesce(r.declassified, false)"
# Every classification a field holds directly: from its tags facet and from stewards.
CLASSES = "coalesce(f.tagClasses, []) + coalesce(f.stewardClasses, [])"


def unwind(tx: neo4j.ManagedTransaction, query: str, rows: list[Any], **params: Any
           ) -> neo4j.SummaryCounters | None:
    """One UNWIND statement, skipped when there is nothing to write (a round trip saved);
    what it changed, when it ran."""
    if rows:
        return tx.run(query, params, rows=rows).consume().counters
    return None


def created(counters: neo4j.SummaryCounters | None) -> bool:
    """Whether a statement created a node or a relationship."""
    return counters is not None and (counters.nodes_created + counters.relationships_created) > 0


# The lineage graph's change counter (impact analysis's in-memory copy, catalog.adjacency):
# one node, its ``version`` bumped by every write transaction that adds, removes or changes a
# column derivation, a job edge or a dataset.
GRAPH_NODE = "HeadwaterGraph"


def bump_graph(tx: neo4j.ManagedTransaction) -> None:
    """The graph changed in this transaction: a copy built before it is stale once it commits.
    Called only when something did change (and last), so writes that change nothing, such as
    runs repeating their job's lineage, never wait on the node's lock."""
    tx.run(f"MATCH (g:{GRAPH_NODE}) SET g.version = g.version + 1").consume()


def newer(var: str, key: str) -> str:
    """Cypher twin of the embedded store's rule: a non-null incoming value that is at least as
    recent as the node replaces it."""
    return (f"{var}.{key} = CASE WHEN r.{key} IS NOT NULL AND ({var}.{key} IS NULL"
            f" OR r.t >= {var}.updatedAt) THEN r.{key} ELSE {var}.{key} END")


def union(var: str, key: str, incoming: str) -> str:
    return (f"{var}.{key} = coalesce({var}.{key}, []) + "
            f"[x IN {incoming} WHERE NOT x IN coalesce({var}.{key}, [])]")
