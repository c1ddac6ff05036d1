"""Browsing jobs and runs: ``jobs`` and ``runs`` as cursor pages, and ``Run.children``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from headwater.api.graphql.catalog import Job, Run, RunState
from headwater.api.graphql.context import Info, page_size
from headwater.api.graphql.pages import PageInfo, decode, decode_pair, encode
from headwater.catalog.attempts import Attempt
from headwater.catalog.errors import Invalid
from headwater.catalog.ids import job_id
from headwater.catalog.model import RunRecord
from headwater.catalog.rules import utc_text


@strawberry.type
class JobEdge:
    node: Job
    cursor: str


@strawberry.type
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class RunEdge:
    node: Run
    cursor: str


@strawberry.type
class RunConnection:
    edges: list[RunEdge]
    page_info: PageInfo
    total_count: int


async def jobs(info: Info, namespace: str | None = None, search: str | None = None,
               first: int = 50, after: str | None = None) -> JobConnection:
    first = page_size(first)
    ids, total = await info.context.call(info.context.catalog.jobs_page, namespace, search,
                                         first + 1, decode(after))
    page = [j for j in await info.context.jobs.load_many(ids[:first]) if j is not None]
    edges = [JobEdge(node=Job.of(j), cursor=encode(j.id)) for j in page]
    return JobConnection(edges=edges, total_count=total, page_info=PageInfo(
        has_next_page=len(ids) > first, end_cursor=edges[-1].cursor if edges else None))


async def run_page(info: Info, job: str | None, state: RunState | None,
                   since: datetime | None, until: datetime | None, parent: str | None,
                   first: int, after: str | None) -> RunConnection:
    first = page_size(first)
    catalog = info.context.catalog
    attempts = any(_selects(f.selections, ("edges", "node", "attempts"))
                   for f in info.selected_fields if isinstance(f, SelectedField))

    def read() -> tuple[list[RunRecord], int, dict[str, list[Attempt]]]:
        # The page and, when asked for, its runs' attempts in one trip to the read threads:
        # each trip waits its turn for a thread, which on a busy server is most of a page.
        rows, total = catalog.runs_page(
            job, state.value if state else None, utc_text(since) if since else None,
            utc_text(until) if until else None, parent, first + 1, decode_pair(after))
        found = catalog.attempts([r.id for r in rows[:first]]) if attempts and rows else {}
        return rows, total, found

    rows, total, found = await info.context.call(read)
    for r in rows:  # what `parent` and a job's latest run ask for again is already here
        info.context.runs.prime(r.id, r)
    if attempts:
        for r in rows[:first]:
            info.context.attempts.prime(r.id, found.get(r.id, []))
    edges = [RunEdge(node=Run.of(r), cursor=encode([r.sort_time, r.id])) for r in rows[:first]]
    return RunConnection(edges=edges, total_count=total, page_info=PageInfo(
        has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None))


def _selects(fields: list[Selection], path: tuple[str, ...]) -> bool:
    """Whether the query asks for ``path`` under these fields (a fragment: assume it does)."""
    for f in fields:
        if not isinstance(f, SelectedField):
            return True
        if f.name == path[0] and (len(path) == 1 or _selects(f.selections, path[1:])):
            return True
    return False


async def runs(info: Info, job_namespace: str | None = None, job_name: str | None = None,
               state: RunState | None = None, since: datetime | None = None,
               until: datetime | None = None, parent_run_id: strawberry.ID | None = None,
               first: int = 50, after: str | None = None) -> RunConnection:
    if (job_namespace is None) != (job_name is None):
        raise Invalid.one("give both jobNamespace and jobName, or neither")
    job = job_id(job_namespace, job_name) if job_namespace is not None and job_name is not None else None
    return await run_page(info, job, state, since, until,
                          str(parent_run_id) if parent_run_id else None, first, after)
