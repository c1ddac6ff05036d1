"""The one storage interface. Every backend passes ``tests/conformance``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from headwater.catalog.model import (
    DatasetRecord,
    DeadLetter,
    DecisionRecord,
    Downstream,
    EventWrite,
    FieldRecord,
    Flow,
    Graph,
    JobRecord,
    QualityRecord,
    RunRecord,
    SchemaVersionRecord,
)


class StoreError(RuntimeError):
    """The store is unreachable or refused a write; nothing in the batch was acknowledged."""


@runtime_checkable
class Store(Protocol):
    # -- writes ---------------------------------------------------------------------------
    def write_events(self, events: Sequence[EventWrite]) -> list[bool]:
        """Write a batch in ONE transaction; ``True`` per event that was new, ``False`` for a
        duplicate (same event id, already stored or earlier in the batch). Either the whole
        batch is committed durably when this returns, or it raises ``StoreError``."""
        ...

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str: ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    # -- reads ----------------------------------------------------------------------------
    def dataset(self, namespace: str, name: str) -> DatasetRecord | None: ...

    def datasets_by_id(self, ids: Sequence[str], facets: bool = True
                       ) -> list[DatasetRecord | None]:
        """In the order asked; ``facets=False`` skips the facets (cheaper for many ids)."""
        ...

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        """Current schema per dataset, with direct classifications, in schema order."""
        ...

    def schema_versions(self, dataset_id: str, first: int = 20) -> list[SchemaVersionRecord]:
        """Newest first."""
        ...

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        """Newest first, optionally only one run's, one field's, or the failures."""
        ...

    def latest_quality(self, dataset_ids: Sequence[str]) -> dict[str, list[QualityRecord]]:
        """Per dataset, the newest result of each (assertion, field)."""
        ...

    def job(self, namespace: str, name: str) -> JobRecord | None: ...

    def jobs_by_id(self, ids: Sequence[str], facets: bool = True) -> list[JobRecord | None]:
        """In the order asked; ``facets=False`` skips the facets (cheaper for many ids)."""
        ...

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per job: (input dataset ids, output dataset ids)."""
        ...

    def dataset_jobs(self, dataset_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per dataset: (producer job ids, consumer job ids)."""
        ...

    def run(self, run_id: str) -> RunRecord | None: ...

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        """Newest first (by start, else by last update)."""
        ...

    def event_count(self) -> int: ...

    def namespaces(self) -> list[str]: ...

    # -- lineage --------------------------------------------------------------------------
    def walk(self, start: str, level: str, direction: str, depth: int, limit: int) -> Graph:
        """One bounded traversal from ``start`` in ONE backend query (a recursive CTE, a
        variable-length Cypher match): ``level`` "dataset" walks Dataset→Job→Dataset edges,
        "column" walks Field→Field derivations; ``direction`` "UPSTREAM" or "DOWNSTREAM".
        Each node carries its shortest distance in edges; the start node is depth 0. At most
        ``limit`` nodes (the nearest first); ``truncated`` when the limit or the depth cut
        reachable nodes off. Edges are those among the returned nodes. A start that does not
        exist gives an empty graph."""
        ...

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        """Per field id: the classifications of every field upstream of it, following column
        derivations except masking ones (``masking: true``) and steward-declassified ones, in
        one query. Fields that inherit nothing are absent."""
        ...

    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
        """Everything that reads what changes in ``dataset_id``, for impact analysis, in a fixed
        number of queries whatever the graph's size:

        - ``fields``: every field derived from one of ``field_ids`` through column lineage,
          per origin, with its shortest depth (at most ``depth`` hops) and a parent on such a
          path; at most ``limit`` (the nearest first);
        - ``datasets``: the datasets of those fields, plus, at dataset level, datasets with no
          column lineage into them written by a job that reads ``dataset_id`` or an affected
          dataset (transitively; never through a dataset that has column lineage: its lineage
          says what it reads). Depth in dataset hops;
        - ``jobs``: jobs that derive one of ``fields`` (the jobs of the column derivations
          followed), jobs that write a dataset-level one from ``dataset_id`` or an affected
          dataset, and jobs that read ``dataset_id`` and write nothing;
        - ``owners``: per affected dataset;
        - ``truncated`` when the depth or the limit cut anything off."""
        ...

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        """(dataset ids ordered by id after the cursor id ``after``, total count matching)."""
        ...

    def job_flows(self, job_id: str) -> list[Flow]:
        """The column derivations the job last reported (its outputs' column lineage), ordered
        by source dataset id and field, then target dataset id and field."""
        ...

    # -- decision log ---------------------------------------------------------------------
    def log_decision(self, decision: DecisionRecord) -> None: ...

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None) -> list[DecisionRecord]:
        """Newest first."""
        ...

    # -- erasure workflow -------------------------------------------------------------------
    def classification_holders(self, classifications: Sequence[str]
                               ) -> list[tuple[str, str, str, bool]]:
        """Every field holding one of ``classifications`` (the classification itself or a
        sub-one: "pii.email" matches "pii.email" and "pii.email.work", not "pii"): (dataset id,
        field name, classification, direct). ``direct``: classified on the field (tags facet or
        steward); otherwise inherited along column lineage downstream of such a field, by the
        same rules as ``inherited_classifications`` (not through masking or steward-declassified
        derivations), at any depth, cycle-safe, in ONE backend query. A field both direct and
        inherited appears once per classification, as direct. Sorted."""
        ...

    def downstream_dataset_edges(self, dataset_ids: Sequence[str]
                                 ) -> list[tuple[str, str, str]]:
        """(upstream dataset id, job id, downstream dataset id) for every Dataset→Job→Dataset
        step reachable downstream from any of ``dataset_ids``, at any depth, in ONE query.
        Sorted, no duplicates."""
        ...

    def create_erasure(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]) -> None:
        """Store a new erasure request document (keys the store reads: "id", "version",
        "status", "receivedAt"; the rest is opaque JSON) with its first audit entries, in one
        transaction. Raise ``StoreError`` if the id exists."""
        ...

    def update_erasure(self, doc: dict[str, Any], expected_version: int,
                       audit: Sequence[dict[str, Any]]) -> bool:
        """Compare-and-set: replace the document only if the stored one's "version" is
        ``expected_version`` and append ``audit`` in the same transaction; ``False`` (nothing
        written) if another writer got there first or the id is unknown. An audit "seq" that
        already exists raises ``StoreError`` and writes nothing."""
        ...

    def erasure(self, request_id: str) -> dict[str, Any] | None: ...

    def erasures(self, statuses: Sequence[str] | None = None, first: int = 100
                 ) -> list[dict[str, Any]]:
        """Oldest received first; only those in ``statuses`` when given."""
        ...

    def erasure_audit(self, request_id: str) -> list[dict[str, Any]]:
        """The request's audit entries in "seq" order (each entry is a JSON dict with an int
        "seq" key unique per request). Append-only: the store offers no way to change or
        delete an entry (embedded: SQLite triggers that RAISE(ABORT) on UPDATE/DELETE)."""
        ...

    # -- steward edits (each its own transaction) ------------------------------------------
    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        """Replace the steward-set classifications of a field (tag-derived ones stay)."""
        ...

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None: ...

    def set_retention(self, dataset_id: str, days: int | None) -> None: ...

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        """A steward says this derivation removes the source's classifications."""
        ...

    # -- auth -----------------------------------------------------------------------------
    def add_token(self, token_hash: str, name: str, role: str) -> None: ...

    def token_role(self, token_hash: str) -> str | None: ...

    # -- lifecycle ------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise ``StoreError`` if the backend cannot answer."""
        ...

    def close(self) -> None: ...


def open_store(kind: str, **options: Any) -> Store:
    """``embedded`` (options: ``path``) or ``neo4j`` (``uri``, ``user``, ``password``,
    ``database``)."""
    if kind == "embedded":
        from headwater.catalog.embedded_store import EmbeddedStore

        return EmbeddedStore(options["path"])
    if kind == "neo4j":
        from headwater.catalog.neo4j_store import Neo4jStore

        return Neo4jStore(
            options["uri"],
            user=options.get("user"),
            password=options.get("password"),
            database=options.get("database"),
        )
    raise ValueError(f"unknown store {kind!r}: choose 'embedded' or 'neo4j'")
