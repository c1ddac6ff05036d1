"""The per-request GraphQL context: the caller's role, the services, and DataLoaders.

Resolvers never query per item: lists of datasets/jobs/fields are resolved through DataLoaders,
which turn the N lookups of one GraphQL level into one service (and store) call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from headwater.api.auth import check_role
from headwater.api.services import Services
from headwater.catalog.errors import Invalid

MAX_PAGE = 500

V = TypeVar("V")


def page_size(first: int) -> int:
    """``first`` as asked, or an error naming the bounds."""
    if not 0 <= first <= MAX_PAGE:
        raise Invalid.one(f"first must be between 0 and {MAX_PAGE}")
    return first


def clamp(first: int) -> int:
    return max(0, min(first, MAX_PAGE))


class Context(BaseContext):
    def __init__(self, services: Services, role: str, principal: str = "anonymous",
                 suggestions: bool = False, limits: Any = None) -> None:
        super().__init__()
        self.services = services
        self.limits = limits  # api.graphql.cost.Limits; None: the defaults
        self.cost: int | None = None  # the query's estimated cost, once known
        # The result goes straight out as JSON (an HTTP response), so a heavy query's worker
        # process may hand its JSON over unread (headwater/query_process.py).
        self.raw_json = False
        self.catalog = services.catalog
        self.role = role
        self.principal = principal
        self.suggestions = suggestions
        catalog = services.catalog
        self.inherited = self._mapped_sparse(catalog.inherited_classifications)
        self.datasets = self._loader(catalog.datasets_by_id)
        self.jobs = self._loader(catalog.jobs_by_id)
        self.fields = self._mapped(catalog.fields)
        self.dataset_jobs = self._mapped(catalog.dataset_jobs)
        self.job_datasets = self._mapped(catalog.job_datasets)
        # Runs and what a page of them shows: one store call per kind of detail per level.
        self.runs = self._loader(catalog.runs_by_id)
        self.attempts = self._mapped_sparse(catalog.attempts)
        self.run_datasets = self._mapped(catalog.run_datasets)
        self.decisions = self._optional(catalog.latest_decisions)
        self.tags_owners = self._mapped(catalog.tags_owners)

    def release(self) -> None:
        """Drop what the DataLoaders hold once the result is built. The context sits in
        reference cycles (execution context, extensions, futures) that only a full collection
        frees, and the server runs those rarely (``api.app.GC_THRESHOLDS``): a list of 500
        datasets kept ~12 MB of records alive per query, and the server grew by gigabytes."""
        for loader in (self.inherited, self.datasets, self.jobs, self.fields,
                       self.dataset_jobs, self.job_datasets):
            loader.clear_all()
            loader.batch = None

    async def call(self, fn: Callable[..., V], *args: Any) -> V:
        """A (blocking) service call, off the event loop, on the reads' own threads."""
        return await self.services.bulkheads.read(fn, *args)

    def require(self, role: str) -> None:
        check_role(self.role, role)

    def _loader(self, fn: Callable[[Sequence[str]], list[V]]) -> DataLoader[str, V]:
        async def load(keys: list[str]) -> list[V]:
            return await self.call(fn, keys)

        return DataLoader(load_fn=load)

    def _optional(self, fn: Callable[[Sequence[str]], dict[str, V]]
                  ) -> DataLoader[str, V | None]:
        async def load(keys: list[str]) -> list[V | None]:
            found = await self.call(fn, keys)
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    def _mapped_sparse(self, fn: Callable[[Sequence[str]], dict[str, list[V]]]
                       ) -> DataLoader[str, list[V]]:
        async def load(keys: list[str]) -> list[list[V]]:
            found = await self.call(fn, keys)
            return [found.get(k, []) for k in keys]

        return DataLoader(load_fn=load)

    def _mapped(self, fn: Callable[[Sequence[str]], dict[str, V]]) -> DataLoader[str, V]:
        async def load(keys: list[str]) -> list[V]:
            found = await self.call(fn, keys)
            return [found[k] for k in keys]

        return DataLoader(load_fn=load)


Info = strawberry.Info[Context, None]
