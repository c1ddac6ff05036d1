"""Cypher fragments and the batched-statement helper that several concerns share."""

from __future__ import annotations

import re
from typing import Any

import neo4j

# How far classifications are inherited along column lineage for dataset search and per-field
# inheritance (erasure discovery follows every depth).
INHERIT_DEPTH = 20
# Derivations that carry classifications: not masking, not declassified by a steward.
CARRIES = "DERIVES WHERE NOT r.masking AND NOT coalesce(r.declassified, false)"
# Every classification a field holds directly: from its tags facet and from stewards.
CLASSES = "coalesce(f.tagClasses, []) + coalesce(f.stewardClasses, [])"


class Batched:
    """A write transaction whose statements that answer nothing (``unwind``) wait, and go to
    the server together, as unit subqueries of one statement, before the next statement that
    answers something and before the commit: a batch's ~20 statements take ~8 round trips
    instead of one each. Order is kept, so each statement sees what the ones before wrote."""

    def __init__(self, tx: neo4j.ManagedTransaction) -> None:
        self.tx = tx
        self._waiting: list[tuple[str, dict[str, Any]]] = []

    def later(self, query: str, params: dict[str, Any]) -> None:
        self._waiting.append((query, params))

    def run(self, query: str, parameters: dict[str, Any] | None = None, **kwargs: Any
            ) -> neo4j.Result:
        self.flush()
        return self.tx.run(query, parameters, **kwargs)

    def flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        if len(waiting) == 1:
            self.tx.run(*waiting[0]).consume()
        elif waiting:
            # Each statement's parameters renamed apart: ``$rows`` of the third is ``$rows_2``.
            text = " ".join("CALL () { " + _PARAM.sub(rf"$\1_{i}", q) + " }"
                            for i, (q, _) in enumerate(waiting))
            params = {f"{k}_{i}": v for i, (_, p) in enumerate(waiting) for k, v in p.items()}
            self.tx.run(text, params).consume()


_PARAM = re.compile(r"\$(\w+)")
# What the write path's helpers take: a plain transaction (migrations, edits) or a batched one.
Tx = neo4j.ManagedTransaction | Batched


def unwind(tx: Tx, query: str, rows: list[Any], **params: Any) -> None:
    """One UNWIND statement that answers nothing, skipped when there is nothing to write (a
    round trip saved); in a ``Batched`` transaction it waits to go with the next ones."""
    if not rows:
        return
    if isinstance(tx, Batched):
        tx.later(query, {**params, "rows": rows})
    else:
        tx.run(query, params, rows=rows).consume()


def counted(tx: Tx, query: str, rows: list[Any], **params: Any) -> neo4j.SummaryCounters | None:
    """``unwind`` at once, for what it changed (None when there was nothing to write)."""
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


def bump_graph(tx: Tx) -> None:
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
