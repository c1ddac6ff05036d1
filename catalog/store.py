"""The storage interface as role protocols, one per concern; ``Store`` is their union.

A service asks for the narrowest role it needs (the gate reads lineage and writes the decision
log, the erasure workflow keeps erasure records, ...). Every backend implements all of them and
passes ``tests/conformance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from headwater.catalog.attempts import Transition
from headwater.catalog.model import (
    ClassifiedFields,
    DatasetRecord,
    DeadLetter,
    DeadLetterWrite,
    DecisionRecord,
    Downstream,
    EventWrite,
    FieldRecord,
    Flow,
    Graph,
    JobFlows,
    JobRecord,
    QualityRecord,
    RunDataset,
    RunRecord,
    SchemaVersionRecord,
    WriteResult,
)
from headwater.catalog.search import Searcher


@runtime_checkable
class EventWriter(Protocol):
    """The write path: OpenLineage events (and quality results) in, dead letters kept."""

    def write_events(self, events: Sequence[EventWrite]) -> list[WriteResult]:
        """Write a batch in ONE transaction; ``True`` per event that was new, ``False`` for a
        duplicate (same event id, already stored or earlier in the batch), ``RunOfAnotherJob``
        for an event refused because its run id is another job's run (``batching.admitted``
        decides). Either the batch's admitted events are committed durably when this returns,
        or it raises ``StoreError``."""
        ...

    def add_dead_letter(self, payload: bytes, reason: str, errors: list[dict[str, str]]) -> str:
        """One dead letter (``add_dead_letters`` of one); its id."""
        ...

    def add_dead_letters(self, letters: Sequence[DeadLetterWrite]) -> list[str]:
        """Keep a batch's dead letters in ONE transaction (a batch of many bad events is one
        commit, not one per event); their ids, in order."""
        ...


@runtime_checkable
class CatalogReader(Protocol):
    """Datasets, jobs, runs, schema versions, quality results and dead letters."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...
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

    def node_names(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Of ``ids`` (all of one ``kind``: "dataset", "job" or "field"), those that name a
        stored node, each with its ``(namespace, name[, field])``: datasets and jobs, and
        fields that take part in column lineage. One index lookup per id, in one query."""
        ...

    def alias_targets(self, dataset_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Of ``dataset_ids``, those declared another name of a dataset (``catalog.aliases``),
        each with that dataset's ``(namespace, name)``. One index lookup per id, one query."""
        ...

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
        """Newest first (``RunRecord.sort_time``, then id)."""
        ...

    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord | None]:
        """In the order asked."""
        ...

    def runs_page(self, job_id: str | None, state: str | None, since: str | None,
                  until: str | None, parent_run_id: str | None, first: int,
                  after: tuple[str, str] | None, *, facets: bool = True,
                  transitions: bool = False) -> tuple[list[RunRecord], int]:
        """(up to ``first`` runs newest first by (``sort_time``, id), both descending, strictly
        after the keyset ``after`` = (sort time, id); the total matching). Filters: the job,
        the state, ``since`` <= sort time < ``until``, the parent run. A page is an index range
        read (cost independent of how many runs the job has); runs added meanwhile never
        shift a later page. ``facets=False`` leaves each run's facets empty (not read);
        ``transitions=True`` fills each run's ``transitions`` (as ``run_transitions``, [] for
        none) with the page, so a page with its attempts is one read."""
        ...

    def run_transitions(self, run_ids: Sequence[str]) -> dict[str, list[Transition]]:
        """Per run, every state transition its events reported (unordered); runs with none
        are absent."""
        ...

    def run_datasets(self, run_ids: Sequence[str]
                     ) -> dict[str, tuple[list[RunDataset], list[RunDataset]]]:
        """Per run: (datasets read, datasets written), by dataset id, each with the schema
        version of that time and the run's input/output facets for it."""
        ...

    def jobs_page(self, namespace: str | None, search: str | None, first: int,
                  after: str | None) -> tuple[list[str], int]:
        """(job ids ordered by id after the cursor id ``after``, total count matching);
        ``search`` matches a part of the name, ignoring case."""
        ...

    def tags_owners(self, node_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per job or dataset id: (tags, owners), sorted; unknown ids get empty lists."""
        ...

    def event_count(self) -> int: ...

    def namespaces(self) -> list[str]: ...

    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        """(dataset ids ordered by id after the cursor id ``after``, total count matching)."""
        ...


@runtime_checkable
class LineageReader(Protocol):
    """Traversals over dataset and column lineage, each in a fixed number of queries."""

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
        number of queries whatever the graph's size, as ids and depths (no names, no owners:
        a report reads those for the page it shows):

        - ``fields``: every field (of a dataset that exists) derived from one of ``field_ids``
          through column lineage, per origin, with its shortest depth (at most ``depth`` hops)
          and a parent on such a path; at most ``limit``, nearest first, then by id (then by
          origin);
        - ``datasets``: the datasets of those fields, plus, at dataset level, datasets with no
          column lineage into them written by a job that reads ``dataset_id`` or an affected
          dataset (transitively; never through a dataset that has column lineage: its lineage
          says what it reads). Depth in dataset hops;
        - ``jobs``: jobs that derive one of ``fields`` (the jobs of the column derivations
          followed), jobs that write a dataset-level one from ``dataset_id`` or an affected
          dataset, and jobs that read ``dataset_id`` and write nothing; each with the depth of
          the nearest affected field or dataset it writes (1 for those that write nothing);
        - ``truncated`` when the depth or the limit cut anything off."""
        ...

    def job_flows(self, job_id: str) -> list[Flow]:
        """The column derivations the job last reported (its outputs' column lineage), ordered
        by source dataset id and field, then target dataset id and field."""
        ...

    def classified_fields(self, dataset_ids: Sequence[str]) -> dict[str, ClassifiedFields]:
        """Per dataset id (every one asked, unknown ones empty): how many fields ``fields``
        lists for it, and of those only the ones classified directly or inheriting a
        classification (by the rules of ``inherited_classifications``), with what they
        inherit. For the gate: a fixed number of backend queries, and the cost of the
        inheritance is that of the classified part of the datasets' upstream lineage, not of
        their width (the walk starts from the classified fields upstream, not from every
        field)."""
        ...

    def job_flows_from(self, job_id: str, field_ids: Sequence[str]) -> JobFlows:
        """Of the column derivations ``job_flows`` gives: how many, the (source, target)
        dataset pairs they join, and those whose source is one of ``field_ids``, in
        ``job_flows``'s order. A fixed number of backend queries; only the flows asked for
        are read in full."""
        ...

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


@runtime_checkable
class DecisionLog(Protocol):
    """Every gate decision, newest first."""

    def log_decision(self, decision: DecisionRecord) -> None: ...

    def decisions(self, first: int = 50, run_id: str | None = None,
                  job_id: str | None = None, decision: str | None = None,
                  principal: str | None = None) -> list[DecisionRecord]:
        """Newest first, each filter applied in the query (never to a page already read)."""
        ...

    def latest_decisions(self, run_ids: Sequence[str]) -> dict[str, DecisionRecord]:
        """Per run that asked the gate, its newest decision, in one query."""
        ...


@runtime_checkable
class ErasureRecords(Protocol):
    """Erasure request documents (compare-and-set) and their append-only audit."""

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


@runtime_checkable
class StewardEditor(Protocol):
    """A steward's edits, each its own transaction."""

    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        """Replace the steward-set classifications of a field (tag-derived ones stay)."""
        ...

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None: ...

    def set_retention(self, dataset_id: str, days: int | None) -> None: ...

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        """A steward says this derivation removes the source's classifications."""
        ...


@dataclass(frozen=True)
class TokenRecord:
    """What the store keeps of a token: never the token, and its hash stays in the store.
    Times are ``rules.utc_text`` strings."""

    name: str
    role: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None  # updated at most once a minute
    environment: str | None = None  # the only environment its gate calls may claim

    def usable(self, at: str) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


@runtime_checkable
class TokenStore(Protocol):
    """API tokens, kept by hash; names are unique."""

    def add_token(self, token_hash: str, name: str, role: str, expires_at: str | None = None,
                  environment: str | None = None) -> None:
        """``Conflict`` when a token already has ``name``."""
        ...

    def token_role(self, token_hash: str) -> str | None:
        """The role of the token if it is usable now (known, not revoked, not expired)."""
        ...

    def token(self, token_hash: str) -> TokenRecord | None: ...

    def tokens(self) -> list[TokenRecord]:
        """Every token, by name, revoked and expired ones included."""
        ...

    def revoke_token(self, name: str, at: str) -> bool:
        """Revoke the token named ``name`` (kept, listed as revoked); False when none is."""
        ...

    def token_used(self, token_hash: str, at: str) -> None: ...


@runtime_checkable
class Lifecycle(Protocol):
    """Opening, schema migrations, health and closing."""

    def schema_version(self) -> int:
        """The schema version the store's data is at (0: made before versioning)."""
        ...

    def migrate(self) -> list[str]:
        """Bring the stored schema up to the code's, step by step, each step in its own
        transaction; what was done, one line a step (empty when already current). Raises
        ``SchemaTooNew`` when the store is newer than this code."""
        ...
    def ping(self) -> None:
        """Raise ``StoreError`` if the backend cannot answer."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Store(EventWriter, CatalogReader, LineageReader, DecisionLog, ErasureRecords, StewardEditor,
            TokenStore, Searcher, Lifecycle, Protocol):
    """Everything a backend provides."""


def open_store(kind: str, *, migrate: bool = True, **options: Any) -> Store:
    """``embedded`` (options: ``path``, ``impact_in_memory``) or ``neo4j`` (``uri``, ``user``,
    ``password``, ``database``, ``impact_in_memory``). Brings the stored schema up to date
    unless ``migrate`` is false (only ``headwater migrate`` opens a store without, to report
    what it does)."""
    store: Store
    if kind == "embedded":
        from headwater.catalog.embedded import EmbeddedStore

        store = EmbeddedStore(options["path"])
        if options.get("impact_in_memory") is False:
            store.adjacency = "off"
    elif kind == "neo4j":
        from headwater.catalog.neo4j import Neo4jStore

        store = Neo4jStore(
            options["uri"],
            user=options.get("user"),
            password=options.get("password"),
            database=options.get("database"),
        )
        if options.get("impact_in_memory") is False:
            store.adjacency = "off"
    else:
        raise ValueError(f"unknown store {kind!r}: choose 'embedded' or 'neo4j'")
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
