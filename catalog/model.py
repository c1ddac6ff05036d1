"""Plain dataclasses: what ingestion asks a store to write, and what a store reads back.

Times are ISO-8601 UTC strings with microseconds (``rules.utc_text``). The rules that act on
these records are in ``catalog.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.catalog.attempts import Transition

# ---------------------------------------------------------------- writes (from ingestion)


@dataclass(slots=True)
class FieldSpec:
    name: str
    type: str | None = None
    description: str | None = None


@dataclass(slots=True)
class QualityWrite:
    assertion: str
    success: bool
    field: str | None = None
    source: str = "openlineage"  # openlineage | great_expectations
    value: Any = None  # observed value, when known
    details: dict[str, Any] | None = None
    run_id: str | None = None  # when the result is not part of a run event but names its run
    # The check's own name, when the producer gives one (dbt-ol: the test's name, e.g.
    # ``not_null_orders_id``): two checks of one kind on one column are two results.
    name: str | None = None


@dataclass(slots=True)
class DatasetWrite:
    namespace: str
    name: str
    id: str
    role: str  # "input" | "output" | "dataset" (a DatasetEvent)
    facets: dict[str, Any] = field(default_factory=dict)  # every facet, unknown ones included
    io_facets: dict[str, Any] = field(default_factory=dict)  # inputFacets / outputFacets
    schema: list[FieldSpec] | None = None
    schema_fingerprint: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    field_classifications: list[tuple[str, str]] = field(default_factory=list)  # (field, class)
    owners: list[tuple[str, str | None]] = field(default_factory=list)  # (name, type)
    symlinks: list[tuple[str, str, str | None]] = field(default_factory=list)
    # The dataset ids its symlinks declare as other names of it (not a RENAME's old name):
    # events naming one of them are written as this dataset (catalog.aliases).
    aliases: list[str] = field(default_factory=list)
    lifecycle_state: str | None = None
    previous_id: str | None = None  # a RENAME's previousIdentifier, as a dataset id
    quality: list[QualityWrite] = field(default_factory=list)
    # The digest of what this describes of the dataset that is not per event (catalog.facts):
    # equal digests, equal writes. None: unknown, always written in full.
    facts: str | None = None


@dataclass(slots=True)
class ColumnEdge:
    source_id: str  # field ids
    target_id: str
    source_dataset: str  # dataset ids
    target_dataset: str
    source_field: str
    target_field: str
    type: str  # DIRECT | INDIRECT
    subtype: str  # IDENTITY, TRANSFORMATION, AGGREGATION, JOIN, FILTER, ... ('' if unknown)
    description: str | None = None
    masking: bool = False
    source_namespace: str = ""  # so a source dataset seen only in column lineage gets a node
    source_name: str = ""


@dataclass(slots=True)
class JobWrite:
    namespace: str
    name: str
    id: str
    facets: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    job_type: str | None = None
    processing_type: str | None = None
    integration: str | None = None
    sql: str | None = None
    tags: list[str] = field(default_factory=list)
    owners: list[tuple[str, str | None]] = field(default_factory=list)
    # The digest of the job's facts in this event, its datasets' facts and lineage included
    # (catalog.facts). None: unknown, always written in full.
    facts: str | None = None


@dataclass(slots=True)
class RunWrite:
    id: str
    job_id: str
    event_type: str | None
    state: str | None  # mapped from event_type, see rules.EVENT_TYPE_STATE
    facets: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    error_message: str | None = None
    nominal_start: str | None = None
    nominal_end: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EventWrite:
    """One validated OpenLineage event, normalised into what the store must write."""

    event_id: str  # digest of the canonical event: the idempotency key
    kind: str  # "run" | "dataset" | "job"
    event_time: str
    payload: bytes  # the event exactly as received (canonical JSON)
    job: JobWrite | None = None
    run: RunWrite | None = None
    inputs: list[DatasetWrite] = field(default_factory=list)
    outputs: list[DatasetWrite] = field(default_factory=list)
    datasets: list[DatasetWrite] = field(default_factory=list)  # DatasetEvent
    column_edges: list[ColumnEdge] = field(default_factory=list)

    def all_datasets(self) -> list[DatasetWrite]:
        return [*self.inputs, *self.outputs, *self.datasets]


@dataclass(frozen=True, slots=True)
class RunOfAnotherJob:
    """What a store answers, in place of new/duplicate, for an event it refused to write: the
    event's run id already names a run of another job (stored, or earlier in the batch)."""

    run_id: str
    job_id: str  # the job the run belongs to
    event_job_id: str  # the job the refused event named

    def message(self) -> str:
        return (f"run {self.run_id} is a run of {self.job_id}; this event names "
                f"{self.event_job_id}: a run id identifies one run of one job, so the event "
                "was not stored. Give this run its own runId")


# Per event written: new (True), a duplicate (False), or refused.
WriteResult = bool | RunOfAnotherJob


# ---------------------------------------------------------------- reads


@dataclass(slots=True)
class FieldRecord:
    name: str
    type: str | None = None
    description: str | None = None
    classifications: list[str] = field(default_factory=list)
    # Where the catalog learned of the column: "schema" (the latest schema facet lists it) or
    # "columnLineage" (only a column-lineage facet names it, as an output or an input field;
    # its type is then unknown). See docs/design.md, "Columns known from lineage".
    learned_from: str = "schema"


