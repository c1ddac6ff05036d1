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


def unwind(tx: neo4j.ManagedTransaction, query: str, rows: list[Any], **params: Any) -> None:
    """One UNWIND statement, skipped when there is nothing to write (a round trip saved)."""
    if rows:
        tx.run(query, params, rows=rows).consume()


def newer(var: str, key: str) -> str:
    """Cypher twin of the embedded store's rule: a non-null incoming value that is at least as
    recent as the node replaces it."""
    return (f"{var}.{key} = CASE WHEN r.{key} IS NOT NULL AND ({var}.{key} IS NULL"
            f" OR r.t >= {var}.updatedAt) THEN r.{key} ELSE {var}.{key} END")


def union(var: str, key: str, incoming: str) -> str:
    return (f"{var}.{key} = coalesce({var}.{key}, []) + "
            f"[x IN {incoming} WHERE NOT x IN coalesce({var}.{key}, [])]")
