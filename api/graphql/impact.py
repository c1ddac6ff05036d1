"""Impact analysis over GraphQL: what breaks downstream if a dataset's schema changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from headwater.api.graphql.catalog import Job
from headwater.api.graphql.context import Info
from headwater.api.graphql.cost import First
from headwater.catalog.errors import Invalid
from headwater.lineage.impact import IMPACT_NODES, SchemaChange
from headwater.lineage.impact import PagedReport as Report

T = TypeVar("T")


@strawberry.input
class RenameInput:
    from_: str = strawberry.field(name="from")
    to: str


@strawberry.input
class TypeChangeInput:
    field: str
    to: str


@strawberry.input
class SchemaChangeInput:
    namespace: str
    name: str
    drop_fields: list[str] | None = None
    rename_fields: list[RenameInput] | None = None
    change_types: list[TypeChangeInput] | None = None
    drop_dataset: bool | None = False


@strawberry.type
class AffectedField:
    namespace: str
    name: str
    field: str
    depth: int
    path: list[strawberry.ID]


@strawberry.type
class AffectedDataset:
    namespace: str
    name: str
    depth: int
    owners: list[str]


PAGE = 100  # the contract's default page


def _offset(offset: int) -> int:
    if offset < 0:
        raise Invalid.one("offset must be 0 or more")
    return offset


async def _page(info: Info, rows: Callable[[int, int], list[T]], first: int, offset: int
                ) -> list[T]:
    """A page of one of the report's lists: its rows read from the store, off the event loop
    (nothing to read past the end)."""
    return await info.context.call(rows, first, _offset(offset))


@strawberry.type
class ImpactTotals:
    fields: int
    datasets: int
    jobs: int
    checks: int


@strawberry.type
class AffectedCheck:
    namespace: str
    name: str
    field: str | None
    assertion: str
    source: str
    last_success: bool | None
    check_name: str | None = strawberry.field(default=None, description=(
        "The check's own name, when its producer gives one (a dbt test's name)."))


@strawberry.type
class ImpactReport:
    """The report computed once per query, as ids and depths; each list answers a page of its
    full order, nearest first (depth, then id), so paging never reorders and the totals say
    how far it goes. The rows of a page (names, paths, owners) are read for that page alone."""

    report: strawberry.Private[Report]
    breaking: bool
    findings: list[str]

    @strawberry.field
    def totals(self) -> ImpactTotals:
        fields, datasets, jobs, checks = self.report.totals()
        return ImpactTotals(fields=fields, datasets=datasets, jobs=jobs, checks=checks)

    @strawberry.field(extensions=[First(PAGE, IMPACT_NODES)])
    async def affected_fields(self, info: Info, first: int = PAGE, offset: int = 0
                              ) -> list[AffectedField]:
        rows = await _page(info, self.report.fields, first, offset)
        # Mapped field by field, so the service's attribute names are not GraphQL contract.
        return [AffectedField(namespace=f.namespace, name=f.name, field=f.field, depth=f.depth,
                              path=f.path)  # type: ignore[arg-type]
                for f in rows]

    @strawberry.field(extensions=[First(PAGE, IMPACT_NODES)])
    async def affected_datasets(self, info: Info, first: int = PAGE, offset: int = 0
                                ) -> list[AffectedDataset]:
        rows = await _page(info, self.report.datasets, first, offset)
        return [AffectedDataset(namespace=d.namespace, name=d.name, depth=d.depth, owners=d.owners)
                for d in rows]

    @strawberry.field(extensions=[First(PAGE, IMPACT_NODES)])
    async def affected_jobs(self, info: Info, first: int = PAGE, offset: int = 0) -> list[Job]:
        ids = self.report.jobs(first, _offset(offset))
        if not ids:
            return []
        return [Job.of(j) for j in await info.context.call(info.context.services.lineage.jobs,
                                                           ids)]

    @strawberry.field(extensions=[First(PAGE, IMPACT_NODES)])
    def affected_checks(self, first: int = PAGE, offset: int = 0) -> list[AffectedCheck]:
        return [AffectedCheck(namespace=c.namespace, name=c.name, field=c.field,
                              assertion=c.assertion, source=c.source,
                              last_success=c.last_success, check_name=c.check_name)
                for c in self.report.checks(first, _offset(offset))]


async def impact_analysis(info: Info, change: SchemaChangeInput) -> ImpactReport:
    spec = SchemaChange(
        change.namespace, change.name, list(change.drop_fields or []),
        [(r.from_, r.to) for r in change.rename_fields or []],
        [(t.field, t.to) for t in change.change_types or []], bool(change.drop_dataset))
    r = await info.context.call(info.context.services.lineage.impact, spec)
    return ImpactReport(report=r, breaking=r.breaking, findings=r.findings)
