"""Reading the catalog, as a service: what the API shows of datasets, jobs, runs, schema
history and quality. Bulk lookups take many ids and answer in one store call each, so callers
can batch (GraphQL DataLoaders); the rules of what is shown (a schema version's diff to the one
before, a dataset's quality status) are here, not in the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headwater.catalog import search
from headwater.catalog.attempts import Attempt, attempts
from headwater.catalog.model import (
    DatasetRecord,
    DecisionRecord,
    FieldRecord,
    JobRecord,
    QualityRecord,
    RunDataset,
    RunRecord,
    SchemaVersionRecord,
)
from headwater.catalog.search import SearchPage
from headwater.catalog.store import Store


@dataclass(frozen=True, slots=True)
class TypeChange:
    field: str
    old: str | None
    new: str | None


@dataclass(slots=True)
class SchemaDiff:
    added: list[str]
    removed: list[str]
    type_changed: list[TypeChange]


def schema_diff(old: list[FieldRecord], new: list[FieldRecord]) -> SchemaDiff:
    """Fields added, removed and retyped from ``old`` to ``new``, in schema order."""
    before = {f.name: f.type for f in old}
    after = {f.name: f.type for f in new}
    return SchemaDiff(
        added=[n for n in after if n not in before],
        removed=[n for n in before if n not in after],
        type_changed=[TypeChange(n, before[n], t)
                      for n, t in after.items() if n in before and before[n] != t],
    )


@dataclass(slots=True)
class SchemaHistoryEntry:
    version: SchemaVersionRecord
    diff: SchemaDiff | None  # to the version before; None for the first one


@dataclass(slots=True)
class QualitySummary:
    status: str  # "passing", "failing" or "unknown" (no results yet)
    failing: list[QualityRecord]
    latest: list[QualityRecord]  # the newest result of each assertion


def quality_summary(latest: list[QualityRecord]) -> QualitySummary:
    failing = [q for q in latest if not q.success]
    status = "unknown" if not latest else "failing" if failing else "passing"
    return QualitySummary(status, failing, latest)


class CatalogReading:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- one thing by name or id -----------------------------------------------------------
    def dataset(self, namespace: str, name: str) -> DatasetRecord | None:
        return self.store.dataset(namespace, name)

    def job(self, namespace: str, name: str) -> JobRecord | None:
        return self.store.job(namespace, name)

    def run(self, run_id: str) -> RunRecord | None:
        return self.store.run(run_id)

    def namespaces(self) -> list[str]:
        return self.store.namespaces()

    # -- bulk lookups: one store call for many ids -----------------------------------------
    def datasets_by_id(self, ids: Sequence[str]) -> list[DatasetRecord | None]:
        return self.store.datasets_by_id(ids)

    def jobs_by_id(self, ids: Sequence[str]) -> list[JobRecord | None]:
        return self.store.jobs_by_id(ids, facets=False)

    def fields(self, dataset_ids: Sequence[str]) -> dict[str, list[FieldRecord]]:
        return self.store.fields(dataset_ids)

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        return self.store.inherited_classifications(field_ids)

    def dataset_jobs(self, dataset_ids: Sequence[str]
                     ) -> dict[str, tuple[list[str], list[str]]]:
        return self.store.dataset_jobs(dataset_ids)

    def job_datasets(self, job_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self.store.job_datasets(job_ids)

    # -- lists -----------------------------------------------------------------------------
    def datasets_page(self, namespace: str | None, search: str | None,
                      classification: str | None, first: int, after: str | None
                      ) -> tuple[list[str], int]:
        return self.store.datasets_page(namespace, search, classification, first, after)

    def search(self, text: str, types: Sequence[str] | None, namespace: str | None,
               first: int, after: str | None) -> SearchPage:
        """One page of catalog search hits (``catalog.search``)."""
        return search.search(self.store, text, types, namespace, first, after)

    def runs(self, job_id: str, first: int = 20) -> list[RunRecord]:
        return self.store.runs(job_id, first)

    def runs_page(self, job_id: str | None, state: str | None, since: str | None,
                  until: str | None, parent_run_id: str | None, first: int,
                  after: tuple[str, str] | None, *, facets: bool = True,
                  transitions: bool = False) -> tuple[list[RunRecord], int]:
        return self.store.runs_page(job_id, state, since, until, parent_run_id, first, after,
                                    facets=facets, transitions=transitions)

    def jobs_page(self, namespace: str | None, search: str | None, first: int,
                  after: str | None) -> tuple[list[str], int]:
        return self.store.jobs_page(namespace, search, first, after)

    # -- runs in bulk: a page of runs costs one store call per kind of detail ---------------
    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord | None]:
        return self.store.runs_by_id(ids)

    def attempts(self, run_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        """Per run, its attempts oldest first (``catalog.attempts``); runs whose events left
        no transitions (none stored) are absent."""
        return {run: attempts(ts) for run, ts in self.store.run_transitions(run_ids).items()}

    @staticmethod
    def page_attempts(runs: Sequence[RunRecord]) -> dict[str, list[Attempt]]:
        """As ``attempts``, from runs read with ``runs_page(transitions=True)``."""
        return {r.id: attempts(r.transitions) for r in runs if r.transitions}

    def run_datasets(self, run_ids: Sequence[str]
                     ) -> dict[str, tuple[list[RunDataset], list[RunDataset]]]:
        return self.store.run_datasets(run_ids)

    def latest_decisions(self, run_ids: Sequence[str]) -> dict[str, DecisionRecord]:
        return self.store.latest_decisions(run_ids)

    def tags_owners(self, node_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        return self.store.tags_owners(node_ids)

    def schema_history(self, dataset_id: str, first: int = 20) -> list[SchemaHistoryEntry]:
        """The newest ``first`` schema versions, each with its diff to the one before."""
        # One extra version so the oldest returned one still gets its diff.
        rows = self.store.schema_versions(dataset_id, first + 1)
        return [SchemaHistoryEntry(v, schema_diff(rows[i + 1].fields, v.fields)
                                   if i + 1 < len(rows) else None)
                for i, v in enumerate(rows[:first])]

    def quality_results(self, dataset_id: str, first: int = 20, run_id: str | None = None,
                        field: str | None = None, failures_only: bool = False
                        ) -> list[QualityRecord]:
        return self.store.quality_results(dataset_id, first, run_id, field, failures_only)

    def quality_summary(self, dataset_id: str) -> QualitySummary:
        return quality_summary(self.store.latest_quality([dataset_id])[dataset_id])
