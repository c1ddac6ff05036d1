"""A steward's edits over GraphQL; each a call to the stewardship service."""

from __future__ import annotations

import strawberry

from headwater.api.graphql.catalog import Dataset, Field
from headwater.api.graphql.context import Info


async def classify_field(info: Info, namespace: str, name: str, field: str,
                         classifications: list[str]) -> Field:
    info.context.require("steward")
    record = await info.context.services.stewardship.classify_field(namespace, name, field,
                                                                    classifications)
    return Field.of(record, namespace, name)


async def tag_dataset(info: Info, namespace: str, name: str, tags: list[str]) -> Dataset:
    info.context.require("steward")
    return Dataset.of(await info.context.services.stewardship.tag_dataset(namespace, name, tags))


async def untag_dataset(info: Info, namespace: str, name: str, tags: list[str]) -> Dataset:
    info.context.require("steward")
    return Dataset.of(await info.context.services.stewardship.untag_dataset(namespace, name,
                                                                            tags))


async def set_retention(info: Info, namespace: str, name: str, days: int) -> Dataset:
    info.context.require("steward")
    return Dataset.of(await info.context.services.stewardship.set_retention(namespace, name,
                                                                            days))


async def declassify_derivation(info: Info, source_field_id: strawberry.ID,
                                target_field_id: strawberry.ID,
                                declassifies: bool = True) -> bool:
    info.context.require("steward")
    await info.context.services.stewardship.declassify_derivation(
        str(source_field_id), str(target_field_id), declassifies)
    return True
