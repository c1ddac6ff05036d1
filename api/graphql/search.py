"""Catalog search over GraphQL: one ranked list of datasets, fields and jobs."""

from __future__ import annotations

from enum import Enum

import strawberry

from headwater.api.graphql.context import Info
from headwater.catalog import search as searching


@strawberry.enum
class SearchType(Enum):
    DATASET = "DATASET"
    FIELD = "FIELD"
    JOB = "JOB"


@strawberry.type(description="One catalog search hit. matched: what matched (name, field, tag, "
                 "owner, classification, description, text); highlight: that text, "
                 "HTML-escaped, each matching word in <mark>…</mark>; score: the rank tier "
                 "(6 exact name, 5 name prefix, 4 word in name, 3 field, 2 tag/owner/"
                 "classification, 1 description).")
class SearchHit:
    type: SearchType
    id: strawberry.ID
    namespace: str
    name: str
    field: str | None
    matched: str
    highlight: str
    score: float

    @classmethod
    def of(cls, h: searching.SearchHit) -> SearchHit:
        return cls(type=SearchType(h.type), id=strawberry.ID(h.id), namespace=h.namespace,
                   name=h.name, field=h.field, matched=h.matched, highlight=h.highlight,
                   score=h.score)


async def hits(info: Info, query: str, types: list[SearchType] | None, namespace: str | None,
               first: int, after: str | None) -> searching.SearchPage:
    return await info.context.call(info.context.catalog.search, query,
                                   [t.value for t in types] if types else None, namespace,
                                   first, after)