@dataclass(slots=True)
class DatasetRecord:
    id: str
    namespace: str
    name: str
    description: str | None
    tags: list[str]
    owners: list[str]
    retention_days: int | None
    lifecycle_state: str | None  # the latest lifecycleStateChange (by event time)
    updated_at: str | None
    facets: dict[str, Any] = field(default_factory=dict)
    lifecycle_at: str | None = None  # the event time of that change

    @property
    def dropped_at(self) -> str | None:
        """When the dataset was dropped, if its latest lifecycle change is a DROP."""
        return self.lifecycle_at if self.lifecycle_state == "DROP" else None


@dataclass(slots=True)
class SchemaVersionRecord:
    version: int
    created_at: str
    run_id: str | None
    fields: list[FieldRecord]


@dataclass(slots=True)
class QualityRecord:
    assertion: str
    success: bool
    field: str | None
    run_id: str | None
    observed_at: str
    source: str
    value: Any = None
    name: str | None = None  # the check's own name, when its producer gave one


@dataclass(slots=True)
class JobRecord:
    id: str
    namespace: str
    name: str
    description: str | None
    job_type: str | None
    sql: str | None
    updated_at: str | None
    facets: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunRecord:
    id: str
    job_id: str
    state: str
    started_at: str | None
    ended_at: str | None
    error_message: str | None
    parent_run_id: str | None
    nominal_start: str | None = None
    nominal_end: str | None = None
    facets: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    created_at: str | None = None  # the earliest event's time
    # Every state transition its events reported, unordered; None when not read (only
    # ``runs_page(transitions=True)`` reads them, in the same store trip as the page).
    transitions: list[Transition] | None = None

    @property
    def sort_time(self) -> str:
        """What run lists are ordered by (newest first, then by id): the start, else the
        earliest event."""
        return self.started_at or self.created_at or ""


@dataclass(slots=True)
class RunDataset:
    """A dataset a run read or wrote: the schema version current when it did, and the
    input/output facets the run reported for it (``outputStatistics``,
    ``dataQualityMetrics``, ...)."""

    dataset_id: str
    version: int | None
    facets: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class GraphNode:
    id: str
    type: str  # DATASET | JOB | FIELD
    namespace: str
    name: str
    field: str | None
    depth: int


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    transformation: str | None = None  # column edges: "DIRECT/IDENTITY", "INDIRECT/JOIN", ...


@dataclass(slots=True)
class Graph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool


@dataclass(slots=True)  # not frozen: 10,000 of them take 16 ms frozen, 2 ms not
class ReachedField:
    """A field downstream of a changed one: ``parent`` is the field before it on one shortest
    path from ``origin`` (the changed field), so paths can be rebuilt without another query."""

    origin: str
    id: str
    dataset_id: str
    field: str
    depth: int
    parent: str


@dataclass(slots=True)
class Downstream:
    """What an impact analysis reads from the store, in a fixed number of queries: ids and
    depths only (a report reads the names and owners of a page when that page is asked)."""

    fields: list[ReachedField]
    datasets: dict[str, int]  # id -> depth, every affected one
    jobs: dict[str, int]  # id -> depth of the nearest affected field or dataset it writes
    truncated: bool


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1 µs a flow, per decision
class Flow:
    """A column derivation a job performs (from its last reported column lineage). Datasets by
    id: the gate knows the names of the datasets it asks about, and keeps only flows between
    them."""

    source_dataset: str
    source_field: str
    target_dataset: str
    target_field: str
    transformation: str
    masking: bool


@dataclass(slots=True)
class ClassifiedFields:
    """What the gate reads of one dataset's fields: how many the catalog knows (as
    ``CatalogReader.fields`` lists them), and only those holding a classification, directly or
    inherited along column lineage, in that same order."""

    count: int = 0
    fields: list[FieldRecord] = field(default_factory=list)  # with their direct classifications
    inherited: dict[str, list[str]] = field(default_factory=dict)  # by field name, sorted


@dataclass(slots=True)
class JobFlows:
    """What the gate reads of a job's last reported column flows: how many, which dataset
    pairs they join, and in full only those that start from the fields asked about."""

    count: int
    datasets: set[tuple[str, str]]  # (source dataset id, target dataset id)
    flows: list[Flow]  # ordered as ``LineageReader.job_flows`` orders them


@dataclass(slots=True)
class DecisionRecord:
    """One gate decision, as the decision log keeps it."""

    id: str
    time: str
    principal: str
    job_id: str | None
    run_id: str | None
    decision: str
    reasons: list[dict[str, Any]]
    masks: list[dict[str, Any]]
    policy_revision: str
    engine: str
    input_digest: str


@dataclass(slots=True)
class DeadLetterWrite:
    """Something that could not be stored, to keep: the bytes received, why, and where."""
    payload: bytes
    reason: str
    errors: list[dict[str, str]]


@dataclass(slots=True)
class DeadLetter:
    id: str
    received_at: str
    reason: str
    errors: list[dict[str, str]]
    payload: bytes
