"""The root Query and Mutation types: each field delegates to its area's module. The order of
the fields is the order of the published schema."""

from __future__ import annotations

import strawberry

from headwater.api.graphql import erasure as erasures
from headwater.api.graphql import impact as impacts
from headwater.api.graphql import lineage as graphs
from headwater.api.graphql import pages
from headwater.api.graphql import runs as browse
from headwater.api.graphql import search as searching
from headwater.api.graphql import stewardship as edits
from headwater.api.graphql.catalog import Dataset, Job, Run
from headwater.api.graphql.context import Info, page_size
from headwater.api.graphql.decisions import GateDecision
from headwater.api.graphql.pages import PageInfo
from headwater.catalog import search as catalog_search


@strawberry.type
class DatasetEdge:
    node: Dataset
    cursor: str


@strawberry.type
class DatasetConnection:
    edges: list[DatasetEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class SearchEdge:
    node: searching.SearchHit
    cursor: str


@strawberry.type
class SearchConnection:
    edges: list[SearchEdge]
    page_info: PageInfo
    total_count: int


_cursor = pages.encode
_after = pages.decode


async def gate_decisions(info: Info, first: int = 50, run_id: strawberry.ID | None = None,
                         job_id: strawberry.ID | None = None, decision: str | None = None,
                         principal: str | None = None) -> list[GateDecision]:
    rows = await info.context.call(info.context.services.gate.decisions, page_size(first),
                                   str(run_id) if run_id else None,
                                   str(job_id) if job_id else None, decision, principal)
    return [GateDecision.of(d) for d in rows]


async def namespaces(info: Info) -> list[str]:
    return await info.context.call(info.context.catalog.namespaces)


async def datasets(info: Info, namespace: str | None = None, search: str | None = None,
                   classification: str | None = None, first: int = 50,
                   after: str | None = None) -> DatasetConnection:
    first = page_size(first)
    ids, total = await info.context.call(info.context.catalog.datasets_page, namespace, search,
                                         classification, first + 1, _after(after))
    page = [d for d in await info.context.datasets.load_many(ids[:first]) if d is not None]
    edges = [DatasetEdge(node=Dataset.of(d), cursor=_cursor(d.id)) for d in page]
    return DatasetConnection(
        edges=edges, total_count=total,
        page_info=PageInfo(has_next_page=len(ids) > first,
                           end_cursor=edges[-1].cursor if edges else None),
    )


async def search(info: Info, query: str, types: list[searching.SearchType] | None = None,
                 namespace: str | None = None, first: int = 20, after: str | None = None
                 ) -> SearchConnection:
    """Datasets, fields and jobs matching ``query`` (every word, the last as a prefix), best
    first: exact name, name prefix, word in name, field, tag/owner/classification, description.
    At most 100 a page, 1000 deep."""
    page = await searching.hits(info, query, types, namespace, first, after)
    edges = [SearchEdge(node=searching.SearchHit.of(h),
                        cursor=catalog_search.encode_cursor(page.offset + i))
             for i, h in enumerate(page.hits)]
    return SearchConnection(
        edges=edges, total_count=page.total,
        page_info=PageInfo(has_next_page=page.offset + len(edges) < min(
                               page.total, catalog_search.MAX_OFFSET + 1) and len(edges) > 0,
                           end_cursor=edges[-1].cursor if edges else None))


async def dataset(info: Info, namespace: str, name: str) -> Dataset | None:
    record = await info.context.call(info.context.catalog.dataset, namespace, name)
    return Dataset.of(record) if record else None


async def job(info: Info, namespace: str, name: str) -> Job | None:
    record = await info.context.call(info.context.catalog.job, namespace, name)
    return Job.of(record) if record else None


async def run(info: Info, id: strawberry.ID) -> Run | None:
    record = await info.context.call(info.context.catalog.run, str(id))
    return Run.of(record) if record else None


@strawberry.type
class Query:
    gate_decisions = strawberry.field(resolver=gate_decisions)
    namespaces = strawberry.field(resolver=namespaces)
    impact_analysis = strawberry.field(resolver=impacts.impact_analysis)
    datasets = strawberry.field(resolver=datasets)
    lineage = strawberry.field(resolver=graphs.lineage)
    column_lineage = strawberry.field(resolver=graphs.column_lineage)
    erasure_request = strawberry.field(resolver=erasures.erasure_request)
    dataset = strawberry.field(resolver=dataset)
    job = strawberry.field(resolver=job)
    run = strawberry.field(resolver=run)
    jobs = strawberry.field(resolver=browse.jobs, description="Jobs by id; filter by namespace"
                            " or a part of the name.")
    runs = strawberry.field(resolver=browse.runs, description="Runs newest first (by start, "
                            "else first event); filter by job, state, time and parent run.")
    search = strawberry.field(resolver=search)


@strawberry.type
class Mutation:
    file_erasure_request = strawberry.mutation(resolver=erasures.file_erasure_request)
    classify_field = strawberry.mutation(resolver=edits.classify_field)
    tag_dataset = strawberry.mutation(resolver=edits.tag_dataset)
    untag_dataset = strawberry.mutation(resolver=edits.untag_dataset)
    set_retention = strawberry.mutation(resolver=edits.set_retention)
    declassify_derivation = strawberry.mutation(
        resolver=edits.declassify_derivation,
        description="Declare that a derivation removes the source field's classifications (it "
                    "anonymises), or undo that with declassifies: false.")
